"""The official google-genai package against a Gemini-shaped endpoint: generateContent, streamGenerateContent
(SSE), and a function call each way.

Usage: sdk_gemini.py BASE_URL API_KEY [MODEL]   (BASE_URL without /v1beta)
"""
import sys

from google import genai
from google.genai import types

from sdk_checks import ok, require_arguments, require_text

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]),
)


def main() -> int:
    base_url, api_key = sys.argv[1], sys.argv[2]
    model = sys.argv[3] if len(sys.argv) > 3 else "gemini-2.5-flash"
    client = genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=base_url, timeout=30_000))
    config = types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.2, max_output_tokens=64)

    response = client.models.generate_content(model=model, contents="Say hello.", config=config)
    require_text("generate", response.text)
    assert response.candidates[0].finish_reason == types.FinishReason.STOP, response.candidates[0].finish_reason
    assert response.usage_metadata and response.usage_metadata.total_token_count > 0, response.usage_metadata
    ok("generate", repr(response.text))

    pieces = [chunk.text for chunk in client.models.generate_content_stream(model=model, contents="Say hello.", config=config) if chunk.text]
    require_text("generate stream", "".join(pieces))
    ok("generate stream", f"{len(pieces)} pieces")

    tools = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    called = client.models.generate_content(model=model, contents="What is the weather in Paris?", config=tools)
    calls = called.function_calls or []
    assert calls and calls[0].name == "get_weather", f"function call: {called}"
    require_arguments("function call", calls[0].args)
    ok("function call", str(calls[0].args))

    history = [
        types.Content(role="user", parts=[types.Part(text="What is the weather in Paris?")]),
        types.Content(role="model", parts=[types.Part(function_call=calls[0])]),
        types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(name="get_weather", response={"temp_c": 18}))]),
    ]
    answered = client.models.generate_content(model=model, contents=history, config=tools)
    require_text("function response", answered.text)
    ok("function response answered")

    streamed = [call for chunk in client.models.generate_content_stream(model=model, contents="What is the weather in Paris?", config=tools)
                for call in (chunk.function_calls or [])]
    assert streamed and streamed[0].name == "get_weather", f"function call stream: {streamed}"
    require_arguments("function call stream", streamed[0].args)
    ok("function call stream", str(streamed[0].args))
    print("all gemini checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
