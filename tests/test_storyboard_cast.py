"""The cast on a storyboard, end to end on the embedded defaults (own script, draft art with each
character's portrait inset in its mark, the Piper voice, the real compositor, real worker
processes): an own-portrait upload used across three of four scenes, rendered; the portrait
replaced through PATCH (another upload) and rendered again: exactly those three scenes' pictures
are new bytes (new keys carrying the new portrait's digest), the fourth scene's picture and every
voice are the same bytes. The storyboard shows the cast (portrait, where it came from, its
scenes) and those three scenes as stale until the render, and the render's pictures after it; a bad
portrait is a 400 naming it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image, ImageDraw

from server.config import Config
from tests.conftest import EXAMPLE_REQUEST
from tests.netguard import no_network
from tests.test_storyboard import artifacts, wait_board, wait_job

MARA = "a lighthouse keeper in a yellow oilskin coat"
SCRIPT = [
    {"narration": "Mara climbed the tower stairs as the storm came in.",
     "image_prompt": "Mara climbing the spiral stairs of a lighthouse, lantern in hand"},
    {"narration": "She lit the great lamp and waited for the ship.",
     "image_prompt": "Mara lighting the great lamp at the top of the tower"},
    {"narration": "Out at sea, the waves rose higher than the harbour wall.",
     "image_prompt": "storm waves breaking over an empty harbour wall at night"},
    {"narration": "By morning she was gone, and the lamp still burned.",
     "image_prompt": "Mara's empty chair beside the burning lamp at dawn"},
]
SHOWS_MARA = [1, 2, 4]


def _face(skin: tuple[int, int, int], coat: tuple[int, int, int]) -> bytes:
    """A head-and-shoulders picture (a stand-in for a photo of the creator's host)."""
    image = Image.new("RGB", (240, 300), (30, 40, 60))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 190, 220, 420), fill=coat)
    draw.ellipse((70, 50, 170, 170), fill=skin)
    draw.ellipse((95, 95, 110, 110), fill=(0, 0, 0))
    draw.ellipse((130, 95, 145, 110), fill=(0, 0, 0))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


async def _upload(client: Any, name: str, data: bytes) -> str:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="image/png")
    resp = await client.post("/api/upload", data=form)
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["filename"])


def _sidecars(config: Config, job_id: str) -> dict[int, dict[str, Any]]:
    images = config.jobs_dir / job_id / "images"
    return {n: json.loads((images / f"scene_{n:02d}.json").read_text()) for n in range(1, 5)}


async def test_a_replaced_portrait_repaints_exactly_its_scenes(client: Any, config: Config) -> None:
    with no_network():
        first_face = await _upload(client, "mara.png", _face((230, 190, 160), (240, 200, 30)))
        second_face = await _upload(client, "mara-2.png", _face((120, 80, 60), (40, 90, 220)))
        resp = await client.post("/api/storyboards", json={
            **EXAMPLE_REQUEST, "quality": "draft", "script": SCRIPT,
            "characters": [{"name": "Mara", "description": MARA, "image": first_face}],
        })
        assert resp.status == 202, await resp.text()
        board_id = (await resp.json())["storyboard_id"]
        board = await wait_board(client, board_id)
        assert board["state"] == "ready", board
        assert [s["characters"] for s in board["scenes"]] == [
            ["Mara"] if n in SHOWS_MARA else [] for n in range(1, 5)]

        # the cast: Mara's portrait is the creator's own, served by the API, shown in scenes 1, 2, 4
        [mara] = board["characters"]
        assert (mara["name"], mara["description"], mara["image"]) == ("Mara", MARA, first_face)
        assert mara["portrait_source"] == "own" and mara["scenes"] == SHOWS_MARA
        portrait = await client.get(mara["portrait_url"])
        assert portrait.status == 200 and portrait.content_type == "image/png"
        first_portrait = await portrait.read()
        with Image.open(io.BytesIO(first_portrait)) as im:
            assert im.size == (1024, 1024)
        assert not any(s["image_stale"] for s in board["scenes"])

        base = f"/api/storyboards/{board_id}"
        first = await (await client.post(f"{base}/render")).json()
        done = await wait_job(client, first["job_id"])
        assert done["status"] == "complete", done
        before, keys_before = artifacts(config, first["job_id"]), _sidecars(config, first["job_id"])
        assert len(before) == 8
        for n in range(1, 5):  # the render adopted the storyboard's pictures
            preview = await (await client.get(board["scenes"][n - 1]["image_url"])).read()
            assert before[f"images/scene_{n:02d}.png"] == preview

        # a portrait that is no upload, or outside the allowed folders: a 400 naming it; nothing changes
        for image, words in (("0123456789ab_nobody.png", "no such upload"),
                             ("/etc/hostname", "outside the allowed folders")):
            resp = await client.patch(base, json={"characters": [{"name": "Mara", "image": image}]})
            body = await resp.json()
            assert resp.status == 400, body
            assert body["field"] == "characters[0].image" and words in body["error"], body
        unchanged = await (await client.get(base)).json()
        assert unchanged["characters"][0]["portrait_url"] == mara["portrait_url"]

        # the portrait replaced: shown at once, and exactly Mara's scenes read as stale
        resp = await client.patch(base, json={
            "characters": [{"name": "Mara", "description": MARA, "image": second_face}]})
        assert resp.status == 200, await resp.text()
        board = await resp.json()
        [mara2] = board["characters"]
        assert mara2["image"] == second_face and mara2["portrait_source"] == "own"
        assert mara2["portrait_url"] != mara["portrait_url"] and mara2["scenes"] == SHOWS_MARA
        second_portrait = await (await client.get(mara2["portrait_url"])).read()
        assert second_portrait != first_portrait
        assert [s["index"] for s in board["scenes"] if s["image_stale"]] == SHOWS_MARA
        assert (await client.get(f"{base}/cast/nobody-000000.png")).status == 404
        bad = await client.get(f"{base}/cast/Mara.png")
        assert bad.status == 400 and (await bad.json())["field"] == "slug"

        second = await (await client.post(f"{base}/render")).json()
        done = await wait_job(client, second["job_id"])
        assert done["status"] == "complete", done
        after, keys_after = artifacts(config, second["job_id"]), _sidecars(config, second["job_id"])
        # the storyboard adopted the render's pictures: Mara's scenes show the new portrait, none stale
        board = await (await client.get(base)).json()
        assert not any(s["image_stale"] for s in board["scenes"]), board["scenes"]
        for n in range(1, 5):
            shown = await (await client.get(board["scenes"][n - 1]["image_url"])).read()
            assert shown == after[f"images/scene_{n:02d}.png"], n

    # exactly Mara's scenes were painted again, with the new portrait; scene 3 and every voice kept
    assert set(after) == set(before)
    for name in before:
        changed = name.startswith("images/") and int(name[-6:-4]) in SHOWS_MARA
        assert (after[name] != before[name]) is changed, name
    new_digest = mara2["portrait_url"].rsplit("v=", 1)[1]
    old_digest = mara["portrait_url"].rsplit("v=", 1)[1]
    for n in range(1, 5):
        assert keys_after[n]["source"] == keys_before[n]["source"] == "draft"
        if n in SHOWS_MARA:
            assert keys_before[n]["portraits"] == {"Mara": old_digest}
            assert keys_after[n]["portraits"] == {"Mara": new_digest}
            assert keys_after[n]["key"] != keys_before[n]["key"] and "reused_from" not in keys_after[n]
        else:
            assert keys_after[n]["portraits"] == {} and keys_after[n]["key"] == keys_before[n]["key"]
    job = await (await client.get(f"/api/jobs/{second['job_id']}")).json()
    assert any("Reused the pictures of scene(s) 3:" in line for line in job["details"]), job["details"]
    assert any("Mara (own image)" in line for line in job["details"]), job["details"]
    assert (config.videos_dir / done["video_path"]).stat().st_size > 10_000
    # the render used the portrait the storyboard showed (the same bytes, from the storyboard's pool)
    assert (Path(config.jobs_dir) / second["job_id"] / "cast" / f"{mara2['slug']}.png").read_bytes() == \
        second_portrait
