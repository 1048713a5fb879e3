"""Shared checks for the SDK scripts: one line per passed check, an AssertionError on the first failure."""
import json

WEATHER_TOOL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}


def ok(name: str, detail: str = "") -> None:
    print(f"ok {name}" + (f": {detail}" if detail else ""), flush=True)


def require_text(name: str, text) -> str:
    assert isinstance(text, str) and text.strip(), f"{name}: expected answer text, got {text!r}"
    return text


def require_arguments(name: str, arguments) -> dict:
    """Tool-call arguments as a dict with a 'city' string, whether the SDK gives JSON text or an object."""
    if isinstance(arguments, str):
        arguments = json.loads(arguments)
    assert isinstance(arguments, dict), f"{name}: arguments are not an object: {arguments!r}"
    assert isinstance(arguments.get("city"), str), f"{name}: arguments lack a 'city' string: {arguments!r}"
    return arguments
