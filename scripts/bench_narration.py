"""Real-time factor of each installed narration backend on this machine (compute s / audio s).

    python scripts/bench_narration.py [--models-dir models] [--device cpu|cuda] [--no-full] [--json OUT]

Rows: the embedded Piper voice (raw synthesis and the whole narrator: text prep, shaping,
timing, loudness, WAV writing); Coqui VITS with a tiny random-weight model (a lower bound: the
loading and synthesis code, little compute); Coqui VITS with the full published architecture and
random weights (the compute of the real VCTK model, without its download); and every real model
found under models/tts/. The embedded voice's speaking rate and length-scale response (used by
the words-per-minute estimate) are measured too."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.contracts import Scene, Script  # noqa: E402
from engine.narration.audio import speech_bounds  # noqa: E402
from engine.narration.sentences import prepare_text  # noqa: E402
from engine.narration.speech import SpeechEngine  # noqa: E402
from engine.progress import StageProgress  # noqa: E402
from engine.spec import JobSpec  # noqa: E402

TEXT = (
    "In 1893, Dr. Elias Hart took the lighthouse job for $5 a week. Nobody else wanted it. "
    "The island was a mile of black rock, and the nearest town lay 12 miles across cold water. "
    "On March 3rd the lamp went dark. At 10:30 pm, he climbed the 112 steps and found the door open. "
    "Someone had been there before him, someone who knew the way in the dark. "
    "What did he see? We may never know, but the keeper's log ends that night, in the middle of a word."
)


@dataclass(frozen=True)
class Row:
    backend: str
    device: str
    load_s: float
    audio_s: float
    compute_s: float
    words: int
    cpu_s: float = 0.0  # process CPU time (all threads): less sensitive to other load on the machine

    @property
    def rtf(self) -> float:
        return self.compute_s / max(self.audio_s, 1e-9)

    def line(self) -> str:
        return (f"{self.backend:<44} {self.device:<5} load {self.load_s:6.2f} s  "
                f"audio {self.audio_s:6.2f} s  compute {self.compute_s:6.2f} s  RTF {self.rtf:6.3f}  "
                f"(CPU time / audio {self.cpu_s / max(self.audio_s, 1e-9):6.3f})")


def time_engine(name: str, make: Callable[[], SpeechEngine],
                device: str) -> tuple[Row, SpeechEngine, float, int]:
    """Load, warm up on one sentence, then speak TEXT sentence by sentence."""
    t0 = time.perf_counter()
    engine = make()
    load = time.perf_counter() - t0
    sentences = prepare_text(TEXT, max_chars=engine.max_chars)
    engine.synthesize(sentences[0].text, length_scale=1.0, noise=1.0)  # warm-up (graph, caches)
    audio_s = compute = cpu = 0.0
    speech_s = 0.0
    for sentence in sentences:
        t, c = time.perf_counter(), time.process_time()
        speech = engine.synthesize(sentence.text, length_scale=1.0, noise=1.0)
        compute += time.perf_counter() - t
        cpu += time.process_time() - c
        audio_s += len(speech.audio) / speech.sample_rate
        a, b = speech_bounds(speech.audio, speech.sample_rate)
        speech_s += (b - a) / speech.sample_rate
    words = sum(len(s.spoken_words) for s in sentences)
    return Row(name, device, load, audio_s, compute, words, cpu), engine, speech_s, words


def fixed_share(engine: SpeechEngine) -> float:
    """Fit duration(ls) = d1 * (c + (1 - c) * ls) over ls 0.5..2 (noise off); return c."""
    import numpy as np

    text = prepare_text(TEXT)[2].text
    scales = np.array([0.5, 1.0, 1.5, 2.0])
    durations = np.array([len(engine.synthesize(text, length_scale=float(ls), noise=0.0).audio)
                          for ls in scales])
    slope, intercept = np.polyfit(scales, durations, 1)
    return float(intercept / (intercept + slope))


def bench_embedded(rows: list[Row], facts: dict[str, Any]) -> None:
    from engine.narration.narrator import CatalogNarrator
    from engine.narration.piper_engine import PiperEngine

    row, engine, speech_s, words = time_engine("embedded Piper joe (synthesis only)", PiperEngine, "cpu")
    rows.append(row)
    facts["piper_words_per_second_speech"] = round(words / speech_s, 3)
    facts["piper_fixed_share"] = round(fixed_share(engine), 3)
    engine.close()
    script = Script("bench", tuple(Scene(p.strip() + ".", "") for p in TEXT.split(". ") if p.strip()))
    with tempfile.TemporaryDirectory() as tmp:
        narrator = CatalogNarrator({})
        spec = JobSpec(topic="bench", num_scenes=len(script.scenes))
        t, c = time.perf_counter(), time.process_time()
        narration = narrator.narrate(script, spec, Path(tmp), progress=StageProgress("narration"))
        compute, cpu = time.perf_counter() - t, time.process_time() - c
    audio_s = sum(s.duration for s in narration.scenes)
    n_words = sum(len(s.words) for s in narration.scenes)
    rows.append(Row("embedded: whole CatalogNarrator (incl. load)", "cpu", 0.0, audio_s, compute, n_words,
                    cpu))
    facts["narrator_wpm_measured_moderate"] = round(60 * n_words / audio_s, 1)
    facts["narrator_wpm_predicted_moderate"] = narrator.words_per_minute(
        JobSpec(topic="x", num_scenes=len(script.scenes), duration_minutes=audio_s / 60))


def bench_coqui(rows: list[Row], facts: dict[str, Any], device: str, full: bool, models_dir: Path) -> None:
    try:
        import torch  # noqa: F401
        import TTS  # noqa: F401
    except ImportError as exc:
        print(f"Coqui TTS not installed ({exc.name}): skipping its rows")
        return
    from engine.narration.coqui_engine import CoquiEngine
    from engine.narration.random_vits import build_random_vits
    from engine.narration.voices import VOICES

    voice = VOICES["male_narrator_deep"]
    sizes: list[Literal["tiny", "full"]] = ["tiny", "full"] if full else ["tiny"]
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = build_random_vits(Path(tmp) / size, ("p225", voice.speaker), size=size)
            label = f"Coqui VITS, random weights, {size} size"
            row, engine, _, _ = time_engine(label, lambda: CoquiEngine(folder, voice, device=device), device)
            rows.append(row)
            engine.close()
    tts_dir = models_dir / "tts"
    folders = sorted(p for p in tts_dir.glob("*") if (p / "config.json").is_file())
    for folder in folders:
        model = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model", "")
        candidates = [v for v in VOICES.values() if v.backend == model]
        if not candidates:
            print(f"{folder}: model type {model!r} is not one the catalog uses; skipped")
            continue
        try:
            row, engine, speech_s, words = time_engine(
                f"Coqui {model.upper()} {folder.name} ({candidates[0].speaker})",
                lambda: CoquiEngine(folder, candidates[0], device=device), device)
        except Exception as exc:  # report and go on to the next model
            print(f"{folder}: {type(exc).__name__}: {exc}")
            continue
        rows.append(row)
        facts[f"{folder.name}_words_per_second_speech"] = round(words / speech_s, 3)
        engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--no-full", action="store_true", help="skip the full-size random VITS")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    device = args.device
    if device is None:
        try:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            device = "cpu"
    rows: list[Row] = []
    facts: dict[str, Any] = {}
    if not args.skip_embedded:
        bench_embedded(rows, facts)
    bench_coqui(rows, facts, device, not args.no_full, args.models_dir)
    print(f"narration real-time factor (compute / audio; lower is faster), {len(TEXT.split())}-word text:")
    for row in rows:
        print("  " + row.line())
    for key, value in facts.items():
        print(f"  {key}: {value}")
    if args.json:
        out = {"rows": [asdict(r) | {"rtf": r.rtf} for r in rows], "facts": facts}
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
