"""Drives the rotator with the official openai package, as a user's code would.

Usage: openai_client.py BASE_URL PROXY_KEY
Prints one line per check and exits non-zero on the first failure.
"""
import sys

import openai


def main() -> int:
    base_url, proxy_key = sys.argv[1], sys.argv[2]
    client = openai.OpenAI(base_url=base_url, api_key=proxy_key, max_retries=0)

    completion = client.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "hello"}])
    text = completion.choices[0].message.content
    assert text, "empty completion"
    print(f"non-streaming ok: {text!r}")

    chunks = []
    stream = client.chat.completions.create(
        model="mock-model", messages=[{"role": "user", "content": "hello"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            chunks.append(chunk.choices[0].delta.content)
    assert len(chunks) >= 2, f"expected several streamed chunks, got {chunks}"
    print(f"streaming ok: {len(chunks)} chunks")

    models = client.models.list()
    print(f"models ok: {len(models.data)} models")

    bad = openai.OpenAI(base_url=base_url, api_key="wrong-key", max_retries=0)
    try:
        bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    except openai.AuthenticationError as error:
        print(f"bad key ok: {error.status_code} {error.message[:60]}")
    else:
        raise AssertionError("a wrong proxy key was accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
