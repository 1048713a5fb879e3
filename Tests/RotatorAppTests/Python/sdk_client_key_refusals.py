"""The official openai, anthropic and google-genai packages against a node's client-key refusals: each SDK raises its
own error type with a readable message for every refusal, and retries a 429 that carries Retry-After until it succeeds.

Usage: sdk_client_key_refusals.py PLAN_JSON
PLAN_JSON: {"sdks": {"openai": {"base": ..., "model": ...}, "anthropic": {...}, "gemini": {...}},
            "refusals": [{"name": "rpm", "key": "rk-...", "status": 429, "says": ["rpm"]}, ...],
            "retry_keys": {"openai": "rk-...", "anthropic": "rk-...", "gemini": "rk-..."}}
Each retry key allows one request at a time, and the upstream streams slowly: a stream in flight makes the next call a
429 until it ends.
"""
import json
import sys
import threading
import time

import anthropic
import openai
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from sdk_checks import ok

QUESTION = "Say hello."


class Timeline:
    """Each answer's status, Retry-After and arrival, and each request's departure (httpx event hooks)."""

    def __init__(self):
        self.events = []

    def request(self, request):
        self.events.append(("request", time.monotonic(), None, None))

    def response(self, response):
        self.events.append(("response", time.monotonic(), response.status_code, response.headers.get("retry-after")))

    def hooks(self):
        return {"request": [self.request], "response": [self.response]}

    def first_retry(self):
        """(Retry-After of the first 429, seconds from that 429 to the next request), or None."""
        for index, (kind, at, status, retry_after) in enumerate(self.events):
            if kind == "response" and status == 429:
                following = [event for event in self.events[index + 1:] if event[0] == "request"]
                if retry_after is None or not following:
                    return None
                return float(retry_after), following[0][1] - at
        return None


def openai_client(sdk, key, retries, timeline=None):
    http = openai.DefaultHttpxClient(event_hooks=timeline.hooks()) if timeline else None
    return openai.OpenAI(base_url=sdk["base"], api_key=key, max_retries=retries, timeout=30, http_client=http)


def anthropic_client(sdk, key, retries, timeline=None):
    http = anthropic.DefaultHttpxClient(event_hooks=timeline.hooks()) if timeline else None
    return anthropic.Anthropic(base_url=sdk["base"], api_key=key, max_retries=retries, timeout=30, http_client=http)


def gemini_client(sdk, key, attempts):
    retry = types.HttpRetryOptions(attempts=attempts, initial_delay=1.0, max_delay=2.0, http_status_codes=[429]) if attempts > 1 else None
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=sdk["base"], timeout=30_000, retry_options=retry))


def call(name, sdk, key, retries=0, timeline=None):
    """One whole answer with the SDK `name`; its text."""
    if name == "openai":
        answer = openai_client(sdk, key, retries, timeline).chat.completions.create(
            model=sdk["model"], messages=[{"role": "user", "content": QUESTION}], max_tokens=16)
        return answer.choices[0].message.content
    if name == "anthropic":
        answer = anthropic_client(sdk, key, retries, timeline).messages.create(
            model=sdk["model"], max_tokens=16, messages=[{"role": "user", "content": QUESTION}])
        return "".join(block.text for block in answer.content if block.type == "text")
    # The client is kept in a variable while it is used: google-genai closes its HTTP client when the Client object goes.
    client = gemini_client(sdk, key, retries + 1)
    answer = client.models.generate_content(model=sdk["model"], contents=QUESTION)
    return answer.text


def stream(name, sdk, key, started):
    """A streamed answer read to its end; `started` is set at its first piece."""
    if name == "openai":
        for _ in openai_client(sdk, key, 0).chat.completions.create(
                model=sdk["model"], messages=[{"role": "user", "content": QUESTION}], max_tokens=16, stream=True):
            started.set()
    elif name == "anthropic":
        with anthropic_client(sdk, key, 0).messages.stream(model=sdk["model"], max_tokens=16, messages=[{"role": "user", "content": QUESTION}]) as events:
            for _ in events.text_stream:
                started.set()
    else:
        client = gemini_client(sdk, key, 1)
        for _ in client.models.generate_content_stream(model=sdk["model"], contents=QUESTION):
            started.set()


EXPECTED = {
    "openai": {429: openai.RateLimitError, 401: openai.AuthenticationError, 403: openai.PermissionDeniedError},
    "anthropic": {429: anthropic.RateLimitError, 401: anthropic.AuthenticationError, 403: anthropic.PermissionDeniedError},
}


def check_refusal(name, sdk, refusal):
    label = f"{name} {refusal['name']}"
    try:
        text = call(name, sdk, refusal["key"])
    except Exception as error:  # noqa: BLE001 - the type is what is checked
        if name == "gemini":
            assert isinstance(error, genai_errors.ClientError), f"{label}: {type(error).__name__}: {error}"
            assert error.code == refusal["status"], f"{label}: code {error.code}, wanted {refusal['status']}: {error}"
            message = error.message or ""
        else:
            wanted = EXPECTED[name][refusal["status"]]
            assert isinstance(error, wanted), f"{label}: {type(error).__name__} ({getattr(error, 'status_code', '?')}), wanted {wanted.__name__}: {error}"
            assert error.status_code == refusal["status"], f"{label}: status {error.status_code}"
            message = str(error)
        lowered = message.lower()
        assert any(word in lowered for word in refusal["says"]), f"{label}: the message names none of {refusal['says']}: {message!r}"
        ok(label, f"{type(error).__name__}: {message[:200]}")
        return
    raise AssertionError(f"{label}: answered {text!r} instead of refusing")


def check_retry(name, sdk, key):
    """A slow stream holds the key's one slot; the next call meets 429 + Retry-After, waits, and is served."""
    started = threading.Event()
    holder = threading.Thread(target=stream, args=(name, sdk, key, started))
    holder.start()
    assert started.wait(20), f"{name} retry: the slow stream did not start"
    timeline = Timeline()
    begun = time.monotonic()
    text = call(name, sdk, key, retries=4, timeline=timeline if name != "gemini" else None)
    elapsed = time.monotonic() - begun
    holder.join(30)
    assert text, f"{name} retry: no answer text"
    if name == "gemini":
        # google-genai retries on its own backoff (it does not read Retry-After): served after at least one wait.
        assert elapsed >= 0.5, f"gemini retry: served in {elapsed:.2f} s, while the slot was held"
        ok(f"{name} retry", f"served after {elapsed:.2f} s of retries")
        return
    first = timeline.first_retry()
    assert first is not None, f"{name} retry: no 429 with Retry-After was retried: {timeline.events}"
    retry_after, waited = first
    # The SDK sleeps what Retry-After says (it honours up to 60 s), give or take the scheduler.
    assert waited >= retry_after * 0.9 - 0.05, f"{name} retry: waited {waited:.2f} s for Retry-After {retry_after}"
    assert waited <= retry_after + 3, f"{name} retry: waited {waited:.2f} s for Retry-After {retry_after}"
    refused = sum(1 for event in timeline.events if event[0] == "response" and event[2] == 429)
    ok(f"{name} retry", f"Retry-After {retry_after:g} s, waited {waited:.2f} s, {refused} refusal(s), served after {elapsed:.2f} s")


def main() -> int:
    with open(sys.argv[1]) as file:
        plan = json.load(file)
    for name, sdk in plan["sdks"].items():
        for refusal in plan["refusals"]:
            check_refusal(name, sdk, refusal)
    for name, sdk in plan["sdks"].items():
        check_retry(name, sdk, plan["retry_keys"][name])
    print("checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
