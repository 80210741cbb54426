"""The four stages, end to end: script, then images and narration, then video — overlapped
(engine/overlap.py): the compositor starts before the last picture is painted.

Every artifact is written into the job's folder (script.json, images/, audio/, narration.json,
timeline.json), so a job interrupted by a crash resumes from what is already there."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine import tempnames
from engine.contracts import ImageSource, Narrator, Script, ScriptWriter
from engine.errors import ModelFailed
from engine.progress import OverallProgress, StageProgress
from engine.spec import JobSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backends:
    script: ScriptWriter
    images: ImageSource
    narration: Narrator


class Reporter(Protocol):
    """Where a job's progress goes (the job store, a CLI, a test)."""

    def progress(self, stage: str, percent: float, message: str) -> None: ...

    def note(self, line: str) -> None: ...

    def stage_done(self, stage: str, seconds: float) -> None: ...


@dataclass(frozen=True)
class Result:
    video: Path
    script: Script
    duration: float  # seconds of video (speech, held longer when it ran short of the request)


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write: a reader (or a resumed job) never sees half a file."""
    tempnames.write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False))


def video_name(spec: JobSpec, job_id: str) -> str:
    """The job's MP4: ``video_<topic words>_<job id>.mp4``. The job id makes it one a web page
    cannot guess, and the same on every attempt, so a resumed job replaces its own file instead of
    leaving an orphan beside a second copy."""
    words = re.findall(r"[a-z0-9]+", spec.topic.lower().encode("ascii", "ignore").decode())
    slug = "-".join(words)[:40].strip("-")
    return f"video_{slug}_{job_id}.mp4" if slug else f"video_{job_id}.mp4"


def _load_script(path: Path, spec: JobSpec) -> Script | None:
    try:
        script = Script.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return script if len(script.scenes) == spec.num_scenes else None


def rendered_from(marker: Path, timeline: Any) -> bool:
    """Whether the MP4 beside ``marker`` was rendered from exactly this timeline."""
    try:
        return bool(json.loads(marker.read_text(encoding="utf-8")).get("timeline") == timeline)
    except (OSError, ValueError, AttributeError):
        return False


def run(
    spec: JobSpec,
    workdir: Path,
    *,
    backends: Backends,
    videos_dir: Path,
    reporter: Reporter,
    cancel: threading.Event,
) -> Result:
    """Script first; then images and narration side by side (one after the other when both are
    model stages that would fight for one device), with the compositor starting on scene 1 as
    soon as its picture and voice exist and streaming scene by scene (overlap.py)."""
    from engine.overlap import Overlap

    workdir.mkdir(parents=True, exist_ok=True)
    videos_dir.mkdir(parents=True, exist_ok=True)
    locked = SerialReporter(reporter)
    overall = OverallProgress(locked.progress)
    script_started = time.perf_counter()
    progress = StageProgress("script", overall.sink, locked.note, cancel)
    progress.check_cancelled()
    script = _write_script(spec, workdir, backends, progress)
    overall.finish("script")
    seconds = time.perf_counter() - script_started
    locked.stage_done("script", seconds)
    logger.info("%6.2fs  stage script done (%s)", seconds, workdir.name)

    video, duration = Overlap(spec, workdir, videos_dir, backends, script, locked, overall, cancel).run(
        video_name(spec, workdir.name))
    from engine.exports import write_exports

    write_exports(spec, workdir, script)  # captions.srt/.vtt, script.json, poster.jpg beside the job
    return Result(video=video, script=script, duration=duration)


class SerialReporter:
    """The reporter, called from one stage thread at a time."""

    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter
        self._lock = threading.Lock()

    def progress(self, stage: str, percent: float, message: str) -> None:
        with self._lock:
            self._reporter.progress(stage, percent, message)

    def note(self, line: str) -> None:
        with self._lock:
            self._reporter.note(line)

    def stage_done(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._reporter.stage_done(stage, seconds)


def _write_script(spec: JobSpec, workdir: Path, backends: Backends, progress: StageProgress) -> Script:
    path = workdir / "script.json"
    cached = _load_script(path, spec)
    if cached is not None:
        progress(1.0, "Script ready (from the previous run)")
        progress.note("Resumed: reusing the script already written for this job")
        return cached
    progress(0.0, "Writing the script")
    wpm = backends.narration.words_per_minute(spec)  # includes the voice's pauses
    if spec.script is not None:  # the creator's own: no script writer, no language model
        from engine.script.own import OwnScriptWriter

        script = OwnScriptWriter().write(spec, progress=progress, words_per_minute=wpm)
    else:
        progress.note(f"Script: {backends.script.name}")
        script = backends.script.write(spec, progress=progress, words_per_minute=wpm)
    if len(script.scenes) != spec.num_scenes:
        raise ModelFailed(
            f"The script writer returned {len(script.scenes)} scenes instead of {spec.num_scenes}; "
            "try again, or pick a different model in models/llm/."
        )
    write_json(path, script.to_dict())
    progress(1.0, f"Script ready: {len(script.scenes)} scenes, {script.length_text(spec.language)}")
    return script
