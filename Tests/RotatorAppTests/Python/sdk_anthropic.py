"""The official anthropic package against an Anthropic-shaped endpoint: Messages streamed and not, tool use, and
structured output (`messages.parse` with a pydantic model, a plain `output_config.format` schema, streamed).

Usage: sdk_anthropic.py BASE_URL API_KEY [MODEL]   (BASE_URL without /v1)
"""
import sys

import anthropic

from sdk_checks import CITY_SCHEMA, WEATHER_TOOL_SCHEMA, City, ok, require_arguments, require_city, require_text

TOOL = {"name": "get_weather", "description": "Current weather", "input_schema": WEATHER_TOOL_SCHEMA}


def main() -> int:
    base_url, api_key = sys.argv[1], sys.argv[2]
    model = sys.argv[3] if len(sys.argv) > 3 else "claude-sonnet-4-5"
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
    question = [{"role": "user", "content": "Say hello."}]

    message = client.messages.create(model=model, max_tokens=64, system="Be brief.", messages=question)
    text = "".join(block.text for block in message.content if block.type == "text")
    require_text("messages", text)
    assert message.stop_reason == "end_turn", message.stop_reason
    assert message.usage.output_tokens > 0, message.usage
    ok("messages", repr(text))

    with client.messages.stream(model=model, max_tokens=64, messages=question) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    require_text("messages stream", "".join(pieces))
    assert final.stop_reason == "end_turn", final.stop_reason
    ok("messages stream", f"{len(pieces)} pieces, {final.usage.output_tokens} output tokens")

    events = [event.type for event in client.messages.create(model=model, max_tokens=64, messages=question, stream=True)]
    assert events[0] == "message_start" and events[-1] == "message_stop", events
    ok("messages raw events", " ".join(dict.fromkeys(events)))

    weather = [{"role": "user", "content": "What is the weather in Paris?"}]
    used = client.messages.create(model=model, max_tokens=64, messages=weather, tools=[TOOL])
    assert used.stop_reason == "tool_use", used.stop_reason
    call = next(block for block in used.content if block.type == "tool_use")
    assert call.name == "get_weather", call.name
    require_arguments("tool use", call.input)
    ok("tool use", str(call.input))

    followup = weather + [
        {"role": "assistant", "content": [block.model_dump() for block in used.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": '{"temp_c": 18}'}]},
    ]
    answered = client.messages.create(model=model, max_tokens=64, messages=followup, tools=[TOOL])
    require_text("tool result", "".join(block.text for block in answered.content if block.type == "text"))
    ok("tool result answered")

    with client.messages.stream(model=model, max_tokens=64, messages=weather, tools=[TOOL]) as stream:
        final = stream.get_final_message()
    call = next(block for block in final.content if block.type == "tool_use")
    assert call.name == "get_weather" and final.stop_reason == "tool_use", final
    require_arguments("tool use stream", call.input)
    ok("tool use stream", str(call.input))

    describe = [{"role": "user", "content": "Describe Paris as JSON."}]
    parsed = client.messages.parse(model=model, max_tokens=256, messages=describe, output_format=City)
    city = require_city("messages parse", parsed.parsed_output)
    ok("structured output (parse)", city.model_dump_json())

    output_config = {"format": {"type": "json_schema", "schema": CITY_SCHEMA}}
    plain = client.messages.create(model=model, max_tokens=256, messages=describe, output_config=output_config)
    require_city("output_config", "".join(block.text for block in plain.content if block.type == "text"))
    with client.messages.stream(model=model, max_tokens=256, messages=describe, output_config=output_config) as stream:
        pieces = list(stream.text_stream)
    require_city("output_config stream", "".join(pieces))
    ok("structured output (output_config, streamed too)", f"{len(pieces)} pieces")
    print("all anthropic checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
