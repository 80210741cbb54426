"""/api/openapi.json is generated from the pydantic models: it is valid OpenAPI 3.1, it describes
every route with every answer (errors included), and what the server really sends matches it."""

from __future__ import annotations

import io
from enum import Enum
from typing import Any, Literal

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator import validate as validate_openapi
from PIL import Image
from pydantic import Field, StrictInt

from server.http_input import RequestInvalid, Text
from server.http_validation import validate
from server.schemas import Choices, RequestBody, VideoRequest, options, parse_video_request

METHODS = {"GET", "POST", "DELETE", "PUT", "PATCH"}


async def document(client: Any) -> dict[str, Any]:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    doc: dict[str, Any] = await resp.json()
    return doc


def assert_matches(doc: dict[str, Any], name: str, body: Any) -> None:
    """``body`` is valid against components.schemas[name] (JSON Schema 2020-12, as OpenAPI 3.1)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(body)]
    assert not errors, (name, errors)


async def test_the_document_is_valid_openapi_3_1(client: Any) -> None:
    doc = await document(client)
    assert doc["openapi"] == "3.1.0"
    validate_openapi(doc, cls=OpenAPIV31SpecValidator)  # raises on any fault, with where it is


async def test_every_route_is_documented_with_every_answer(client: Any) -> None:
    doc = await document(client)
    routed = {
        (r.resource.canonical, r.method.lower())
        for r in client.app.router.routes()
        if r.resource is not None and r.method in METHODS
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routed == documented
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            answers = op["responses"]
            assert {"403", "500"} <= set(answers), (path, method)  # the Host guard; our own failures
            assert any(code.startswith("2") for code in answers), (path, method)
            for code, answer in answers.items():
                if code.startswith(("4", "5")) and code != "409":
                    assert answer["content"]["application/json"]["schema"] == error_ref, (path, method, code)
    request = doc["paths"]["/api/generate-video"]["post"]["requestBody"]["content"]["application/json"]
    assert request["schema"] == {"$ref": "#/components/schemas/VideoRequest"}
    assert "400" in doc["paths"]["/api/generate-video"]["post"]["responses"]


async def test_the_video_request_schema_is_the_validation(client: Any) -> None:
    props = (await document(client))["components"]["schemas"]["VideoRequest"]["properties"]
    assert props["fps"]["minimum"] == 12 and props["fps"]["maximum"] == 60
    assert props["topic"]["maxLength"] == 300
    assert set(props["story_type"]["examples"]) >= {"mystery", "scary_horror"}  # nearest-match: no enum
    assert "enum" not in props["story_type"]
    with pytest.raises(RequestInvalid) as caught:
        parse_video_request({"topic": "x", "fps": 61})
    assert caught.value.as_json() == {
        "error": "fps: must be an integer between 12 and 60, got 61",
        "field": "fps",
        "status": 400,
        "allowed": {"min": 12, "max": 60},
    }


def test_strict_choice_fields_list_exactly_their_enum() -> None:
    listed = options()
    for name, field in VideoRequest.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, Enum):
            assert any(isinstance(m, Choices) for m in field.metadata), name
            assert [o["value"] for o in listed[name]] == [m.value for m in kind], name


@pytest.mark.parametrize(
    ("body", "error", "allowed"),
    [
        ({"topic": "x", "pacing": "warp"}, "pacing: unknown value 'warp'",
         ["dynamic", "fast", "moderate", "slow"]),
        ({"topic": "x", "duration": True}, "duration: must be a number between 0.25 and 30, got boolean",
         {"min": 0.25, "max": 30}),
        ({"topic": "x", "characters": [{"name": "A", "description": 5}]},
         "characters[0].description: must be a string of at most 300 characters, got number", None),
        ({"topic": "x", "characters": ["Sarah"]},
         "characters[0]: must be an object with 'name', 'description' and 'image', got string", None),
        ({"topic": "x", "stock_keywords": ["k"] * 21},
         "stock_keywords: must be a list of at most 20 strings, got 21 items", None),
        ({"topic": " \t "}, "topic: must be a string of 1-300 characters, got 0 characters", None),
        ({}, "topic: is required: a string of 1-300 characters", None),
        ([], "body: must be a JSON object, got array", None),
    ],
)
def test_messages_name_the_field_and_what_it_takes(body: Any, error: str, allowed: Any) -> None:
    with pytest.raises(RequestInvalid) as caught:
        parse_video_request(body)
    assert caught.value.as_json()["error"] == error
    assert caught.value.as_json().get("allowed") == allowed


class Part(RequestBody):
    narration: Text = Field(min_length=1, max_length=2000)
    image_prompt: Text = Field(default="", max_length=600)


class Scripted(RequestBody):
    """A body with a union field: text, or a list of parts or strings."""

    script: Text | list[Part | Text] | None = Field(default=None)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"script": 5}, "script: must be a string or a list of values, got number"),
        ({"script": [{"narration": ""}]},
         "script[0].narration: must be a string of 1-2000 characters, got 0 characters"),
        ({"script": [{"narration": "a", "image_prompt": "\x00"}]},
         "script[0].image_prompt: contains a NUL byte at character 0; remove it (tab and newline are fine)"),
        ({"script": ["ok", 7]},
         "script[1]: must be an object with 'narration' and 'image_prompt' or a string, got number"),
    ],
)
def test_a_union_reports_the_branch_of_the_type_sent(body: Any, error: str) -> None:
    with pytest.raises(RequestInvalid) as caught:
        validate(Scripted, body)
    assert caught.value.as_json()["error"] == error
    assert validate(Scripted, {"script": ["a", {"narration": "b"}]}).script == ["a", Part(narration="b")]


class Cat(RequestBody):
    kind: Literal["cat"]
    lives: StrictInt = Field(ge=0, le=9)


class Dog(RequestBody):
    kind: Literal["dog"]


class Pet(RequestBody):
    pet: Cat | Dog = Field(discriminator="kind")


def test_a_tagged_union_reports_inside_the_tagged_branch() -> None:
    with pytest.raises(RequestInvalid) as caught:
        validate(Pet, {"pet": {"kind": "cat", "lives": 10}})
    assert caught.value.as_json()["error"] == "pet.lives: must be an integer between 0 and 9, got 10"


def test_null_means_the_default_and_choices_are_case_blind() -> None:
    spec = parse_video_request(
        {"topic": " x ", "story_type": None, "pacing": " FAST", "num_scenes": None, "characters": None}
    )
    assert (spec.topic, spec.story_type, spec.pacing.value, spec.num_scenes) == ("x", "mystery", "fast", 6)
    with pytest.raises(RequestInvalid, match="topic: is required"):
        parse_video_request({"topic": None})


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


async def test_real_answers_match_the_document(client: Any) -> None:
    doc = await document(client)

    async def answer(method: str, path: str, status: int, **kw: Any) -> Any:
        resp = await getattr(client, method)(path, **kw)
        assert resp.status == status, await resp.text()
        return await resp.json()

    assert_matches(doc, "Progress", await answer("get", "/api/progress", 200))
    assert_matches(doc, "Health", await answer("get", "/health", 200))
    assert_matches(doc, "Options", await answer("get", "/api/options", 200))
    assert_matches(doc, "Voices", await answer("get", "/api/voices", 200))
    assert_matches(doc, "ModelsReport", await answer("get", "/api/models", 200))
    request = {"topic": "a lighthouse", "duration": 0.25}
    queued = await answer("post", "/api/generate-video", 200, json=request)
    assert_matches(doc, "Queued", queued)
    job_id = queued["job_id"]
    assert_matches(doc, "Progress", await answer("get", f"/api/progress?job_id={job_id}", 200))
    assert_matches(doc, "JobView", await answer("get", f"/api/jobs/{job_id}", 200))
    assert_matches(doc, "JobList", await answer("get", "/api/jobs", 200))
    assert_matches(doc, "ErrorBody", await answer("delete", f"/api/jobs/{job_id}", 409))
    cancelled = await answer("post", f"/api/jobs/{job_id}/cancel", 202)
    assert_matches(doc, "JobView", cancelled)
    assert cancelled["cancel"] == "requested"
    form = {"file": png()}
    assert_matches(doc, "Stored", await answer("post", "/api/upload", 201, data=form))
    bad = await answer("post", "/api/generate-video", 400, json={"topic": "x", "pacing": "warp"})
    assert_matches(doc, "ErrorBody", bad)
    assert_matches(doc, "ErrorBody", await answer("get", "/api/jobs/nope", 404))
