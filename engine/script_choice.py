"""Which installed GGUF writes a story's language best, chosen per job.

With several GGUFs in models/llm/ (say Llama 3.x beside Qwen2.5) the script stage asks, for each
job, which of them writes its language well (the model families' published language lists, the
same the downloader's catalog notes), and among equals keeps the one already loaded (so the worker
holds one warm model, not one per language), then the manifest's preferred one (engine.models.pick:
recorded before scanned, then the largest). The job's details say which model wrote the script and
why; script.json's ``source`` names it too.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Callable, Final, Mapping, Protocol, Sequence

from engine.contracts import Progress, Scene, Script
from engine.languages import language
from engine.models import InstalledModel
from engine.spec import JobSpec

GOOD: Final = 2  # the family's makers list the language as supported
FAIR: Final = 1  # it writes it, less well (or the family is not known here)

#: A GGUF's family from its name, title or file name (first match wins), and the languages the
#: family writes well (engine.languages codes).
_FAMILIES: Final[tuple[tuple[str, re.Pattern[str], frozenset[str]], ...]] = (
    ("Qwen", re.compile(r"qwen", re.IGNORECASE),
     frozenset({"en", "zh", "ja", "ko", "ar", "ru", "es", "fr", "de", "it", "pt"})),
    ("Llama 3", re.compile(r"llama[-_ .]?3", re.IGNORECASE),
     frozenset({"en", "es", "fr", "de", "it", "pt", "hi"})),
    ("Mistral", re.compile(r"mistral|mixtral", re.IGNORECASE), frozenset({"en", "fr", "de", "es", "it"})),
    ("Gemma", re.compile(r"gemma", re.IGNORECASE), frozenset({"en"})),
    ("Phi", re.compile(r"\bphi[-_ ]?\d", re.IGNORECASE), frozenset({"en"})),
)


@dataclass(frozen=True)
class Fit:
    """How well one installed GGUF writes one language."""

    model: InstalledModel
    score: int  # GOOD or FAIR
    family: str | None  # None: not a family known here

    @property
    def label(self) -> str:
        return self.model.path.name


def family(model: InstalledModel) -> tuple[str | None, frozenset[str]]:
    text = " ".join((model.name, model.title, model.path.name))
    for name, pattern, good in _FAMILIES:
        if pattern.search(text):
            return name, good
    return None, frozenset()


def fit(model: InstalledModel, code: str) -> Fit:
    name, good = family(model)
    return Fit(model, GOOD if code in good else FAIR, name)


def _rank(m: InstalledModel) -> tuple[int, int]:
    return (1 if m.found_by == "manifest" else 0, m.size_bytes)


def choose(models: Sequence[InstalledModel], code: str, *, warm: InstalledModel | None = None) -> tuple[
        InstalledModel, str]:
    """The GGUF to write a story in ``code``, and why (a sentence for the job's details)."""
    llms = [m for m in models if m.kind == "llm"]
    if not llms:
        raise ValueError("no GGUF language model to choose from")
    lang = language(code)
    fits = [fit(m, lang.code) for m in llms]
    best = max(fits, key=lambda f: (f.score, f.model == warm, _rank(f.model)))
    if len(fits) == 1:
        why = "the only installed GGUF"
    elif best.score == GOOD:
        why = f"{best.family} writes {lang.name} well"
        weaker = [f.label for f in fits if f.score < GOOD]
        if weaker:
            why += f" ({', '.join(weaker)} less so)"
        ties = [f for f in fits if f.score == GOOD and f is not best]
        if ties and best.model == warm:
            why += "; already loaded"
        elif ties:
            why += "; the preferred of the installed GGUFs that do"
    else:
        why = f"no installed GGUF is known to write {lang.name} well; the preferred one"
    if best.score < GOOD and lang.code != "en":
        why += f" — it may write {lang.name} poorly"
    return best.model, why


class Writer(Protocol):
    """What LanguageWriter needs of each GGUF's writer (engine.script.llama.LlamaWriter)."""

    name: str

    def write(self, spec: JobSpec, *, progress: Progress, words_per_minute: float = 150.0) -> Script: ...

    def rewrite_scene(self, script: Script, index: int, spec: JobSpec, *, hint: str | None = None,
                      seed: int = 0, progress: Progress, words_per_minute: float = 150.0) -> Scene: ...

    def close(self) -> None: ...


class LanguageWriter:
    """ScriptWriter over several GGUFs: each job is written by the one that writes its language
    best (see choose). With ``keep_loaded`` one model stays warm: switching to another releases
    the one held before it loads."""

    def __init__(self, models: Sequence[InstalledModel], make: Callable[[InstalledModel], Writer], *,
                 keep_loaded: bool = False) -> None:
        self.models = tuple(m for m in models if m.kind == "llm")
        if len(self.models) < 2:
            raise ValueError("LanguageWriter chooses among two or more GGUFs")
        self.keep_loaded = keep_loaded
        self._make = make
        self._writers: dict[InstalledModel, Writer] = {}
        self._warm: InstalledModel | None = None
        self._lock = threading.Lock()
        self.name = "llama.cpp, per language: " + ", ".join(m.path.name for m in self.models)

    def plan(self) -> Mapping[str, str]:
        """Which GGUF writes each language here (for /health and the doctor)."""
        from engine.languages import CODES

        return {code: choose(self.models, code)[0].path.name for code in CODES}

    @property
    def warm(self) -> InstalledModel | None:
        return self._warm

    def write(self, spec: JobSpec, *, progress: Progress, words_per_minute: float = 150.0) -> Script:
        with self._lock:  # one job at a time per worker; the lock keeps the warm bookkeeping whole
            model, writer = self._writer_for(spec, progress)
            try:
                return writer.write(spec, progress=progress, words_per_minute=words_per_minute)
            finally:
                self._warm = model if self.keep_loaded else None

    def rewrite_scene(self, script: Script, index: int, spec: JobSpec, *, hint: str | None = None,
                      seed: int = 0, progress: Progress, words_per_minute: float = 150.0) -> Scene:
        """A storyboard's scene written again by the GGUF that writes the story's language best."""
        with self._lock:
            model, writer = self._writer_for(spec, progress)
            try:
                return writer.rewrite_scene(script, index, spec, hint=hint, seed=seed, progress=progress,
                                            words_per_minute=words_per_minute)
            finally:
                self._warm = model if self.keep_loaded else None

    def _writer_for(self, spec: JobSpec, progress: Progress) -> tuple[InstalledModel, Writer]:
        model, why = choose(self.models, spec.language, warm=self._warm)
        if self._warm is not None and self._warm != model:
            self._writers[self._warm].close()  # one warm model: release it before the next loads
            self._warm = None
        writer = self._writers.get(model)
        if writer is None:
            writer = self._writers[model] = self._make(model)
        progress.note(f"Script model: {model.path.name} ({why})")
        return model, writer

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.close()
            self._warm = None
