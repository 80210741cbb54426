"""The language at the edge: the request's ``language`` field, a 400 listing the codes for an
unknown one and naming what to download when no installed voice speaks it (never a job that
fails later), /api/options listing every language with what speaks it here and what to install,
/api/voices with a language column, and the field in /api/openapi.json."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.narration.random_vits import build_random_vits
from server.config import Config
from server.schemas import parse_video_request

import TTS  # noqa: E402,F401  the tts extra is part of the test install: missing is a failure


async def test_a_spanish_job_on_a_bare_machine_is_a_400_naming_what_to_download(client: Any) -> None:
    resp = await client.post("/api/generate-video", json={"topic": "el faro", "language": "es"})
    assert resp.status == 400
    error = await resp.json()
    assert error["field"] == "language" and "python scripts/download_models.py --voices es" in error["error"]
    assert (await (await client.get("/api/jobs")).json())["jobs"] == []


async def test_an_unknown_language_is_a_400_listing_the_codes(client: Any) -> None:
    resp = await client.post("/api/generate-video", json={"topic": "x", "language": "tlh"})
    assert resp.status == 400
    error = await resp.json()
    codes = "en, es, fr, de, it, pt, nl, pl, tr, ru, cs, ar, zh, ja, ko, hi"
    assert error["field"] == "language" and codes in error["error"]


async def test_english_is_always_served_and_the_default(client: Any) -> None:
    spec = parse_video_request({"topic": "x"})
    assert spec.language == "en"
    spanish = parse_video_request({"topic": "x", "language": "es-MX", "voice_id": "es_davefx"})
    assert (spanish.language, spanish.voice_id) == ("es", "es_davefx")  # the narrator picks among es voices


async def test_a_language_with_an_installed_voice_is_accepted(aiohttp_client: Any, config: Config) -> None:
    from server.app import create_app

    build_random_vits(Path(config.models_dir) / "tts" / "coqui-es-css10-vits", ("css10",))
    client = await aiohttp_client(create_app(config))
    # an own script: no language model needed (tests/test_languages_gaps.py has the one without)
    resp = await client.post("/api/generate-video", json={"topic": "el faro", "language": "es",
                                                          "script": "El faro estaba apagado."})
    assert resp.status == 200, await resp.text()
    options = await (await client.get("/api/options")).json()
    es = next(v for v in options["language"] if v["value"] == "es")
    assert es["served"] is True and es["voices"] == ["es_css10_vits"] and es["backends"] == ["coqui-vits"]


async def test_options_list_each_language_with_what_speaks_it_and_what_to_install(client: Any) -> None:
    body = await (await client.get("/api/options")).json()
    rows = {v["value"]: v for v in body["language"]}
    assert set(rows) >= {"en", "es", "fr", "de", "it", "pt", "nl", "pl", "tr", "ru", "cs", "ar", "zh", "ja",
                         "ko", "hi"}
    assert rows["en"]["served"] and "embedded-piper" in rows["en"]["backends"]
    assert not rows["es"]["served"]
    assert "python scripts/download_models.py --voices es" in rows["es"]["install"]
    assert rows["ja"]["install"][0] == "python scripts/download_models.py --xtts"
    assert "Spanish (Español)" == rows["es"]["description"]
    assert "served" not in body["pacing"][0]  # only languages carry the machine's state


async def test_voices_have_a_language_column(client: Any) -> None:
    voices = (await (await client.get("/api/voices")).json())["voices"]
    assert all(v["language"] for v in voices)
    assert {"en", "es", "fr", "de", "zh", "ar"} <= {v["language"] for v in voices}


async def test_openapi_describes_the_language_field(client: Any) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    field = doc["components"]["schemas"]["VideoRequest"]["properties"]["language"]
    assert field["default"] == "en" and "language" in field["description"]
