"""The official openai package against an OpenAI-shaped endpoint: Chat Completions and Responses, streamed and
not, a tool call each way, and structured output (the SDK's parse helpers, a plain JSON schema, streamed).

Usage: sdk_openai.py BASE_URL API_KEY [MODEL [APIS]]   (BASE_URL ends in /v1; APIS: "chat", "responses" or both,
comma-separated, plus "json_mode" for JSON mode without a schema, which an Anthropic upstream cannot give; the
default is "chat,responses,json_mode": a converting config serves one of the two)
"""
import sys

import openai

from sdk_checks import CITY_SCHEMA, WEATHER_TOOL_SCHEMA, City, ok, require_arguments, require_city, require_json_object, require_text

CHAT_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Current weather", "parameters": WEATHER_TOOL_SCHEMA}}
RESPONSES_TOOL = {"type": "function", "name": "get_weather", "description": "Current weather", "parameters": WEATHER_TOOL_SCHEMA}


def main() -> int:
    base_url, api_key = sys.argv[1], sys.argv[2]
    model = sys.argv[3] if len(sys.argv) > 3 else "gpt-4o"
    apis = (sys.argv[4] if len(sys.argv) > 4 else "chat,responses,json_mode").split(",")
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
    question = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
    describe = [{"role": "user", "content": "Describe Paris as JSON."}]

    if "chat" in apis:
        completion = client.chat.completions.create(model=model, messages=question, temperature=0.2, max_tokens=64)
        require_text("chat", completion.choices[0].message.content)
        assert completion.choices[0].finish_reason == "stop", completion.choices[0].finish_reason
        ok("chat", repr(completion.choices[0].message.content))

        pieces = []
        usage = None
        for chunk in client.chat.completions.create(model=model, messages=question, stream=True, stream_options={"include_usage": True}):
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
        require_text("chat stream", "".join(pieces))
        assert usage is not None and usage.total_tokens > 0, f"chat stream: no usage chunk ({usage})"
        ok("chat stream", f"{len(pieces)} pieces, {usage.total_tokens} tokens")

        weather = [{"role": "user", "content": "What is the weather in Paris?"}]
        called = client.chat.completions.create(model=model, messages=weather, tools=[CHAT_TOOL])
        choice = called.choices[0]
        assert choice.finish_reason == "tool_calls", f"chat tool: finish_reason {choice.finish_reason}"
        call = choice.message.tool_calls[0]
        assert call.function.name == "get_weather", call.function.name
        require_arguments("chat tool", call.function.arguments)
        ok("chat tool call", call.function.arguments)

        followup = weather + [
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
        ]
        answered = client.chat.completions.create(model=model, messages=followup, tools=[CHAT_TOOL])
        require_text("chat tool result", answered.choices[0].message.content)
        ok("chat tool result answered")

        names, arguments = [], []
        for chunk in client.chat.completions.create(model=model, messages=weather, tools=[CHAT_TOOL], stream=True):
            for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                if delta.function and delta.function.name:
                    names.append(delta.function.name)
                if delta.function and delta.function.arguments:
                    arguments.append(delta.function.arguments)
        assert names == ["get_weather"], f"chat tool stream: names {names}"
        require_arguments("chat tool stream", "".join(arguments))
        ok("chat tool call stream", f"{len(arguments)} argument pieces")

        parsed = client.chat.completions.parse(model=model, messages=describe, response_format=City)
        city = require_city("chat parse", parsed.choices[0].message.parsed)
        ok("chat structured output (parse)", city.model_dump_json())

        schema_format = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY_SCHEMA}}
        plain = client.chat.completions.create(model=model, messages=describe, response_format=schema_format)
        require_city("chat json_schema", plain.choices[0].message.content)
        pieces = [chunk.choices[0].delta.content
                  for chunk in client.chat.completions.create(model=model, messages=describe, response_format=schema_format, stream=True)
                  if chunk.choices and chunk.choices[0].delta.content]
        require_city("chat json_schema stream", "".join(pieces))
        ok("chat structured output (json_schema, streamed too)", f"{len(pieces)} pieces")

        if "json_mode" in apis:
            answered = client.chat.completions.create(model=model, messages=describe, response_format={"type": "json_object"})
            require_json_object("chat json_object", answered.choices[0].message.content)
            ok("chat JSON mode")

    if "responses" in apis:
        response = client.responses.create(model=model, input="Say hello.", instructions="Be brief.", max_output_tokens=64)
        require_text("responses", response.output_text)
        assert response.status == "completed", response.status
        ok("responses", repr(response.output_text))

        deltas, completed = [], None
        for event in client.responses.create(model=model, input="Say hello.", stream=True):
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.completed":
                completed = event.response
        require_text("responses stream", "".join(deltas))
        assert completed is not None and completed.output_text == "".join(deltas), "responses stream: no matching response.completed"
        ok("responses stream", f"{len(deltas)} deltas")

        tool_response = client.responses.create(model=model, input="What is the weather in Paris?", tools=[RESPONSES_TOOL])
        calls = [item for item in tool_response.output if item.type == "function_call"]
        assert calls and calls[0].name == "get_weather", f"responses tool: {tool_response.output}"
        require_arguments("responses tool", calls[0].arguments)
        ok("responses tool call", calls[0].arguments)

        parsed = client.responses.parse(model=model, input="Describe Paris as JSON.", text_format=City)
        city = require_city("responses parse", parsed.output_parsed)
        ok("responses structured output (parse)", city.model_dump_json())

        text_format = {"format": {"type": "json_schema", "name": "city", "schema": CITY_SCHEMA, "strict": True}}
        deltas = [event.delta for event in client.responses.create(model=model, input="Describe Paris as JSON.", text=text_format, stream=True)
                  if event.type == "response.output_text.delta"]
        require_city("responses json_schema stream", "".join(deltas))
        ok("responses structured output (json_schema streamed)", f"{len(deltas)} deltas")

        if "json_mode" in apis:
            answered = client.responses.create(model=model, input="Describe Paris as JSON.", text={"format": {"type": "json_object"}})
            require_json_object("responses json_object", answered.output_text)
            ok("responses JSON mode")

    models = client.models.list()
    assert len(models.data) > 0, "no models"
    ok("models", f"{len(models.data)} models")
    print("all openai checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
