"""Overlapped stages on the real embedded backends (draft writer, draft art, the Piper voice) and
the real compositor: the first frame is encoded before the last picture exists, the progress the
frontend reads never goes backwards and stays in its stage's range, a draft job is a 720p
H.264/AAC file of the requested length, a finished job resumes without rendering again, and a
cancel during the overlap stops every stage and leaves no partial video."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.backends import choose_backends
from engine.compose import ffmpeg as ff
from engine.contracts import ImageSource, Progress, Script
from engine.errors import JobCancelled
from engine.overlap import side_by_side
from engine.pipeline import Backends, run
from engine.progress import STAGE_RANGES, StageProgress
from engine.spec import JobSpec, Quality


@dataclass
class Recorder:
    """The job store's view: every progress report with the wall time it arrived."""

    reports: list[tuple[float, str, float, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    done: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def progress(self, stage: str, percent: float, message: str) -> None:
        with self.lock:
            self.reports.append((time.time(), stage, percent, message))

    def note(self, line: str) -> None:
        self.notes.append(line)

    def stage_done(self, stage: str, seconds: float) -> None:
        self.done[stage] = seconds


class SlowPainter:
    """The real draft-art router, painting the last scene as slowly as SDXL on the CPU would
    (it waits before reporting it), so the overlap shows."""

    def __init__(self, inner: ImageSource, delay: float) -> None:
        self.inner, self.delay, self.name = inner, delay, inner.name

    def images(self, script: Script, spec: JobSpec, workdir: Path, *, progress: Progress) -> list[Path]:
        assert isinstance(progress, StageProgress)
        late = f"Creating scene {spec.num_scenes} "

        def slow_sink(stage: str, percent: float, message: str) -> None:
            if message.startswith(late):
                time.sleep(self.delay)
            progress.sink(stage, percent, message)

        slow = StageProgress("images", slow_sink, progress.detail, progress.cancel)
        return self.inner.images(script, spec, workdir, progress=slow)


def _backends(tmp: Path, delay: float = 0.0) -> Backends:
    choice = choose_backends(models_dir=tmp / "models", stock_dir=tmp / "stock", manual_roots=(),
                             script="draft", images="draft", narration="embedded", check=False)
    b = choice.backends
    return Backends(b.script, SlowPainter(b.images, delay), b.narration) if delay else b


def _check_progress(rec: Recorder) -> None:
    numbers = [p for _, _, p, _ in rec.reports]
    assert numbers == sorted(numbers), "progress went backwards"
    for _, stage, pct, msg in rec.reports:
        lo, hi = STAGE_RANGES[stage]
        assert lo <= pct <= hi, (stage, pct, msg)


def test_frames_are_encoded_before_the_last_picture_exists(tmp_path: Path) -> None:
    spec = JobSpec(topic="the lighthouse keeper", duration_minutes=0.25, num_scenes=4, quality=Quality.DRAFT)
    rec = Recorder()
    result = run(spec, tmp_path / "job", backends=_backends(tmp_path, delay=8.0),
                 videos_dir=tmp_path / "videos", reporter=rec, cancel=threading.Event())

    last_image = (tmp_path / "job" / "images" / "scene_04.png").stat().st_mtime
    encoding = [t for t, _, _, msg in rec.reports
                if "Rendering video" in msg and "Rendering video 0%" not in msg]
    assert encoding and encoding[0] < last_image, "the compositor waited for the last picture"
    _check_progress(rec)
    assert rec.reports[-1][2] == 100
    # the substatus named stages running together at some point
    assert any(" · " in msg for *_, msg in rec.reports)
    assert set(rec.done) == {"script", "images", "narration", "video"}

    # a draft job: 1280x720 (16:9) H.264 + AAC, the requested 15 seconds
    info = ff.probe(result.video)
    video, audio = info.first("video"), info.first("audio")
    assert video is not None and audio is not None
    assert (video.codec, video.width, video.height) == ("h264", 1280, 720)
    assert audio.codec == "aac"
    assert info.duration == pytest.approx(15.0, abs=0.1)
    assert result.duration == pytest.approx(15.0, abs=0.05)

    # run again (a resume after the job finished): nothing is rendered twice
    again = Recorder()
    mtime = result.video.stat().st_mtime_ns
    run(spec, tmp_path / "job", backends=_backends(tmp_path), videos_dir=tmp_path / "videos",
        reporter=again, cancel=threading.Event())
    assert "Resumed: the video was already rendered" in again.notes
    assert result.video.stat().st_mtime_ns == mtime
    _check_progress(again)


def test_cancel_during_the_overlap_stops_every_stage(tmp_path: Path) -> None:
    spec = JobSpec(topic="a storm at sea", duration_minutes=0.25, num_scenes=4, quality=Quality.DRAFT)
    rec = Recorder()
    cancel = threading.Event()

    def cancel_once_rendering() -> None:
        while not any("Rendering video" in m and "0%" not in m for *_, m in list(rec.reports)):
            time.sleep(0.05)
        cancel.set()

    threading.Thread(target=cancel_once_rendering, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        run(spec, tmp_path / "job", backends=_backends(tmp_path, delay=3.0),
            videos_dir=tmp_path / "videos", reporter=rec, cancel=cancel)
    assert time.monotonic() - started < 60
    videos = tmp_path / "videos"
    assert not videos.exists() or list(videos.iterdir()) == []  # no partial or temporary file
    _check_progress(rec)


def test_model_stages_that_share_a_device_run_one_after_the_other(tmp_path: Path) -> None:
    b = _backends(tmp_path)
    assert side_by_side(b)  # the embedded voice runs beside any painter

    @dataclass
    class Named:  # only the backend's name decides
        name: str

    assert not side_by_side(Backends(b.script, Named("sdxl"), Named("coqui")))  # type: ignore[arg-type]
    assert side_by_side(Backends(b.script, Named("sdxl"), b.narration))  # type: ignore[arg-type]


def test_relay_mode_runs_one_stage_after_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """STORYREEL_OVERLAP=0: what scripts/bench_job.py --relay compares the overlap against."""
    monkeypatch.setenv("STORYREEL_OVERLAP", "0")
    spec = JobSpec(topic="a quiet harbour", duration_minutes=0.1, num_scenes=2, quality=Quality.DRAFT)
    done_at: dict[str, float] = {}

    class Timed(Recorder):
        def stage_done(self, stage: str, seconds: float) -> None:
            done_at[stage] = time.time()

    rec = Timed()
    result = run(spec, tmp_path / "job", backends=_backends(tmp_path), videos_dir=tmp_path / "videos",
                 reporter=rec, cancel=threading.Event())
    assert result.video.is_file()
    assert done_at["script"] <= done_at["images"] <= done_at["narration"] <= done_at["video"]
    first_voice = min(t for t, _, _, m in rec.reports if "Narrating" in m)
    first_video = min(t for t, _, _, m in rec.reports if "Rendering video" in m)
    assert done_at["images"] <= first_voice and done_at["narration"] <= first_video
    assert not any(" · " in m for *_, m in rec.reports)  # never two stages at once
    _check_progress(rec)
