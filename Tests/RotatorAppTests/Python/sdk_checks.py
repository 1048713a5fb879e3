"""Shared checks for the SDK scripts: one line per passed check, an AssertionError on the first failure."""
import json

from pydantic import BaseModel

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


class Location(BaseModel):
    latitude: float
    longitude: float


class City(BaseModel):
    """What the structured-output checks ask for, as the SDKs' parse helpers take it (a pydantic model; the nested
    one is a `$ref` into `$defs` in its JSON schema)."""

    name: str
    country: str
    population: int
    landmarks: list[str]
    location: Location


# The same shape as a plain JSON schema, the way a library sends it without the SDK's helper: every object closed
# and every member required, which OpenAI's strict mode, Anthropic and Gemini all take.
CITY_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "country": {"type": "string"},
        "population": {"type": "integer"},
        "landmarks": {"type": "array", "items": {"type": "string"}},
        "location": {
            "type": "object",
            "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}},
            "required": ["latitude", "longitude"],
            "additionalProperties": False,
        },
    },
    "required": ["name", "country", "population", "landmarks", "location"],
    "additionalProperties": False,
}


def require_city(name: str, value) -> City:
    """A City from JSON text (or an already parsed object): the answer is JSON and matches the schema."""
    assert value is not None, f"{name}: no structured answer"
    if isinstance(value, City):
        return value
    try:
        return City.model_validate_json(value) if isinstance(value, str) else City.model_validate(value)
    except Exception as error:
        raise AssertionError(f"{name}: not JSON matching the schema: {value!r} ({error})") from None


def require_json_object(name: str, text) -> dict:
    """JSON mode: the answer text parses as a JSON object."""
    try:
        parsed = json.loads(text)
    except Exception:
        raise AssertionError(f"{name}: not JSON: {text!r}") from None
    assert isinstance(parsed, dict), f"{name}: not a JSON object: {text!r}"
    return parsed
