"""What a storyboard shows after its render, and a scene's narration rewritten by seed and hint, on
the embedded defaults (own script or draft writer, draft art, the Piper voice, the real compositor,
real worker processes).

After a render the storyboard adopts the pictures the render used: scene 2, repainted because its
image prompt was edited, is no longer stale and its image URL serves the render's picture; scene
3, edited after the render was queued, keeps its own picture and stays stale.

Regenerate narration over HTTP takes ``prompt`` (a hint to the writer) and ``seed`` (the variant):
from the same scenes, the same seed gives the same text on the draft writer; another seed another."""

from __future__ import annotations

from typing import Any

from server.config import Config
from tests.netguard import no_network
from tests.test_storyboard import REQUEST, wait_board, wait_job

SCRIPT = [
    {"narration": "The ferry left the harbour before the fog came down.",
     "image_prompt": "a small ferry leaving a stone harbour at dawn"},
    {"narration": "On deck, a boy counted the gulls that followed them.",
     "image_prompt": "a boy on a ferry deck watching gulls"},
    {"narration": "By noon the island rose out of the grey water.",
     "image_prompt": "a green island rising out of grey sea"},
]


async def _bytes(client: Any, url: str) -> bytes:
    resp = await client.get(url)
    assert resp.status == 200, url
    return bytes(await resp.read())


async def test_render_updates_the_storyboards_pictures(client: Any, config: Config) -> None:
    with no_network():
        resp = await client.post("/api/storyboards", json={**REQUEST, "script": SCRIPT})
        assert resp.status == 202, await resp.text()
        board_id = (await resp.json())["storyboard_id"]
        base = f"/api/storyboards/{board_id}"
        board = await wait_board(client, board_id)
        assert board["state"] == "ready", board
        assert not any(s["image_stale"] for s in board["scenes"])
        preview = {s["index"]: await _bytes(client, s["image_url"]) for s in board["scenes"]}
        urls = {s["index"]: s["image_url"] for s in board["scenes"]}

        resp = await client.patch(f"{base}/scenes/2", json={"image_prompt": "a boy asleep on coiled ropes"})
        assert resp.status == 200, await resp.text()
        edited = (await resp.json())["scenes"][1]
        assert edited["image_stale"] and edited["image_url"] == urls[2]  # the old picture until the render

        job = await (await client.post(f"{base}/render")).json()
        # edited after the render was queued (its spec is fixed then): the render paints the old prompt
        resp = await client.patch(f"{base}/scenes/3", json={"image_prompt": "a lighthouse on the island"})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["scenes"][2]["image_stale"]
        done = await wait_job(client, job["job_id"])
        assert done["status"] == "complete", done
        board = await (await client.get(base)).json()

    images = config.jobs_dir / job["job_id"] / "images"
    rendered = {n: (images / f"scene_{n:02d}.png").read_bytes() for n in (1, 2, 3)}
    assert rendered[2] != preview[2] and rendered[1] == preview[1] and rendered[3] == preview[3]
    scenes = {s["index"]: s for s in board["scenes"]}
    # scene 2 shows the render's picture (new URL, its bytes, a thumbnail of it) and is not stale
    assert not scenes[2]["image_stale"] and scenes[2]["image_url"] != urls[2]
    assert scenes[2]["image_prompt"] == "a boy asleep on coiled ropes"
    assert scenes[2]["image_source"] == "draft"
    assert await _bytes(client, scenes[2]["image_url"]) == rendered[2]
    assert (await _bytes(client, scenes[2]["thumbnail_url"]))[:2] == b"\xff\xd8"
    key = scenes[2]["image_url"].rsplit("v=", 1)[1]
    thumb = config.data_dir / "storyboards" / board_id / "thumbs" / f"{key}.jpg"
    assert thumb.is_file()  # made when the render was adopted
    # scene 1 did not change: the same picture; scene 3 changed meanwhile: its own picture, still stale
    assert not scenes[1]["image_stale"] and scenes[1]["image_url"] == urls[1]
    assert await _bytes(client, scenes[1]["image_url"]) == preview[1]
    assert scenes[3]["image_stale"] and scenes[3]["image_url"] == urls[3]
    assert await _bytes(client, scenes[3]["image_url"]) == preview[3]
    line = next(d for d in board["details"] if d.startswith(f"Updated from job {job['job_id']}"))
    assert "scene 2 now shows the render's picture" in line and "scene 3 changed" in line, line


async def test_regenerate_narration_by_seed_and_hint(client: Any) -> None:
    with no_network():
        resp = await client.post("/api/storyboards", json={**REQUEST, "images": False})
        assert resp.status == 202, await resp.text()
        board_id = (await resp.json())["storyboard_id"]
        base = f"/api/storyboards/{board_id}"
        board = await wait_board(client, board_id)
        assert board["state"] == "ready", board
        original = board["scenes"][1]["narration"]
        others = [s["narration"] for i, s in enumerate(board["scenes"]) if i != 1]

        async def rewrite(seed: int) -> str:
            resp = await client.patch(f"{base}/scenes/2", json={"narration": original})  # the same start
            assert resp.status == 200, await resp.text()
            resp = await client.post(f"{base}/scenes/2/regenerate",
                                     json={"what": "narration", "seed": seed, "prompt": "make it calmer"})
            assert resp.status == 202, await resp.text()
            done = await wait_board(client, board_id)
            assert done["error"] is None, done
            assert [s["narration"] for i, s in enumerate(done["scenes"]) if i != 1] == others
            assert any("cannot follow a hint" in line for line in done["details"]), done["details"]
            return str(done["scenes"][1]["narration"])

        first = await rewrite(7)
        assert first and first != original
        assert await rewrite(7) == first
        assert await rewrite(8) not in (first, original)

        # the API says so
        doc = await (await client.get("/api/openapi.json")).json()
        props = doc["components"]["schemas"]["Regenerate"]["properties"]
        assert "narration: a hint to the script writer" in props["prompt"]["description"]
        assert "narration: picks the rewrite's variant" in props["seed"]["description"]

        resp = await client.post(f"{base}/scenes/2/regenerate", json={"what": "narration", "seed": -1})
        assert resp.status == 400 and (await resp.json())["field"] == "seed"
        resp = await client.post(f"{base}/scenes/2/regenerate", json={"what": "narration", "prompt": ""})
        assert resp.status == 400 and (await resp.json())["field"] == "prompt"
