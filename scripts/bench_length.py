"""How close the narrated length of embedded-voice + draft-writer jobs lands to the request.

    python scripts/bench_length.py [--quick] [--json OUT]
    python scripts/bench_length.py --languages es,fr,ja [--models-dir models]   # rows per language

For a grid of specs (every story type, every pacing, 0.25-3 minutes, 1-12 scenes, a 60-scene
5-minute job, several seeds) it asks the narrator for its words per minute, has the draft writer
write to it, narrates the script with the embedded Piper voice and compares the audio's length
with the requested duration. Columns: the predicted rate, target vs. written words, sentences,
the measured speech and pause seconds, the audio length and its error. The error is split into
speech (voice faster/slower than predicted) and pauses so a miss can be traced.

With --languages, a row per language and duration for every language a voice installed under
models/ speaks (the others are listed with what to download): a script in that language (its
sample sentences, engine.languages) written to the narrator's rate for it, narrated by the voice
the narrator picks for it; the words column counts characters for Chinese and Japanese."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.contracts import Scene, Script  # noqa: E402
from engine.languages import CODES, language, normalize_code  # noqa: E402
from engine.models import find_installed  # noqa: E402
from engine.narration.narrator import CatalogNarrator  # noqa: E402
from engine.narration.voice_packs import support  # noqa: E402
from engine.script.length import word_budget  # noqa: E402
from engine.script.speakable import sentences as split_sentences, word_count  # noqa: E402
from engine.narration.sentences import prepare_text  # noqa: E402
from engine.narration.timing import PACING  # noqa: E402
from engine.presets import STORY_TYPES  # noqa: E402
from engine.progress import StageProgress  # noqa: E402
from engine.script.draft import DraftWriter  # noqa: E402
from engine.spec import Character, HookIntensity, JobSpec, Pacing  # noqa: E402

PACINGS = (Pacing.SLOW, Pacing.MODERATE, Pacing.DYNAMIC, Pacing.FAST)
HOOKS = (HookIntensity.LOW, HookIntensity.MEDIUM, HookIntensity.HIGH, HookIntensity.EXTREME)
DURATIONS = (0.25, 0.5, 1.0, 3.0)


@dataclass(frozen=True)
class Row:
    story_type: str
    pacing: str
    minutes: float
    scenes: int
    seed: int
    wpm: float
    target_words: int
    words: int
    sentences: int
    speech_s: float
    pause_s: float
    audio_s: float

    @property
    def error(self) -> float:
        return self.audio_s / (self.minutes * 60.0) - 1.0

    def line(self) -> str:
        return (f"{self.story_type:<13}{self.pacing:<9}{self.minutes:5.2f}{self.scenes:4d}{self.seed:3d} "
                f"{self.wpm:6.1f}{self.target_words:6d}{self.words:6d}{self.sentences:5d} "
                f"{self.speech_s:7.1f}{self.pause_s:7.1f}{self.audio_s:7.1f} {100 * self.error:+6.1f}%")


HEADER = (f"{'story_type':<13}{'pacing':<9}{'min':>5}{'sc':>4}{'sd':>3} {'wpm':>6}{'want':>6}{'words':>6}"
          f"{'sent':>5} {'speech':>7}{'pause':>7}{'audio':>7} {'error':>7}")


def specs(quick: bool = False) -> list[JobSpec]:
    """The grid: each story type at each pacing, with duration, scene count and seed rotating so
    every combination of duration and pacing comes up; plus the dramatic 15 s example over seeds
    and one 60-scene 5-minute job."""
    out: list[JobSpec] = []
    sarah = (Character("Sarah", "25 years old, brown hair, terrified expression"),)
    for t, story in enumerate(STORY_TYPES):
        for p, pacing in enumerate(PACINGS):
            k = t * len(PACINGS) + p
            minutes = DURATIONS[(t + p) % len(DURATIONS)]
            most = {0.25: 4, 0.5: 6, 1.0: 10, 3.0: 12}[minutes]
            scenes = 1 + (k * 5) % most
            out.append(JobSpec(topic="The Vanishing Lighthouse", story_type=story, duration_minutes=minutes,
                               num_scenes=scenes, pacing=pacing, hook_intensity=HOOKS[k % 4],
                               characters=sarah if k % 3 == 0 else (), seed=k % 7))
    for seed in range(6):
        out.append(JobSpec(topic="The Vanishing Lighthouse", story_type="scary_horror", duration_minutes=0.25,
                           num_scenes=3, pacing=Pacing.DYNAMIC, hook_intensity=HookIntensity.EXTREME,
                           characters=sarah, seed=seed))
    out.append(JobSpec(topic="The Lost Ships of the North Sea", story_type="history", duration_minutes=5.0,
                       num_scenes=60, pacing=Pacing.MODERATE, seed=1))
    return out[::4] if quick else out


def sample_script(spec: JobSpec, wpm: float) -> Script:
    """A script in the spec's language to the rate ``wpm``: each scene its language's sample
    sentences over and over, stopping at the sentence nearest the scene's share."""
    lang = language(spec.language)
    pool = split_sentences(lang.sample) or [lang.sample]
    scenes = []
    for target in word_budget(spec.num_scenes, spec.duration_minutes, wpm).scene_targets:
        parts: list[str] = []
        i = 0
        while True:
            nxt = pool[i % len(pool)]
            have = word_count(lang.joiner.join(parts))
            if parts and have + word_count(nxt) / 2 > target:
                break
            parts.append(nxt)
            i += 1
        scenes.append(Scene(lang.joiner.join(parts), ""))
    return Script(f"{lang.name} sample", tuple(scenes))


def language_specs(codes: list[str]) -> list[JobSpec]:
    return [JobSpec(topic="The Vanishing Lighthouse", language=code, duration_minutes=minutes,
                    num_scenes=scenes, pacing=pacing)
            for code in codes
            for minutes, scenes, pacing in ((0.25, 2, Pacing.FAST), (0.5, 3, Pacing.MODERATE),
                                            (1.0, 4, Pacing.MODERATE), (1.0, 4, Pacing.SLOW))]


def measure(narrator: CatalogNarrator, writer: DraftWriter | None, spec: JobSpec, workdir: Path) -> Row:
    wpm = narrator.words_per_minute(spec)
    if writer is None:
        script = sample_script(spec, wpm)
    else:
        script = writer.write(spec, progress=StageProgress("script"), words_per_minute=wpm)
    target = round(spec.duration_minutes * wpm)
    narration = narrator.narrate(script, spec, workdir, progress=StageProgress("narration"))
    profile = PACING[spec.pacing]
    pauses = 0.0
    count = 0
    for scene in script.scenes:
        sentences = prepare_text(scene.narration, max_chars=400, language=spec.language)
        count += len(sentences)
        pauses += profile.scene_lead_in + profile.scene_tail
        pauses += sum(profile.pause_after(s) for s in sentences[:-1])
    audio = sum(s.duration for s in narration.scenes)
    label = spec.story_type if writer is not None else f"lang:{spec.language}"
    return Row(label, spec.pacing.value, spec.duration_minutes, spec.num_scenes, spec.seed, wpm,
               target, script.word_count, count, round(audio - pauses, 2),
               round(pauses, 2), round(audio, 2))


def summary(rows: list[Row]) -> str:
    errors = [r.error for r in rows]
    worst = max(rows, key=lambda r: abs(r.error))
    lines = [f"{len(rows)} jobs: mean error {100 * statistics.mean(errors):+.1f}%, "
             f"mean |error| {100 * statistics.mean(abs(e) for e in errors):.1f}%, "
             f"worst {100 * worst.error:+.1f}% ({worst.story_type} {worst.pacing} {worst.minutes:g} min "
             f"{worst.scenes} scenes seed {worst.seed}); "
             f"{sum(abs(e) > 0.10 for e in errors)} outside ±10%, "
             f"{sum(abs(e) > 0.15 for e in errors)} outside ±15%"]
    for pacing in PACINGS:
        sub = [r.error for r in rows if r.pacing == pacing.value]
        if sub:
            lines.append(f"  {pacing.value:<9} mean {100 * statistics.mean(sub):+5.1f}%  "
                         f"range {100 * min(sub):+5.1f}% .. {100 * max(sub):+5.1f}%")
    for minutes in sorted({r.minutes for r in rows}):
        sub = [r.error for r in rows if r.minutes == minutes]
        lines.append(f"  {minutes:5.2f} min mean {100 * statistics.mean(sub):+5.1f}%  "
                     f"range {100 * min(sub):+5.1f}% .. {100 * max(sub):+5.1f}%")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every fourth spec only")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--languages", default="", metavar="CODES",
                        help="rows per language instead (comma list, or 'all'), where a voice is installed")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    args = parser.parse_args()
    writer: DraftWriter | None = DraftWriter()
    grid = specs(args.quick)
    tts: dict[str, Path] = {}
    if args.languages:
        tts = {m.name: m.path for m in find_installed(args.models_dir) if m.kind == "tts"}
        wanted = list(CODES) if args.languages == "all" else [c.strip() for c in args.languages.split(",")]
        served = []
        for code in wanted:
            if normalize_code(code) is None:
                parser.error(f"unknown language {code!r}; use {', '.join(CODES)}")
            found = support(code, tts)
            if found.served:
                served.append(found.language.code)
            else:
                print(f"{code}: no voice installed — {' or '.join(found.install)}", flush=True)
        writer, grid = None, language_specs(served)
    narrator = CatalogNarrator(tts, keep_loaded=True)
    rows: list[Row] = []
    started = time.monotonic()
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for i, spec in enumerate(grid):
            row = measure(narrator, writer, spec, Path(tmp) / f"job{i}")
            rows.append(row)
            print(row.line(), flush=True)
    narrator.close()
    if rows:
        print(summary(rows))
    print(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"error": r.error} for r in rows], indent=1))


if __name__ == "__main__":
    main()
