"""The official google-genai package against a Gemini-shaped endpoint: generateContent, streamGenerateContent
(SSE), a function call each way, and structured output (a pydantic `response_schema`, a plain
`response_json_schema`, streamed). The SDK's own default API version (`/v1` from google-genai 3.x).

Usage: sdk_gemini.py BASE_URL API_KEY [MODEL [OPTIONS]]   (BASE_URL without the version; OPTIONS "json_mode", the
default, adds JSON mode without a schema, which an Anthropic upstream cannot give)
"""
import sys

from google import genai
from google.genai import types

from sdk_checks import CITY_SCHEMA, City, ok, require_arguments, require_city, require_json_object, require_text

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]),
)


def main() -> int:
    base_url, api_key = sys.argv[1], sys.argv[2]
    model = sys.argv[3] if len(sys.argv) > 3 else "gemini-2.5-flash"
    options = (sys.argv[4] if len(sys.argv) > 4 else "json_mode").split(",")
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

    describe = "Describe Paris as JSON."
    typed = types.GenerateContentConfig(response_mime_type="application/json", response_schema=City)
    parsed = client.models.generate_content(model=model, contents=describe, config=typed)
    city = require_city("response_schema", parsed.parsed)
    ok("structured output (response_schema)", city.model_dump_json())

    plain = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=CITY_SCHEMA)
    require_city("response_json_schema", client.models.generate_content(model=model, contents=describe, config=plain).text)
    pieces = [chunk.text for chunk in client.models.generate_content_stream(model=model, contents=describe, config=typed) if chunk.text]
    require_city("response_schema stream", "".join(pieces))
    ok("structured output (response_json_schema, streamed too)", f"{len(pieces)} pieces")

    if "json_mode" in options:
        # Gemini's JSON mode needs no "json" in the prompt (OpenAI's does: the conversion must say it).
        json_mode = types.GenerateContentConfig(response_mime_type="application/json")
        require_json_object("JSON mode", client.models.generate_content(model=model, contents="Describe Paris.", config=json_mode).text)
        ok("JSON mode")
    print("all gemini checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
