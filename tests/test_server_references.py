"""Pictures a request refers to: a character's reference portrait and manual images, given as the
filename /api/upload answered or as a path under an allowed folder; refused with a 400 naming the
field otherwise; and kept by the retention sweep while a job needs them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from engine.spec import Character, JobSpec, OwnScript, ScriptScene
from server.config import Config


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 80), colour).save(buf, format="PNG")
    return buf.getvalue()


async def _upload(client: Any, name: str, colour: tuple[int, int, int]) -> dict[str, str]:
    form = aiohttp.FormData()
    form.add_field("file", _png(colour), filename=name, content_type="image/png")
    resp = await client.post("/api/upload", data=form)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def test_an_upload_id_names_a_portrait_and_a_manual_image(client: Any, config: Config) -> None:
    face = await _upload(client, "ada.png", (200, 150, 120))
    scene = await _upload(client, "harbour.png", (20, 60, 120))
    resp = await client.post("/api/generate-video", json={
        "topic": "The Vanishing Lighthouse",
        "characters": [{"name": "Ada", "description": "a keeper in a yellow coat",
                        "image": face["filename"]}],
        "image_mode": "mixed",
        "manual_image_paths": [scene["filename"]],
    })
    assert resp.status == 200, await resp.text()
    job = await (await client.get(f"/api/jobs/{(await resp.json())['job_id']}")).json()
    assert job["spec"]["characters"][0]["image"] == str(Path(face["path"]).resolve())
    assert job["spec"]["manual_image_paths"] == [str(Path(scene["path"]).resolve())]
    await client.post(f"/api/jobs/{job['job_id']}/cancel")


async def test_a_portrait_that_is_no_upload_or_outside_the_folders_is_a_400(
        client: Any, config: Config, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    outside.write_bytes(_png((1, 2, 3)))
    try:
        for image, words in (("0123456789ab_nobody.png", "no such upload"),
                             (str(outside), "outside the allowed folders"),
                             ("", "1-1024 characters")):
            resp = await client.post("/api/generate-video", json={
                "topic": "The Vanishing Lighthouse", "characters": [{"name": "Ada", "image": image}],
            })
            body = await resp.json()
            assert resp.status == 400, body
            assert body["field"] == "characters[0].image", body
            assert words in body["error"], body
    finally:
        outside.unlink()
    assert (await (await client.get("/api/jobs")).json())["jobs"] == []


def test_a_spec_lists_every_file_of_the_creator_it_reads() -> None:
    spec = JobSpec(
        topic="t", manual_image_paths=("/m/a.png",), music="/m/song.mp3",
        characters=(Character("Ada", image="/m/ada.png"), Character("Bo")),
        script=OwnScript(scenes=(ScriptScene("One."), ScriptScene("Two.", image="/m/two.png"))),
    )
    assert set(spec.files()) == {"/m/a.png", "/m/song.mp3", "/m/ada.png", "/m/two.png"}
    assert JobSpec.from_dict(spec.to_dict()).files() == spec.files()


async def test_a_storyboard_in_a_language_nothing_here_speaks_is_a_400(client: Any) -> None:
    resp = await client.post("/api/storyboards", json={"topic": "El faro", "language": "es"})
    body = await resp.json()
    assert resp.status == 400, body
    assert body["field"] == "language" and "download_models.py --voices es" in body["error"], body
    assert (await (await client.get("/api/storyboards")).json())["storyboards"] == []


async def test_a_storyboards_portrait_upload_is_kept_by_the_sweep(client: Any, config: Config) -> None:
    from server.storyboards import files_in_use

    face = await _upload(client, "ada.png", (200, 150, 120))
    resp = await client.post("/api/storyboards", json={
        "topic": "The Vanishing Lighthouse", "images": False,
        "characters": [{"name": "Ada", "image": face["filename"]}],
    })
    assert resp.status == 202, await resp.text()
    assert Path(face["path"]).resolve() in files_in_use(config.db_path)
