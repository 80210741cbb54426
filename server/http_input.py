"""What a client sends, around pydantic: the 4xx errors (RequestInvalid, NotFound), the JSON
document with hostile-input bounds (nesting depth, integers of any length), and the text rules
for every string (Line, Text: no lone surrogates, no control characters).

The models are in server/schemas.py; http_validation.validate(Model, body) turns a decoded body
into one, or into a RequestInvalid naming the field."""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Annotated, Any, Callable

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError

from server.http_responses import ErrorBody

#: Deepest JSON nesting a body may have; the video request itself needs 3 (body, characters, item).
MAX_JSON_DEPTH = 32
#: Integers with more digits than this are never a valid value of any field; they stay undecoded.
MAX_INT_DIGITS = 20
#: A job id in a path or query string, and a video's file name (the only names /api/video serves).
JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
VIDEO_NAME_PATTERN = r"^[A-Za-z0-9_.-]+\.mp4$"
#: Control characters refused in every string; free text may keep tab, newline and carriage return.
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


def _text_rule(*, multiline: bool) -> Callable[[str], str]:
    """A string field's validator: ``text``, or refuse() with what text_problem found."""

    def check(text: str) -> str:
        problem = text_problem(text, multiline=multiline)
        if problem is not None:
            raise refuse(problem)
        return text

    return check


_one_line = _text_rule(multiline=False)
_free_text = _text_rule(multiline=True)


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
