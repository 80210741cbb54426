"""``quality`` travels from the request to the job: validated at the edge with the other enum
fields, listed in /api/options and the OpenAPI document, stored with the job and back."""
from __future__ import annotations

import pytest

from engine.spec import JobSpec, Quality
from server.schemas import options, parse_video_request


def test_quality_is_a_request_field_with_three_choices() -> None:
    assert [o["value"] for o in options()["quality"]] == ["draft", "standard", "high"]
    assert parse_video_request({"topic": "a lighthouse"}).quality is Quality.STANDARD
    spec = parse_video_request({"topic": "a lighthouse", "quality": "draft"})
    assert spec.quality is Quality.DRAFT
    assert JobSpec.from_dict(spec.to_dict()).quality is Quality.DRAFT
    with pytest.raises(Exception, match="quality"):
        parse_video_request({"topic": "a lighthouse", "quality": "ultra"})


def test_quality_is_in_the_openapi_document() -> None:
    import json

    from server.openapi import openapi_document

    doc = json.dumps(openapi_document())
    assert '"quality"' in doc and '"draft"' in doc and '"high"' in doc
