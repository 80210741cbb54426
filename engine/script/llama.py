"""LlamaWriter: scene plans from a local GGUF language model through llama-cpp-python.

A short script is written in one answer (title, character sheet, scenes). A long one is planned
first (an outline with one summary per scene), then written in batches of scenes that fit the
context. Every answer is grammar-constrained JSON, validated, and retried with feedback a bounded
number of times. Scenes that come out short are continued, a bounded number of rounds; a script
that is over its budget is trimmed at sentence boundaries, so the final word count lands within
±10% of the target or the job fails with a clear error. The model is loaded for the stage and
released after it unless ``keep_loaded``. ``LlamaWriter.from_settings`` takes the manifest's
settings for the GGUF (layers on the GPU, context, chat format, sampling)."""

from __future__ import annotations

import functools
import gc
import logging
import math
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

from engine.contracts import Progress, Scene, Script
from engine.errors import BadInput, ModelFailed
from engine.languages import language
from engine.script import llama_prompts as prompts
from engine.script import llama_runtime as runtime
from engine.script import llama_schema as shapes
from engine.script.llama_plan import (
    CALL_WORDS,
    INSTRUCTION_TOKENS,
    SCENE_OVERHEAD,
    SHEET_TOKENS,
    TOKENS_PER_WORD,
    CallPlan,
    TokenMeter,
    answer_tokens,
    groups,
    plan_calls,
    scene_label,
)
from engine.script.finish import DraftScene, finish, merge_sheet
from engine.script.grammar_sampler import Sampling
from engine.script.length import SceneBudget, WordBudget, trim_to_budget, word_budget
from engine.script.speakable import speakable, trim_to_words, word_count
from engine.spec import JobSpec

log = logging.getLogger(__name__)
T = TypeVar("T")
#: The context a one-scene rewrite loads the model with (or the manifest's, when larger), and the
#: words of neighbouring scenes it shows at most (fewer when the prompt would not fit).
REWRITE_CTX = 2048
REWRITE_CONTEXT_WORDS = 600


class LlamaWriter:
    """ScriptWriter on a local GGUF model (llama-cpp-python)."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_gpu_layers: int | None = None,
        chat_format: str | None = None,
        n_ctx: int | None = None,
        keep_loaded: bool = False,
        max_retries: int = 2,
        n_threads: int | None = None,
        call_words: int = CALL_WORDS,
        sampling: Sampling = Sampling(),
        cuda_present: Callable[[], bool] = runtime.cuda_card_present,
    ) -> None:
        self.model_path = Path(model_path)
        self.n_gpu_layers = n_gpu_layers
        self.chat_format = chat_format
        self.n_ctx = n_ctx
        self.keep_loaded = keep_loaded
        self.max_retries = max(0, max_retries)
        self.n_threads = n_threads
        self.call_words = max(50, call_words)
        self.sampling = sampling
        self.name = f"llama.cpp: {self.model_path.name}"
        self._lock = threading.Lock()
        self._kept: runtime.Loaded | None = None
        self._cuda_present = cuda_present
        self._gpu_checked = False

    @classmethod
    def from_settings(cls, model_path: Path, settings: Mapping[str, Any], **kwargs: Any) -> "LlamaWriter":
        """A writer with the manifest's settings for this GGUF (``InstalledModel.settings``):
        n_gpu_layers, n_ctx, chat_format, temperature, top_k, top_p, min_p, repeat_penalty."""
        s = runtime.LlamaSettings.from_mapping(settings)
        return cls(
            model_path,
            n_gpu_layers=s.n_gpu_layers,
            chat_format=s.chat_format,
            n_ctx=s.n_ctx,
            sampling=s.sampling,
            **kwargs,
        )

    # -- the stage ---------------------------------------------------------------------------
    def write(self, spec: JobSpec, *, progress: Progress, words_per_minute: float = 150.0) -> Script:
        progress.check_cancelled()
        budget = word_budget(spec.num_scenes, spec.duration_minutes, words_per_minute)
        calls = plan_calls(budget, call_words=self.call_words, n_ctx=self.n_ctx)
        if self.n_ctx and calls.n_ctx > self.n_ctx:
            log.info("this script needs a %d-token context (%d configured)", calls.n_ctx, self.n_ctx)
        started = time.monotonic()
        with self._lock:
            progress(0.0, f"Loading the language model {self.model_path.name}")
            loaded = self._acquire(calls.n_ctx)
            try:
                if loaded.note:
                    progress.note(loaded.note)
                meter = TokenMeter(progress, calls.expected_tokens)
                script = self._write(loaded, spec, budget, calls, meter)
            finally:
                if not self.keep_loaded:
                    self._drop(loaded)
        log.info(
            "llama script: %s, %d scenes, %d words (target %d), %d tokens in %.1fs",
            spec.story_type,
            len(script.scenes),
            script.word_count,
            budget.target,
            meter.done,
            time.monotonic() - started,
        )
        progress(1.0, f"Script ready: {len(script.scenes)} scenes, {script.word_count} words")
        return script

    def rewrite_scene(self, script: Script, index: int, spec: JobSpec, *, hint: str | None = None,
                      seed: int = 0, progress: Progress, words_per_minute: float = 150.0) -> Scene:
        """Scene ``index`` written again in one grammar-constrained answer (one scene object:
        narration within the scene's budget, in the language asked; an image prompt), the story
        around it in the prompt, trimmed to fit the context. One model load (none when kept)."""
        progress.check_cancelled()
        n = len(script.scenes)
        if not 0 <= index < n:
            raise BadInput(f"the script has no scene {index + 1}")
        whole = word_budget(n, spec.duration_minutes, words_per_minute)
        budget, total = SceneBudget(whole.scene_targets[index]), whole.target
        story = replace(spec, num_scenes=n, characters=script.characters, script=None)
        chars = _in_chars(spec)
        lo = max(budget.low, round(0.95 * budget.target))  # the grammar's floor, above what is accepted
        schema = shapes.scene_schema(lo, budget.high, chars=chars)
        reserve = answer_tokens(budget.high, 1) - SHEET_TOKENS + 8  # the answer's room in the context
        n_ctx = max(REWRITE_CTX, math.ceil((INSTRUCTION_TOKENS + reserve) / 512) * 512)
        with self._lock:
            progress(0.0, f"Loading the language model {self.model_path.name}")
            loaded = self._acquire(max(self.n_ctx or 0, min(32768, n_ctx)))
            try:
                if loaded.note:
                    progress.note(loaded.note)
                narrations = [s.narration for s in script.scenes]
                allowance = REWRITE_CONTEXT_WORDS
                while True:  # the neighbours shown shrink until the prompt and the answer fit
                    messages = prompts.rewrite_messages(story, total, script.title, script.characters,
                                                        narrations, index, budget.target, hint, allowance)
                    if allowance == 0 or runtime.prompt_tokens(loaded, messages) + reserve <= loaded.n_ctx:
                        break
                    allowance //= 2
                meter = TokenMeter(progress, budget.target * TOKENS_PER_WORD + SCENE_OVERHEAD[0])
                draft = self._ask(
                    loaded, meter, messages, schema,
                    functools.partial(shapes.read_scene, want=budget.target, low=budget.low,
                                      current=narrations[index]),
                    what=f"scene {index + 1}", words=budget.high, scenes=1, seed=seed,
                    label=lambda _: f"Rewriting scene {index + 1}",
                )
            finally:
                if not self.keep_loaded:
                    self._drop(loaded)
        text = draft.narration
        if word_count(text) > budget.high:
            text = trim_to_words(text, budget.high, exact=True)
        scene = finish(script.title, script.characters, [DraftScene(text, draft.image_prompt)],
                       self.name).scenes[0]
        unit = language(spec.language).unit_name
        progress(1.0, f"Scene {index + 1} rewritten ({word_count(scene.narration)} {unit})")
        return scene

    def close(self) -> None:
        """Release a model kept loaded between jobs."""
        with self._lock:
            if self._kept is not None:
                self._drop(self._kept)

    # -- hook: one model answer (tests override this to corrupt an answer) -------------------
    def _complete(
        self,
        loaded: runtime.Loaded,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        *,
        max_tokens: int,
        seed: int,
        meter: TokenMeter,
    ) -> str:
        room = loaded.n_ctx - runtime.prompt_tokens(loaded, messages) - 8
        if room < 64:
            raise ModelFailed(
                f"The prompt for {self.model_path.name} does not fit its {loaded.n_ctx}-token context; "
                "set a larger n_ctx for this model or ask for fewer scenes."
            )
        answer = runtime.stream(
            loaded,
            messages,
            schema,
            max_tokens=min(max_tokens, room),
            seed=seed,
            on_piece=meter.piece,
            sampling=self.sampling,
        )
        if answer.finish == "length":
            log.info("answer stopped at the token limit (%d tokens)", min(max_tokens, room))
        return answer.text

    # -- internals ---------------------------------------------------------------------------
    def _acquire(self, n_ctx: int) -> runtime.Loaded:
        kept = self._kept
        if kept is not None and kept.n_ctx >= n_ctx:
            return kept
        if kept is not None:
            self._drop(kept)
        self._check_gpu_build()
        loaded = runtime.load(
            self.model_path,
            n_ctx=n_ctx,
            n_gpu_layers=self.n_gpu_layers,
            chat_format=self.chat_format,
            n_threads=self.n_threads,
        )
        if self.keep_loaded:
            self._kept = loaded
        return loaded

    def _check_gpu_build(self) -> None:
        """Once per writer: a CUDA card that llama.cpp cannot use is said loudly (the script then
        runs on the CPU, several times slower)."""
        if self._gpu_checked:
            return
        self._gpu_checked = True
        if self.n_gpu_layers == 0 or runtime.gpu_offload_supported() is not False:
            return
        if self._cuda_present():
            log.warning(
                "%s (the script model %s runs on the CPU)", runtime.NO_GPU_BUILD, self.model_path.name
            )

    def _drop(self, loaded: runtime.Loaded) -> None:
        runtime.release(loaded)
        if self._kept is loaded:
            self._kept = None
        del loaded
        gc.collect()

    def _ask(
        self,
        loaded: runtime.Loaded,
        meter: TokenMeter,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        read: Callable[[str], tuple[T | None, list[shapes.Problem]]],
        *,
        what: str,
        words: int,
        scenes: int,
        seed: int,
        label: Callable[[str], str],
    ) -> T:
        """One answer, validated; retried with feedback up to ``max_retries`` times."""
        max_tokens = answer_tokens(words, scenes)
        history = list(messages)
        problems: list[shapes.Problem] = []
        for attempt in range(self.max_retries + 1):
            meter.progress.check_cancelled()
            meter.start(label)
            answer = self._complete(
                loaded, history, schema, max_tokens=max_tokens, seed=seed + 7919 * attempt, meter=meter
            )
            value, problems = read(answer)
            fatal = [p for p in problems if p.fatal]
            # soft problems (a character not named) get one retry, not the whole allowance
            if value is not None and (
                not problems or (not fatal and (attempt >= 1 or attempt == self.max_retries))
            ):
                for p in problems:
                    meter.progress.note(f"Script note: {p.message}")
                return value
            if attempt < self.max_retries:
                meter.progress.note(
                    f"The model's {what} was rejected ({problems[0].message}); asking again "
                    f"({attempt + 1} of {self.max_retries})"
                )
                meter.expect_more(words * TOKENS_PER_WORD + scenes * SCENE_OVERHEAD[0])
                history = list(messages) + prompts.feedback(answer, [p.message for p in problems])
        detail = "; ".join(p.message for p in problems[:3])
        raise ModelFailed(
            f"{self.model_path.name} gave no usable {what} after {self.max_retries + 1} attempts "
            f"({detail}). Try a larger or instruction-tuned GGUF in models/llm/, fewer scenes, or the "
            "draft writer."
        )

    def _write(
        self, loaded: runtime.Loaded, spec: JobSpec, budget: WordBudget, calls: CallPlan, meter: TokenMeter
    ) -> Script:
        n = spec.num_scenes
        target = budget.target
        if calls.single:
            plan = self._ask(
                loaded,
                meter,
                prompts.plan_messages(spec, target, calls.first_words),
                shapes.plan_schema(calls.first_words, len(spec.characters), chars=_in_chars(spec)),
                lambda a: shapes.read_scenes(a, calls.first_words, requested=spec.characters),
                what="script",
                words=sum(calls.first_words),
                scenes=n,
                seed=spec.seed,
                label=scene_label(0, n),
            )
            title, sheet, scenes = (
                plan.title,
                merge_sheet(spec.characters, plan.characters),
                list(plan.scenes),
            )
        else:
            outline = self._ask(
                loaded,
                meter,
                prompts.outline_messages(spec, target),
                shapes.outline_schema(n, len(spec.characters), chars=_in_chars(spec)),
                lambda a: shapes.read_outline(a, n),
                what="outline",
                words=n * 30,
                scenes=n,
                seed=spec.seed,
                label=lambda _: "Planning the story",
            )
            title, sheet = outline.title, merge_sheet(spec.characters, outline.characters)
            names = [c.name for c in sheet]
            scenes = []
            for start, stop in calls.batches:
                words = calls.first_words[start:stop]
                previous = scenes[-1].narration if scenes else ""
                batch = self._ask(
                    loaded,
                    meter,
                    prompts.batch_messages(
                        spec, target, title, sheet, outline.summaries, start, words, previous
                    ),
                    shapes.batch_schema(words, names, chars=_in_chars(spec)),
                    functools.partial(_read_batch, scene_words=words, first=start),
                    what=f"scenes {start + 1}-{stop}",
                    words=sum(words),
                    scenes=stop - start,
                    seed=spec.seed + start + 1,
                    label=scene_label(start, n),
                )
                scenes.extend(
                    replace(s, characters=s.characters + o.characters)
                    for s, o in zip(batch.scenes, outline.scenes[start:stop])
                )
        narrations = self._lengthen(loaded, meter, spec, budget, title, [s.narration for s in scenes])
        narrations = trim_to_budget(narrations, budget)
        total = sum(word_count(t) for t in narrations)
        if not budget.accepts(total):
            raise ModelFailed(
                f"{self.model_path.name} wrote {total} words where {budget.target} were needed "
                f"({budget.low}-{budget.high} accepted). Try a larger or instruction-tuned GGUF."
            )
        if budget.floored:
            meter.progress.note(
                f"{n} scenes need at least {budget.target} words, more than "
                f"{spec.duration_minutes:g} minutes allows; the script is a little longer"
            )
        final = [DraftScene(text, s.image_prompt, s.characters) for text, s in zip(narrations, scenes)]
        return finish(title or spec.topic, sheet, final, self.name)

    def _lengthen(
        self,
        loaded: runtime.Loaded,
        meter: TokenMeter,
        spec: JobSpec,
        budget: WordBudget,
        title: str,
        narrations: list[str],
    ) -> list[str]:
        """Continue short scenes until the script reaches its target (bounded rounds); fail clearly
        when the model still falls short."""
        out = list(narrations)
        rounds = math.ceil(max(budget.scene_targets) / self.call_words) + self.max_retries
        for r in range(rounds):
            total = sum(word_count(t) for t in out)
            if total >= max(budget.low, budget.target * 0.93):
                return out
            short = [(i, budget.scene_targets[i] - word_count(t)) for i, t in enumerate(out)]
            short = [
                (i, min(d, self.call_words)) for i, d in short if d >= max(2, 0.05 * budget.scene_targets[i])
            ]
            if not short:
                short = [(len(out) - 1, budget.target - total)]
            meter.expect_more(sum(d for _, d in short) * TOKENS_PER_WORD + len(short) * 20)
            for group in groups(short, self.call_words):
                adds = [d for _, d in group]
                texts = self._ask(
                    loaded,
                    meter,
                    prompts.more_messages(
                        spec, budget.target, title, [(i, out[i], d) for i, d in group], len(out)
                    ),
                    shapes.more_schema(adds, chars=_in_chars(spec)),
                    functools.partial(_read_more, add_words=adds),
                    what="continuation",
                    words=sum(adds),
                    scenes=len(group),
                    seed=spec.seed + 1000 * (r + 1),
                    label=lambda _: "Lengthening short scenes",
                )
                for (i, _), text in zip(group, texts):
                    out[i] = speakable(out[i] + language(spec.language).joiner + text)
        total = sum(word_count(t) for t in out)
        if total < budget.low:
            raise ModelFailed(
                f"{self.model_path.name} wrote only {total} of the {budget.target} words needed for"
                f" {spec.duration_minutes:g} minutes after {rounds} rounds of asking for more. Try a larger"
                " or instruction-tuned GGUF, or a shorter duration."
            )
        return out


def _read_batch(
    answer: str, *, scene_words: Sequence[int], first: int
) -> tuple[shapes.Plan | None, list[shapes.Problem]]:
    return shapes.read_scenes(answer, scene_words, first=first)


def _in_chars(spec: JobSpec) -> bool:
    """Chinese and Japanese narration is written without spaces and counted in characters."""
    return not language(spec.language).spaced


def _read_more(answer: str, *, add_words: Sequence[int]) -> tuple[list[str] | None, list[shapes.Problem]]:
    return shapes.read_more(answer, add_words)
