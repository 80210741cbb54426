"""The four stages, end to end: script -> images -> narration -> video.

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
from typing import Any, Callable, Protocol, TypeVar

from engine import tempnames
from engine.contracts import ImageSource, Narration, Narrator, Script, ScriptWriter
from engine.errors import ModelFailed
from engine.progress import StageProgress
from engine.spec import JobSpec

logger = logging.getLogger(__name__)
T = TypeVar("T")


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


def _rendered_from(marker: Path, timeline: Any) -> bool:
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
    from engine.assemble import build_timeline
    from engine.compose.child import render_in_child

    workdir.mkdir(parents=True, exist_ok=True)
    videos_dir.mkdir(parents=True, exist_ok=True)

    def stage(name: str, work: Callable[[StageProgress], T]) -> T:
        progress = StageProgress(name, reporter.progress, reporter.note, cancel)
        progress.check_cancelled()
        started = time.perf_counter()
        result = work(progress)
        seconds = time.perf_counter() - started
        reporter.stage_done(name, seconds)
        logger.info("%6.2fs  stage %s done (%s)", seconds, name, workdir.name)
        return result

    def write_script(progress: StageProgress) -> Script:
        path = workdir / "script.json"
        cached = _load_script(path, spec)
        if cached is not None:
            progress(1.0, "Script ready (from the previous run)")
            progress.note("Resumed: reusing the script already written for this job")
            return cached
        progress(0.0, "Writing the script")
        progress.note(f"Script: {backends.script.name}")
        wpm = backends.narration.words_per_minute(spec)  # includes the voice's pauses
        script = backends.script.write(spec, progress=progress, words_per_minute=wpm)
        if len(script.scenes) != spec.num_scenes:
            raise ModelFailed(
                f"The script writer returned {len(script.scenes)} scenes instead of {spec.num_scenes}; "
                "try again, or pick a different model in models/llm/."
            )
        write_json(path, script.to_dict())
        progress(1.0, f"Script ready: {len(script.scenes)} scenes, {script.word_count} words")
        return script

    script = stage("script", write_script)

    def paint(progress: StageProgress) -> list[Path]:
        progress(0.0, f"Creating scene 1 of {spec.num_scenes}")
        progress.note(f"Images: {backends.images.name}")
        paths = backends.images.images(script, spec, workdir, progress=progress)
        if len(paths) != len(script.scenes):
            raise ModelFailed(f"Got {len(paths)} images for {len(script.scenes)} scenes.")
        progress(1.0, f"All {len(paths)} scene images ready")
        return paths

    images = stage("images", paint)

    def speak(progress: StageProgress) -> Narration:
        progress(0.0, f"Narrating scene 1 of {spec.num_scenes}")
        progress.note(f"Voice: {backends.narration.name}")
        narration = backends.narration.narrate(script, spec, workdir, progress=progress)
        write_json(workdir / "narration.json", narration.to_dict())
        progress(1.0, "Narration ready")
        return narration

    narration = stage("narration", speak)

    def compose(progress: StageProgress) -> tuple[Path, float]:
        progress(0.0, "Rendering video 0%")
        timeline = build_timeline(spec, images, narration, workdir)
        out = videos_dir / video_name(spec, workdir.name)
        rendered = workdir / "rendered.json"  # written once the MP4 is in place
        plan = json.loads(json.dumps(timeline.to_dict(base=workdir)))
        if out.is_file() and _rendered_from(rendered, plan):
            progress.note("Resumed: the video was already rendered")
        else:
            timeline.to_json(workdir / "timeline.json")
            render_in_child(workdir / "timeline.json", out, progress=progress)
            write_json(rendered, {"video": out.name, "timeline": plan})
        progress(1.0, "Video ready for download")
        return out, timeline.duration

    video, duration = stage("video", compose)
    return Result(video=video, script=script, duration=duration)
