"""validate(Model, body): a pydantic model from a decoded JSON body, or one RequestInvalid for the
first wrong field, its message written from the field's JSON Schema (EdgeJsonSchema: the schema
/api/openapi.json shows), so "what is allowed" in a 400 never disagrees with the document."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import ErrorDetails, core_schema

from server.http_input import HugeInt, RequestInvalid, json_type, shown, text_problem

M = TypeVar("M", bound=BaseModel)


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
        raise request_invalid(model, exc.errors(include_url=False), body) from None


@cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema (as EdgeJsonSchema writes it), made once per model: only read."""
    return model.model_json_schema(schema_generator=EdgeJsonSchema)


@dataclass(frozen=True)
class _Where:
    """One pydantic error placed in the model's JSON Schema: the field's path (union branch tags
    dropped), its schema node, the value sent there, and how deep it fits what was sent (a union
    branch of another JSON type than the value is a misfit)."""

    loc: tuple[int | str, ...]
    rule: dict[str, Any]
    value: Any
    fits: bool


def request_invalid(model: type[BaseModel], errors: list[ErrorDetails], body: Any) -> RequestInvalid:
    """The first of pydantic's errors as a RequestInvalid. What the field takes is read from the
    model's JSON Schema at the error's place, so a message never disagrees with /api/openapi.json.
    Of a union (text or a list of scenes), the branch of the JSON type that was sent is reported;
    when none is, the union itself ("must be a string or a list of ...")."""
    schema = _schema(model)
    placed = [_place(schema, e, errors, body) for e in errors]
    fitting = [(e, w) for e, w in zip(errors, placed) if w.fits]
    if not fitting:
        where = max(placed, key=lambda w: len(w.loc))
        return RequestInvalid(field_name(where.loc), f"must be {_expected(where.rule, where.loc)}, "
                                                     f"got {json_type(where.value)}")
    error, where = fitting[0]
    field, rule, kind, value = field_name(where.loc), where.rule, error["type"], error["input"]
    allowed = _allowed(rule)
    reason = (error.get("ctx") or {}).get("reason")
    if reason is not None:  # one of our own sentences (refuse(), a model's cross-field rule)
        return RequestInvalid(field, str(reason), allowed)
    if kind == "string_unicode" and isinstance(value, str):
        return RequestInvalid(field, text_problem(value) or error["msg"], allowed)
    if kind == "missing":
        return RequestInvalid(field, f"is required: {_expected(rule, where.loc)}", allowed)
    if kind in ("enum", "is_instance_of", "literal_error") and isinstance(value, str):
        return RequestInvalid(field, f"unknown value {shown(value)}", allowed)
    return RequestInvalid(field, f"must be {_expected(rule, where.loc)}, got {_got(rule, value)}", allowed)


def field_name(loc: tuple[int | str, ...]) -> str:
    """("characters", 0, "name") -> "characters[0].name"; the whole body -> "body"."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name or "body"


def _place(schema: dict[str, Any], error: ErrorDetails, errors: list[ErrorDetails], body: Any) -> _Where:
    defs = schema.get("$defs", {})
    node, value, loc, fits = _resolve(schema, defs), body, [], True
    parts = tuple(error["loc"])
    for i, part in enumerate(parts):
        if not fits:
            break
        mapping = node.get("discriminator", {}).get("mapping", {})
        if part in mapping:  # a tagged union: ``part`` is the tag the body sent
            node = _resolve({"$ref": mapping[part]}, defs)
            continue
        if "anyOf" in node:  # a union: ``part`` is pydantic's tag for a branch, in the branches' order
            branches = [_resolve(b, defs) for b in node["anyOf"]]
            tags = list(dict.fromkeys(e["loc"][i] for e in errors if tuple(e["loc"][:i]) == parts[:i]))
            index = tags.index(part) if part in tags and len(tags) == len(branches) else -1
            fits = index >= 0 and _json_type(value) in _json_types(branches[index])
            node = branches[index] if fits else {"anyOf": branches}  # a misfit stays at the union
            continue
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {})
        node = _resolve(node, defs)
        value = _child(value, part)
        loc.append(part)
    if "items" in node:
        node = {**node, "items": _resolve(node["items"], defs)}
    return _Where(tuple(loc), node, value, fits)


def _child(value: Any, part: int | str) -> Any:
    """What the body holds at ``part`` of ``value`` (None when nothing)."""
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return value.get(part) if isinstance(value, dict) and isinstance(part, str) else None


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its $ref followed and the ``null`` of a nullable field dropped; a union
    of two or more other branches stays an ``anyOf``."""
    while True:
        if isinstance(node.get("type"), list):
            node = {**node, "type": next(t for t in node["type"] if t != "null")}
        elif "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        elif "anyOf" in node:
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            if len(branches) > 1:
                return {**node, "anyOf": branches}
            node = {**(branches or [{}])[0], **{k: v for k, v in node.items() if k != "anyOf"}}
        else:
            return node


def _json_types(rule: dict[str, Any]) -> set[str]:
    """The JSON types a schema node takes (every type when it does not say)."""
    if "anyOf" in rule:
        return set().union(*(_json_types(b) for b in rule["anyOf"]))
    kind = rule.get("type", "object" if "properties" in rule else None)
    if kind is None:
        return {"string", "number", "integer", "boolean", "array", "object", "null"}
    return {kind, "number"} if kind == "integer" else {kind}


def _json_type(value: Any) -> str:
    kind = json_type(value)
    return "integer" if kind == "number" and isinstance(value, (int, HugeInt)) else kind


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
    if "anyOf" in rule:
        return " or ".join(_expected(b, loc) for b in rule["anyOf"])
    if "enum" in rule:
        return "one of the allowed values"
    if kind == "string" and rule.get("minLength") == 1 and "maxLength" not in rule:
        return "a non-empty string"
    if kind == "string":
        return "a string" + _size(rule.get("minLength"), rule.get("maxLength"), "characters")
    if kind in ("integer", "number"):
        lo, hi = rule.get("minimum"), rule.get("maximum")
        bounds = (f" between {_number(lo)} and {_number(hi)}" if lo is not None and hi is not None
                  else f" of at least {_number(lo)}" if lo is not None
                  else f" of at most {_number(hi)}" if hi is not None else "")
        return ("an integer" if kind == "integer" else "a number") + bounds
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        items = rule.get("items", {})
        what = ("strings" if items.get("type") == "string"
                else f"objects with {_keys(items)}" if items.get("properties") else "values")
        return "a list" + (_size(rule.get("minItems"), rule.get("maxItems"), what) or f" of {what}")
    if rule.get("properties"):
        return f"an object with {_keys(rule)}"
    return "a valid value"


def _size(lo: int | None, hi: int | None, unit: str) -> str:
    """" of 1-300 characters", " of at most 20 strings", " of at least 1 values" or ""."""
    if lo and hi is not None:
        return f" of {lo}-{hi} {unit}"
    if hi is not None:
        return f" of at most {hi} {unit}"
    return f" of at least {lo} {unit}" if lo else ""


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _keys(rule: dict[str, Any]) -> str:
    keys = [repr(k) for k in rule.get("properties", {})]
    return " and ".join(keys) if len(keys) < 3 else f"{', '.join(keys[:-1])} and {keys[-1]}"


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
