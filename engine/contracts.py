"""The data that flows between stages, and the protocol each stage backend implements.
See ../shared/DESIGN.md ("Stage contracts")."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from engine.languages import length_text
from engine.progress import StageProgress, SubProgress
from engine.script.speakable import word_count
from engine.spec import Character, JobSpec

Progress = StageProgress | SubProgress


@dataclass(frozen=True)
class Scene:
    narration: str
    image_prompt: str
    characters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Script:
    title: str
    scenes: tuple[Scene, ...]
    characters: tuple[Character, ...] = ()
    #: Who wrote it, e.g. "draft writer (no language model)" or "llama.cpp: qwen2.5-7b.gguf".
    source: str = ""

    @property
    def word_count(self) -> int:
        """The narration's length in its language's units: words, and each Chinese character or
        Japanese kana/kanji as one (engine.script.speakable.word_count, the one count every writer,
        budget and message uses; engine.languages.Language.unit names the unit)."""
        return sum(word_count(s.narration) for s in self.scenes)

    def length_text(self, language: str) -> str:
        """The length as a creator reads it: "120 words", or "480 characters" for Chinese."""
        return length_text(self.word_count, language)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "source": self.source,
            "characters": [asdict(c) for c in self.characters],
            "scenes": [
                {"narration": s.narration, "image_prompt": s.image_prompt, "characters": list(s.characters)}
                for s in self.scenes
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Script":
        return cls(
            title=str(d["title"]),
            source=str(d.get("source", "")),
            characters=tuple(Character(**c) for c in d.get("characters", ())),
            scenes=tuple(
                Scene(s["narration"], s["image_prompt"], tuple(s.get("characters", ()))) for s in d["scenes"]
            ),
        )


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the start of its scene's audio
    end: float


@dataclass(frozen=True)
class SceneAudio:
    wav: Path
    duration: float
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Narration:
    scenes: tuple[SceneAudio, ...]
    sample_rate: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "scenes": [
                {"wav": str(s.wav), "duration": s.duration, "words": [asdict(w) for w in s.words]}
                for s in self.scenes
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Narration":
        return cls(
            sample_rate=int(d["sample_rate"]),
            scenes=tuple(
                SceneAudio(Path(s["wav"]), float(s["duration"]), tuple(Word(**w) for w in s["words"]))
                for s in d["scenes"]
            ),
        )


@runtime_checkable
class ScriptWriter(Protocol):
    name: str

    def write(self, spec: JobSpec, *, progress: Progress, words_per_minute: float = 150.0) -> Script: ...

    def rewrite_scene(self, script: Script, index: int, spec: JobSpec, *, hint: str | None = None,
                      seed: int = 0, progress: Progress, words_per_minute: float = 150.0) -> Scene:
        """Scene ``index`` of ``script`` written again in the story's context (title, characters,
        the scenes around it, ``spec``'s language, type and pacing), within its share of the word
        budget (characters for Chinese and Japanese), following the creator's ``hint`` where the
        writer can; a different scene for another ``seed``, the same for the same one."""
        ...


@runtime_checkable
class ImageSource(Protocol):
    name: str

    def images(self, script: Script, spec: JobSpec, workdir: Path, *, progress: Progress) -> list[Path]: ...


@runtime_checkable
class Narrator(Protocol):
    name: str

    def words_per_minute(self, spec: JobSpec) -> float: ...

    def narrate(self, script: Script, spec: JobSpec, workdir: Path, *, progress: Progress) -> Narration: ...
