"""What a client sends, before and after pydantic: the JSON document with hostile-input bounds,
the text rules for every string, the 4xx errors, and pydantic's ValidationError translated into
one RequestInvalid that names the field and what is allowed.

The models themselves are in server/schemas.py; ``validate(Model, body)`` is the one way a handler
turns a decoded body into one."""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Annotated, Any, Callable, TypeVar

from pydantic import AfterValidator, BaseModel, StringConstraints, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import ErrorDetails, PydanticCustomError, core_schema

from server.http_responses import ErrorBody

M = TypeVar("M", bound=BaseModel)
#: Deepest JSON nesting a body may have; the video request itself needs 3 (body, characters, item).
MAX_JSON_DEPTH = 32
#: Integers with more digits than this are never a valid value of any field; they stay undecoded.
MAX_INT_DIGITS = 20
#: Control characters refused in every string; free text may keep tab, newline and carriage return.
#: A job id in a path or query string, and a video's file name (the only names /api/video serves).
JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
VIDEO_NAME_PATTERN = r"^[A-Za-z0-9_.-]+\.mp4$"
_CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class RequestInvalid(Exception):
    """A field of a request is wrong; becomes a 4xx naming the field and what is allowed (an
    ErrorBody)."""

    def __init__(self, field: str, message: str, allowed: Any = None, status: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.allowed = allowed
        self.status = status

    def as_json(self) -> dict[str, Any]:
        allowed = {"allowed": self.allowed} if self.allowed is not None else {}
        return ErrorBody(error=f"{self.field}: {self.message}", field=self.field, status=self.status,
                         **allowed).to_json()


class NotFound(Exception):
    """Nothing at this address (an unknown job or video); becomes a 404 that keeps its reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for an error message, cut to ``limit`` characters (a hostile value can be huge)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


# -- the JSON document ----------------------------------------------------------------------------


class HugeInt:
    """A JSON integer too long to be any field's value, kept as its digits (never converted: a
    400-digit number must be a 400 naming its field, not an OverflowError somewhere later)."""

    def __init__(self, digits: str) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"a {len(self.digits.lstrip('-'))}-digit number"


def _parse_int(text: str) -> int | HugeInt:
    return HugeInt(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``raw`` nests arrays/objects deeper than ``limit``, found without recursion:
    strings are blanked, every other byte but brackets dropped, then innermost pairs peeled."""
    brackets = _JSON_STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        peeled = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if peeled == brackets:
            return False  # unbalanced: not JSON at all, json.loads says so
        brackets = peeled
    return bool(brackets)


def decode_json_body(raw: bytes) -> Any:
    """Bytes -> JSON value, or RequestInvalid("body") for anything that is not a sane JSON document:
    invalid UTF-8 or JSON, nesting deeper than MAX_JSON_DEPTH. Long integers become HugeInt."""
    too_deep = RequestInvalid("body", f"is nested deeper than {MAX_JSON_DEPTH} levels of arrays/objects")
    if json_depth_exceeds(raw):
        raise too_deep
    try:
        return json.loads(raw, parse_int=_parse_int)
    except RecursionError:
        raise too_deep from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalid("body", f"is not valid JSON ({exc})") from None


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages ("got number", not "got HugeInt")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, HugeInt)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


# -- text -----------------------------------------------------------------------------------------


def text_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why no file name or prompt can carry ``text``, or None: a lone surrogate (it can't be encoded
    as UTF-8), NUL and other control characters (tab/newline/CR allowed in ``multiline`` text)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"contains a lone surrogate (\\u{ord(text[exc.start]):04x} at character {exc.start}); "
            "send valid Unicode text"
        )
    bad = (_CONTROL_TEXT if multiline else _CONTROL_ANY).search(text)
    if bad is None:
        return None
    what = "a NUL byte" if bad.group() == "\x00" else f"a control character (\\x{ord(bad.group()):02x})"
    return f"contains {what} at character {bad.start()}; remove it{' (tab and newline are fine)' * multiline}"


def check_text(field: str, text: str, *, multiline: bool = False) -> str:
    """``text``, or RequestInvalid(field) saying what text_problem found (query and path values)."""
    problem = text_problem(text, multiline=multiline)
    if problem is not None:
        raise RequestInvalid(field, problem)
    return text


def refuse(reason: str) -> PydanticCustomError:
    """A validator's own sentence for the 400 (raise it): "must list at least one image when ..."."""
    return PydanticCustomError("refused", "{reason}", {"reason": reason})


def _one_line(text: str) -> str:
    problem = text_problem(text)
    if problem is not None:
        raise refuse(problem)
    return text


def _free_text(text: str) -> str:
    problem = text_problem(text, multiline=True)
    if problem is not None:
        raise refuse(problem)
    return text


#: A string field of one line (names, ids, paths): trimmed; no control characters. Its length
#: rules go on the field: ``Field(min_length=1, max_length=300)``.
Line = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_one_line)]
#: Free text (descriptions, narration): trimmed; tab and newline allowed, other controls refused.
Text = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_free_text)]


def enum_member(enum: type[Enum]) -> Callable[[Any], Any]:
    """Before an Enum field (strict models take members only): a string is matched trimmed and
    case-blind to the enum's values; a lone surrogate or a control character in it is refused as
    in every other string; anything else is left for the enum to refuse."""

    def to_member(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        key = _one_line(value).strip().lower()
        return enum(key) if key in {m.value for m in enum} else value

    return to_member


# -- JSON Schema, and pydantic's errors -> RequestInvalid -------------------------------------------


class EdgeJsonSchema(GenerateJsonSchema):
    """JSON Schema as a reader (and openapi-typescript) takes it best: a nullable scalar is
    ``{"type": ["integer", "null"], "minimum": 1, ...}``, its limits beside it, not an anyOf; no
    field titles."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # "Num Scenes" says nothing the name and description do not

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if isinstance(inner.get("type"), str) and not {"$ref", "enum", "const"} & set(inner):
            return {**inner, "type": [inner["type"], "null"]}
        return super().nullable_schema(schema)


def validate(model: type[M], body: Any) -> M:
    """``model`` from a decoded JSON body, or RequestInvalid for the first wrong field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise request_invalid(model, exc.errors(include_url=False)[0]) from None


def field_name(loc: tuple[int | str, ...]) -> str:
    """("characters", 0, "name") -> "characters[0].name"; the whole body -> "body"."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name or "body"


def request_invalid(model: type[BaseModel], error: ErrorDetails) -> RequestInvalid:
    """One pydantic error as a RequestInvalid. What the field takes is read from the model's JSON
    Schema at the error's location, so a message never disagrees with /api/openapi.json."""
    loc, kind, value = tuple(error["loc"]), error["type"], error["input"]
    field = field_name(loc)
    schema = model.model_json_schema(schema_generator=EdgeJsonSchema)
    rule = _rule_at(schema, loc)
    allowed = _allowed(rule)
    reason = (error.get("ctx") or {}).get("reason")
    if reason is not None:  # one of our own sentences (refuse(), a model's cross-field rule)
        return RequestInvalid(field, str(reason), allowed)
    if kind == "string_unicode" and isinstance(value, str):
        return RequestInvalid(field, text_problem(value) or error["msg"], allowed)
    if kind == "missing":
        return RequestInvalid(field, f"is required: {_expected(rule, loc)}", allowed)
    if kind in ("enum", "is_instance_of", "literal_error") and isinstance(value, str):
        return RequestInvalid(field, f"unknown value {shown(value)}", allowed)
    return RequestInvalid(field, f"must be {_expected(rule, loc)}, got {_got(rule, value)}", allowed)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A schema node without its $ref and without the ``null`` of a nullable field."""
    while True:
        if isinstance(node.get("type"), list):
            node = {**node, "type": next(t for t in node["type"] if t != "null")}
        elif "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        elif "anyOf" in node:
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            node = {**branches[0], **{k: v for k, v in node.items() if k != "anyOf"}} if branches else {}
        else:
            return node


def _rule_at(schema: dict[str, Any], loc: tuple[int | str, ...]) -> dict[str, Any]:
    defs = schema.get("$defs", {})
    node = _resolve(schema, defs)
    for part in loc:
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, {})
        node = _resolve(node, defs)
    return {**node, "items": _resolve(node["items"], defs)} if "items" in node else node


def _allowed(rule: dict[str, Any]) -> Any:
    if "enum" in rule or "examples" in rule:
        return sorted(rule.get("enum", rule.get("examples", [])))
    if rule.get("type") in ("integer", "number"):
        return {"min": rule.get("minimum"), "max": rule.get("maximum")}
    return None


def _expected(rule: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """What a field takes, in words, from its JSON Schema: "an integer between 1 and 60"."""
    kind = rule.get("type")
    if not loc:
        return "a JSON object"
    if "enum" in rule:
        return "one of the allowed values"
    if kind == "string":
        lo, hi = rule.get("minLength", 0), rule.get("maxLength")
        return f"a string of {lo}-{hi} characters" if lo else f"a string of at most {hi} characters"
    if kind in ("integer", "number"):
        article = "an integer" if kind == "integer" else "a number"
        return f"{article} between {_number(rule.get('minimum'))} and {_number(rule.get('maximum'))}"
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        items = rule.get("items", {})
        what = "strings" if items.get("type") == "string" else f"objects with {_keys(items)}"
        return f"a list of at most {rule.get('maxItems')} {what}"
    if kind == "object":
        return f"an object with {_keys(rule)}"
    return "a valid value"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _keys(rule: dict[str, Any]) -> str:
    return " and ".join(repr(k) for k in rule.get("properties", {}))


def _got(rule: dict[str, Any], value: Any) -> str:
    """What was sent, in words: the number for a number field, the size of a string or list."""
    if isinstance(value, HugeInt):
        return repr(value)
    numeric = rule.get("type") in ("integer", "number")
    if numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value}"
    if rule.get("type") == "string" and isinstance(value, str):
        return f"{len(value.strip())} characters"
    if rule.get("type") == "array" and isinstance(value, list):
        return f"{len(value)} items"
    return json_type(value)
