"""The HTTP contract: endpoints, validation at the edge, the local-only guards, video serving."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from server.config import Config
from server.schemas import VideoRequest

FRONTEND = "http://localhost:5173"


async def test_health_names_a_backend_per_stage(client: Any) -> None:
    resp = await client.get("/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok"
    assert set(body["backends"]) == {"script", "images", "narration"}
    # A fresh machine has no weights: every stage runs its embedded default and says how to upgrade.
    assert set(body["draft_stages"]) == {"script", "images", "narration"}
    assert all(s["fix"].startswith("python scripts/download_models.py") for s in body["backends"].values())


async def test_cors_preflight_from_the_frontend(client: Any) -> None:
    resp = await client.options(
        "/api/generate-video",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "CONTENT-TYPE" in resp.headers["Access-Control-Allow-Headers"].upper()


async def test_guide_curl_check_sees_cors_headers(client: Any) -> None:
    # The integration guide's check, verbatim: curl without -X sends a GET with the preflight headers.
    resp = await client.get(
        "/api/generate-video",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert resp.status == 405 and "error" in await resp.json()
    assert resp.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert {"GET", "POST", "OPTIONS"} <= set(resp.headers["Access-Control-Allow-Methods"].split(", "))
    foreign = await client.get("/api/generate-video", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers


async def test_simple_request_gets_cors_header(client: Any) -> None:
    resp = await client.get("/api/progress", headers={"Origin": FRONTEND})
    assert resp.headers["Access-Control-Allow-Origin"] == FRONTEND


async def test_idle_progress_before_any_job(client: Any) -> None:
    resp = await client.get("/api/progress")
    assert await resp.json() == {"status": "idle", "progress": 0}


async def test_seed_curl_is_accepted_with_defaults(client: Any) -> None:
    resp = await client.post(
        "/api/generate-video",
        json={"topic": "test", "story_type": "scary_horror"},
        headers={"Origin": FRONTEND},
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "generating" and body["job_id"]
    job = await (await client.get(f"/api/jobs/{body['job_id']}")).json()
    spec = job["spec"]
    assert spec["story_type"] == "scary_horror" and spec["image_style"] == "cinematic"
    assert spec["voice_id"] == "male_narrator_deep" and spec["num_scenes"] >= 3
    assert 0 <= spec["seed"] < 2**32  # drawn and stored, so the job can be reproduced


async def test_unknown_presets_map_to_nearest_and_say_so(client: Any) -> None:
    resp = await client.post(
        "/api/generate-video",
        json={
            "topic": "x",
            "story_type": "ghost story",
            "image_style": "manga",
            "voice_id": "deep_male_voice",
        },
    )
    assert resp.status == 200
    job = await (await client.get(f"/api/jobs/{(await resp.json())['job_id']}")).json()
    assert job["spec"]["story_type"] == "scary_horror"
    assert job["spec"]["image_style"] == "anime"
    details = "\n".join(job["details"])
    assert "ghost story" in details and "manga" in details and "deep_male_voice" in details


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"story_type": "mystery"}, "topic"),
    ({"topic": ""}, "topic"),
    ({"topic": "x" * 301}, "topic"),
    ({"topic": 5}, "topic"),
    ({"topic": "x", "num_scenes": 0}, "num_scenes"),
    ({"topic": "x", "num_scenes": 61}, "num_scenes"),
    ({"topic": "x", "num_scenes": 2.5}, "num_scenes"),
    ({"topic": "x", "num_scenes": "10"}, "num_scenes"),
    ({"topic": "x", "duration": 0.1}, "duration"),
    ({"topic": "x", "duration": 31}, "duration"),
    ({"topic": "x", "duration": True}, "duration"),
    ({"topic": "x", "image_mode": "paint"}, "image_mode"),
    ({"topic": "x", "pacing": "warp"}, "pacing"),
    ({"topic": "x", "hook_intensity": "insane"}, "hook_intensity"),
    ({"topic": "x", "aspect_ratio": "4:3"}, "aspect_ratio"),
    ({"topic": "x", "fps": 240}, "fps"),
    ({"topic": "x", "captions": "yes"}, "captions"),
    ({"topic": "x", "seed": -1}, "seed"),
    ({"topic": "x", "characters": [{"name": "A"}] * 11}, "characters"),
    ({"topic": "x", "characters": [{"description": "no name"}]}, "characters[0].name"),
    ({"topic": "x", "characters": [{"name": "A", "description": "d" * 301}]}, "characters[0].description"),
    ({"topic": "x", "characters": "Sarah"}, "characters"),
    ({"topic": "x", "stock_keywords": ["ok", 3]}, "stock_keywords[1]"),
    ({"topic": "x", "stock_keywords": ["k"] * 21}, "stock_keywords"),
    ({"topic": "x", "image_mode": "manual_only"}, "manual_image_paths"),
    (
        {"topic": "x", "image_mode": "manual_only", "manual_image_paths": ["/etc/passwd"]},
        "manual_image_paths[0]",
    ),
    ({"topic": "x", "music": "/etc/passwd"}, "music"),
    ({"topic": "x", "story_type": 7}, "story_type"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
async def test_bad_fields_are_400_naming_the_field(client: Any, body: dict[str, Any], field: str) -> None:
    resp = await client.post("/api/generate-video", json=body)
    assert resp.status == 400, await resp.text()
    error = await resp.json()
    assert error["field"] == field
    assert error["error"].startswith(field)
    assert error["status"] == 400


async def test_unknown_enum_lists_what_is_allowed(client: Any) -> None:
    error = await (await client.post("/api/generate-video", json={"topic": "x", "pacing": "warp"})).json()
    assert error["allowed"] == ["dynamic", "fast", "moderate", "slow"]


async def test_malformed_bodies(client: Any) -> None:
    resp = await client.post(
        "/api/generate-video", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400 and (await resp.json())["field"] == "body"
    resp = await client.post(
        "/api/generate-video", data="topic=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert resp.status == 415
    resp = await client.post("/api/generate-video", json=["topic"])
    assert resp.status == 400
    big = b'{"topic": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    resp = await client.post("/api/generate-video", data=big, headers={"Content-Type": "application/json"})
    assert resp.status == 413
    # The server is still healthy and nothing was queued by any of it.
    assert (await client.get("/health")).status == 200
    assert (await (await client.get("/api/jobs")).json())["jobs"] == []


async def test_foreign_origin_cannot_start_jobs(client: Any) -> None:
    resp = await client.post(
        "/api/generate-video", json={"topic": "x"}, headers={"Origin": "http://evil.example"}
    )
    assert resp.status == 403
    assert "evil.example" in (await resp.json())["error"]
    preflight = await client.options(
        "/api/generate-video",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 403
    assert (await (await client.get("/api/jobs")).json())["jobs"] == []


async def test_foreign_host_is_refused(client: Any) -> None:
    for path in ("/health", "/api/progress"):
        resp = await client.get(path, headers={"Host": "attacker.example:5000"})
        assert resp.status == 403
    assert (await client.get("/health", headers={"Host": "localhost:5000"})).status == 200
    assert (await client.get("/health", headers={"Host": "[::1]:5000"})).status == 200


async def test_unknown_job_and_endpoint_are_json_404(client: Any) -> None:
    for path, reason in (
        ("/api/jobs/nope", "No job with id 'nope'"),
        ("/api/progress?job_id=nope", "No job with id 'nope'"),
        ("/api/jobs/nope/cancel", "No job with id 'nope'"),
        ("/api/nothing", "No such endpoint or file: /api/nothing"),
    ):
        resp = await (client.post(path) if path.endswith("cancel") else client.get(path))
        assert resp.status == 404
        assert (await resp.json())["error"] == reason


@pytest.fixture
def videos(config: Config, tmp_path: Path) -> Path:
    config.videos_dir.mkdir(parents=True, exist_ok=True)
    (config.videos_dir / "video_20250101_000000.mp4").write_bytes(bytes(range(256)) * 40)
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"secret")
    os.symlink(secret, config.videos_dir / "link.mp4")
    (config.videos_dir / "notes.txt").write_text("x")
    return config.videos_dir


async def test_video_range_requests(client: Any, videos: Path) -> None:
    url = "/api/video/video_20250101_000000.mp4"
    full = await client.get(url)
    assert full.status == 200 and full.headers["Content-Type"] == "video/mp4"
    assert full.headers.get("Accept-Ranges") == "bytes"
    assert len(await full.read()) == 10240
    part = await client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert part.headers["Content-Range"] == "bytes 100-199/10240"
    assert await part.read() == (bytes(range(256)) * 40)[100:200]
    head = await client.head(url, headers={"Range": "bytes=0-9"})
    assert head.status == 206 and head.headers["Content-Range"] == "bytes 0-9/10240"


@pytest.mark.parametrize("site", [None, "same-origin", "same-site", "none", "SAME-SITE"])
async def test_video_plays_for_own_pages_and_curl(client: Any, videos: Path, site: str | None) -> None:
    headers = {"Sec-Fetch-Site": site} if site else {}
    url = "/api/video/video_20250101_000000.mp4"
    assert (await client.get(url, headers=headers)).status == 200
    assert (await client.head(url, headers={**headers, "Range": "bytes=0-9"})).status == 206


async def test_video_refuses_cross_site_pages(client: Any, videos: Path) -> None:
    url = "/api/video/video_20250101_000000.mp4"
    for method in (client.get, client.head):
        for extra in ({}, {"Referer": "http://evil.example/page"}, {"Origin": "http://evil.example"}):
            resp = await method(url, headers={"Sec-Fetch-Site": "cross-site", **extra})
            assert resp.status == 403
            if method is client.get:
                assert (await resp.json())["field"] == "Sec-Fetch-Site"
    # A page probing for names learns nothing: a missing name is refused the same way.
    resp = await client.get("/api/video/video_20250101_000001.mp4", headers={"Sec-Fetch-Site": "cross-site"})
    assert resp.status == 403
    # The frontend on another loopback name (localhost:5173 -> 127.0.0.1:5000) is cross-site to the
    # browser, but its Referer/Origin is one we serve: it still plays.
    for extra in ({"Referer": f"{FRONTEND}/watch?v=1"}, {"Origin": FRONTEND}):
        resp = await client.get(url, headers={"Sec-Fetch-Site": "cross-site", **extra})
        assert resp.status == 200


@pytest.mark.parametrize(
    "name",
    [
        "link.mp4",
        "notes.txt",
        "missing.mp4",
        "..%2Fsecret.mp4",
        "%2E%2E%2Fsecret.mp4",
        "..mp4",
        "%2Fetc%2Fpasswd",
        "video_20250101_000000.mp4%00.txt",
        ".hidden.mp4",
    ],
)
async def test_video_names_outside_the_rules_are_404(client: Any, videos: Path, name: str) -> None:
    resp = await client.get(f"/api/video/{name}")
    assert resp.status == 404


async def test_options_list_every_choice_with_a_description(client: Any) -> None:
    body = await (await client.get("/api/options")).json()
    assert set(body) == {
        "story_type",
        "image_style",
        "image_mode",
        "voice_id",
        "pacing",
        "hook_intensity",
        "aspect_ratio",
        "quality",
        "language",
    }
    for values in body.values():
        assert values and all(v["value"] and v["description"] for v in values)
    assert "male_narrator_deep" in {v["value"] for v in body["voice_id"]}
    assert len(body["voice_id"]) >= 8


async def test_openapi_describes_every_route_and_field(client: Any) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    documented = set(doc["paths"])
    routed = {r.resource.canonical for r in client.app.router.routes() if r.resource is not None}
    assert routed <= documented
    props = doc["components"]["schemas"]["VideoRequest"]["properties"]
    assert set(props) == set(VideoRequest.model_fields)
    assert props["num_scenes"]["minimum"] == 1 and props["num_scenes"]["maximum"] == 60
