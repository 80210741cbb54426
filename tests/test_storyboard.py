"""Storyboards end to end on the embedded defaults (draft writer, draft art, the Piper voice, the
real compositor, real worker processes): create -> render -> edit scene 2's narration ->
regenerate scene 3's picture -> render again. Every other scene's picture and voice are the same
bytes, scene 2's voice and scene 3's picture are new, the video is complete and captions.srt has
scene 2's new words inside scene 2. Plus the own script, edits, 409s and 4xx answers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import srt

from server.config import Config
from tests.conftest import EXAMPLE_REQUEST
from tests.netguard import no_network

REQUEST = {**EXAMPLE_REQUEST, "quality": "draft"}
NEW_WORDS = "Somewhere below, a bell rang twice and the water went silent."


async def wait_board(client: Any, board_id: str, limit: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        body = await (await client.get(f"/api/storyboards/{board_id}")).json()
        if body["state"] != "drafting" and not body["regenerating"]:
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def wait_job(client: Any, job_id: str, limit: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        body = await (await client.get(f"/api/progress?job_id={job_id}")).json()
        if body["status"] != "generating":
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.3)


def artifacts(config: Config, job_id: str) -> dict[str, bytes]:
    work = config.jobs_dir / job_id
    return {f"{p.parent.name}/{p.name}": p.read_bytes()
            for p in sorted([*work.glob("images/scene_*.png"), *work.glob("audio/scene_*.wav")])}


async def test_storyboard_edit_regenerate_render(client: Any, config: Config) -> None:
    with no_network():
        resp = await client.post("/api/storyboards", json=REQUEST)
        assert resp.status == 202, await resp.text()
        board_id = (await resp.json())["storyboard_id"]
        board = await wait_board(client, board_id)
        assert board["state"] == "ready", board
        assert board["title"] and len(board["scenes"]) == 3 and board["progress"] == 100
        for s in board["scenes"]:
            assert s["narration"] and s["image_prompt"] and s["image_source"] == "draft"
            assert s["words"] > 0 and s["estimated_seconds"] > 0 and s["seed"] is not None
        png = await client.get(board["scenes"][0]["image_url"])
        assert png.status == 200 and png.content_type == "image/png"
        thumb = await client.get(board["scenes"][0]["thumbnail_url"])
        assert thumb.status == 200 and (await thumb.read())[:2] == b"\xff\xd8"
        listed = await (await client.get("/api/storyboards")).json()
        assert listed["storyboards"][0]["storyboard_id"] == board_id
        preview = {s["index"]: await (await client.get(s["image_url"])).read() for s in board["scenes"]}

        first = await (await client.post(f"/api/storyboards/{board_id}/render")).json()
        assert first["status"] == "generating"
        done = await wait_job(client, first["job_id"])
        assert done["status"] == "complete", done
        before = artifacts(config, first["job_id"])
        for n in (1, 2, 3):  # the render painted nothing: the storyboard's pictures, byte for byte
            assert before[f"images/scene_{n:02d}.png"] == preview[n]

        resp = await client.patch(f"/api/storyboards/{board_id}/scenes/2", json={"narration": NEW_WORDS})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["scenes"][1]["narration"] == NEW_WORDS
        resp = await client.post(f"/api/storyboards/{board_id}/scenes/3/regenerate", json={"what": "image"})
        assert resp.status == 202, await resp.text()
        busy = await resp.json()
        if busy["regenerating"]:  # the lane may already be done; while it is not, scene 3 is locked
            again = await client.patch(f"/api/storyboards/{board_id}/scenes/3", json={"seed": 5})
            assert again.status in (200, 409)
            if again.status == 409:
                assert (await again.json())["field"] == "seed"
        board = await wait_board(client, board_id)
        assert board["scenes"][2]["image_source"] == "draft" and not board["scenes"][2]["image_stale"]
        new_preview = await (await client.get(board["scenes"][2]["image_url"])).read()
        assert new_preview != preview[3]

        second = await (await client.post(f"/api/storyboards/{board_id}/render")).json()
        done = await wait_job(client, second["job_id"])
        assert done["status"] == "complete", done
        after = artifacts(config, second["job_id"])

    changed = {"audio/scene_02.wav", "images/scene_03.png"}
    assert set(after) == set(before) and len(after) == 6
    for name in before:
        if name in changed:
            assert after[name] != before[name], name
        else:
            assert after[name] == before[name], name
    assert after["images/scene_03.png"] == new_preview
    job = await (await client.get(f"/api/jobs/{second['job_id']}")).json()
    # scene 3's new picture was made by the storyboard's regenerate: the render made no picture
    assert any("Reused the pictures of scene(s) 1, 2, 3:" in line for line in job["details"]), job["details"]
    assert any("Reused the narration of scene(s) 1, 3:" in line for line in job["details"]), job["details"]
    assert (config.videos_dir / done["video_path"]).stat().st_size > 10_000

    # captions.srt carries scene 2's new words at times inside scene 2
    script = await (await client.get(f"/api/jobs/{second['job_id']}/export/script.json")).json()
    scene2 = script["scenes"][1]
    assert scene2["narration"] == NEW_WORDS
    captions = await client.get(f"/api/jobs/{second['job_id']}/export/captions.srt")
    assert captions.status == 200 and captions.content_type == "application/x-subrip"
    cues = list(srt.parse(await captions.text()))
    inside = [c for c in cues if scene2["start"] - 1e-3 <= c.start.total_seconds() < scene2["end"]]
    assert " ".join(c.content for c in inside) == NEW_WORDS
    assert all(c.end.total_seconds() <= scene2["end"] + 1e-3 for c in inside)

    board = await (await client.get(f"/api/storyboards/{board_id}")).json()
    assert [r["job_id"] for r in board["renders"]] == [first["job_id"], second["job_id"]]
    resp = await client.patch(f"/api/storyboards/{board_id}/scenes/1", json={"image_prompt": "a red door"})
    edited = (await resp.json())["scenes"][0]
    assert edited["image_prompt"] == "a red door" and edited["image_stale"]  # the render repaints it
    resp = await client.delete(f"/api/storyboards/{board_id}")
    assert resp.status == 200
    assert not (config.data_dir / "storyboards" / board_id).exists()
    assert (config.videos_dir / done["video_path"]).is_file()  # a render outlives its storyboard
    assert (await client.get(f"/api/storyboards/{board_id}")).status == 404


async def test_own_script_storyboard_and_edits(client: Any, config: Config) -> None:
    text = ("The keeper climbed the stairs at dusk.\n\nSarah saw the great lamp go dark.\n\n"
            "Nobody ever saw him again.")
    resp = await client.post("/api/storyboards", json={**REQUEST, "script": text, "images": False})
    assert resp.status == 202, await resp.text()
    board_id = (await resp.json())["storyboard_id"]
    board = await wait_board(client, board_id)
    assert board["state"] == "ready"
    assert [s["narration"] for s in board["scenes"]] == [p for p in text.split("\n\n")]
    assert all(s["image_url"] is None for s in board["scenes"])  # images: false stops after the script
    assert board["scenes"][1]["characters"] == ["Sarah"]
    spec = board["spec"]
    assert spec["num_scenes"] == 3
    assert spec["script"]["scenes"][0]["narration"] == board["scenes"][0]["narration"]

    # reorder, insert, delete in one PATCH; title and characters
    ids = [s["id"] for s in board["scenes"]]
    resp = await client.patch(f"/api/storyboards/{board_id}", json={
        "title": "The Dark Lamp", "characters": [{"name": "Sarah", "description": "red coat"}],
        "scenes": [{"n": 3}, {"narration": "A gull cried once."}, {"n": 1}]})
    assert resp.status == 200, await resp.text()
    board = await resp.json()
    assert board["title"] == "The Dark Lamp"
    assert [(c["name"], c["description"], c["image"]) for c in board["characters"]] == [
        ("Sarah", "red coat", None)]
    assert [s["id"] for s in board["scenes"]][::2] == [ids[2], ids[0]]
    assert [s["narration"] for s in board["scenes"]][1] == "A gull cried once."

    # 4xx answers name the field
    for path, body, status, field in [
        (f"/api/storyboards/{board_id}/scenes/1", {"seed": -1}, 400, "seed"),
        (f"/api/storyboards/{board_id}/scenes/1", {"image": "/etc/passwd"}, 400, "image"),
        (f"/api/storyboards/{board_id}", {"scenes": [{"n": 9}]}, 409, "scenes[0].n"),
        (f"/api/storyboards/{board_id}", {"scenes": [{"n": 1}, {"n": 1}]}, 409, "scenes"),
    ]:
        resp = await client.patch(path, json=body)
        assert resp.status == status, (path, body, await resp.text())
        assert (await resp.json())["field"] == field
    resp = await client.post(f"/api/storyboards/{board_id}/scenes/1/regenerate", json={"what": "everything"})
    assert resp.status == 400 and (await resp.json())["field"] == "what"
    assert (await client.get(f"/api/storyboards/{board_id}/scenes/9/image")).status == 404
    assert (await client.get("/api/storyboards/0123456789abcdef")).status == 404
    resp = await client.post("/api/storyboards", json={**REQUEST, "script": []})
    assert resp.status == 400 and (await resp.json())["field"] == "script"
    resp = await client.post("/api/storyboards", json={**REQUEST, "script": [{"narration": ""}]})
    assert resp.status == 400 and (await resp.json())["field"] == "script[0].narration"

    # a manual picture for scene 2 (an allowed local path), then a render using it
    picture = config.data_dir.parent / "mine.png"
    from PIL import Image

    Image.new("RGB", (640, 360), (200, 30, 30)).save(picture)
    resp = await client.patch(f"/api/storyboards/{board_id}/scenes/2", json={"image": str(picture)})
    assert resp.status == 200, await resp.text()
    scene = (await resp.json())["scenes"][1]
    assert scene["image_source"] == "manual" and not scene["image_stale"]
    manual = await (await client.get(scene["image_url"])).read()
    job = await (await client.post(f"/api/storyboards/{board_id}/render")).json()
    done = await wait_job(client, job["job_id"])
    assert done["status"] == "complete", done
    work = config.jobs_dir / job["job_id"]
    assert (work / "images" / "scene_02.png").read_bytes() == manual
    exported = json.loads((work / "exports" / "script.json").read_text())
    assert exported["title"] == "The Dark Lamp"
    assert [s["narration"] for s in exported["scenes"]] == [s["narration"] for s in board["scenes"]]
