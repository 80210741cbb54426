"""The stages after the script, overlapped: images and narration side by side, and the compositor
streaming scene by scene as soon as a scene's picture and voice both exist.

* Images and narration run on two threads at once, unless both are model stages (SDXL and a
  Coqui voice) that would fight for one device: on a GPU for its memory (one large model
  resident at a time), on a CPU for its cores. Then narration goes first (seconds) and images
  after, so the compositor can start on scene 1 as soon as its picture exists. The embedded
  voice (Piper, light on the CPU) always runs beside the images, from the start: the video
  starts once scenes 1 and 2 have both their picture and their voice, and the voice's model
  load (~0.5 s) is the longest step before that (scripts/bench_job.py: scene 2 ready 0.2 s
  sooner than when the voice waited for the first picture). No stage is ever left running
  after the job ends.
* A scene counts as ready when its files exist in the job folder and are newer than the script
  (a leftover of an earlier script is not mistaken for it): ``images/scene_NN.png`` and
  ``audio/scene_NN.wav`` with its word-timing sidecar. Both stages write them atomically.
* The compositor child gets the timeline of the ready scenes as it grows (assemble.py makes
  scene i depend on scenes 1..i only), then the final timeline with the narration track. Should
  the stages' final answer differ from what was streamed (a file replaced after it was first
  written), the streamed render is dropped and the final timeline rendered again, with a note.
* Any stage failing (or the job's cancel) stops the others at their next check; the first real
  error is raised. A finished MP4 whose ``rendered.json`` matches the final timeline is reused
  (resume after kill -9), as before.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Final, TypeVar

from engine.assemble import build_timeline, partial_timeline, render_settings, scene_weights
from engine.compose.child import ChildRender
from engine.compose.timeline import Timeline
from engine.contracts import Narration, SceneAudio, Script, Word
from engine.errors import EngineError, JobCancelled, ModelFailed
from engine.pipeline import Backends, SerialReporter, rendered_from, write_json
from engine.progress import OverallProgress, StageProgress
from engine.spec import JobSpec

logger = logging.getLogger(__name__)
T = TypeVar("T")
_POLL = 0.05  # seconds between looks for newly finished scenes (a stat of two files per scene)


def _shares(spec: JobSpec, script: Script, backends: Backends) -> list[float]:
    """Each scene's share of the requested length: the voice's own prediction of its length
    (lead-in and pauses included) where the narrator makes one, else its words. With shares
    that follow the voice, a voice that is short overall is short in every scene, so each scene
    ends exactly at its share and the video lasts what was asked."""
    texts = [s.narration for s in script.scenes]
    predict = getattr(backends.narration, "seconds_for", None)
    if callable(predict):
        try:
            return [max(0.1, float(predict(t, spec))) for t in texts]
        except (EngineError, ValueError, KeyError, TypeError) as e:
            logger.info("no per-scene length prediction from the narrator (%s); using words", e)
    return scene_weights(texts)


#: ``STORYREEL_OVERLAP=0`` runs the stages one after another, as before the overlap (to measure
#: what the overlap saves, scripts/bench_job.py --relay; or to rule it out when troubleshooting).
ENV_OVERLAP: Final = "STORYREEL_OVERLAP"


def relay() -> bool:
    return os.environ.get(ENV_OVERLAP, "1").strip().lower() in ("0", "no", "false", "off")


def side_by_side(backends: Backends) -> bool:
    """Whether narration runs beside the images (see the module docstring)."""
    return not (getattr(backends.images, "name", "") == "sdxl"
                and getattr(backends.narration, "name", "") == "coqui")


class Overlap:
    def __init__(self, spec: JobSpec, workdir: Path, videos_dir: Path, backends: Backends, script: Script,
                 reporter: SerialReporter, overall: OverallProgress, cancel: threading.Event) -> None:
        self.spec, self.workdir, self.videos_dir = spec, workdir, videos_dir
        self.backends, self.script = backends, script
        self.reporter, self.overall = reporter, overall
        self.job_cancel = cancel
        self.stop = threading.Event()  # set on the job's cancel or any stage's failure
        self.weights = _shares(spec, script, backends)
        self.since = (workdir / "script.json").stat().st_mtime_ns
        self.settings = render_settings(spec)
        self._lead: list[tuple[Path, SceneAudio]] = []  # leading scenes found ready (_more_scenes)

    # -- the run ----------------------------------------------------------------------------

    def run(self, name: str) -> tuple[Path, float]:
        pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="stage")
        try:
            if relay():  # one stage after another, as before the overlap (for comparison)
                images = pool.submit(self._stage, "images", self._paint)
                narration = pool.submit(self._after, images.done, "narration", self._speak, images)
                video = pool.submit(self._after, narration.done, "video",
                                    lambda p: self._compose(p, name, images, narration), narration)
            else:
                if side_by_side(self.backends):
                    images = pool.submit(self._stage, "images", self._paint)
                    narration = pool.submit(self._stage, "narration", self._speak)
                else:
                    narration = pool.submit(self._stage, "narration", self._speak)
                    images = pool.submit(self._after, narration.done, "images", self._paint, narration)
                video = pool.submit(self._stage, "video", lambda p: self._compose(p, name, images, narration))
            self._wait([images, narration, video])
            return video.result()
        finally:
            self.stop.set()
            pool.shutdown(wait=True)

    def _wait(self, futures: "list[Future[Any]]") -> None:
        """Wait for every stage (none is left running: nothing is written after a job ends);
        the job's cancel or one stage's failure stops the others at their next check. Raises
        the first failure that is not just the echo of that stop."""
        while not all(f.done() for f in futures):
            if self.job_cancel.is_set():
                self.stop.set()
            for f in futures:
                if f.done() and f.exception() is not None:
                    self.stop.set()
            time.sleep(0.02)
        if self.job_cancel.is_set():
            raise JobCancelled()
        errors = [f.exception() for f in futures if f.exception() is not None]
        real = [e for e in errors if not isinstance(e, JobCancelled)]
        if real or errors:
            raise (real or errors)[0]  # type: ignore[misc]

    def _stage(self, name: str, work: Callable[[StageProgress], T]) -> T:
        progress = StageProgress(name, self.overall.sink, self.reporter.note, self.stop)
        progress.check_cancelled()
        started = time.perf_counter()
        result = work(progress)
        seconds = time.perf_counter() - started
        self.overall.finish(name)
        self.reporter.stage_done(name, seconds)
        logger.info("%6.2fs  stage %s done (%s)", seconds, name, self.workdir.name)
        return result

    def _after(self, ready: Callable[[], bool], name: str, work: Callable[[StageProgress], T],
               first: "Future[Any] | None" = None) -> T:
        """Run stage ``name`` once ``ready()`` (polled); not at all after a stop or when the
        stage it waited for failed (``_wait`` raises that failure)."""
        while not ready():
            if self.stop.wait(0.05):
                raise JobCancelled()
        if first is not None and first.exception() is not None:
            raise JobCancelled()
        return self._stage(name, work)

    # -- stages -----------------------------------------------------------------------------

    def _paint(self, progress: StageProgress) -> list[Path]:
        n = self.spec.num_scenes
        progress(0.0, f"Creating scene 1 of {n}")
        progress.note(f"Images: {self.backends.images.name}")
        paths = self.backends.images.images(self.script, self.spec, self.workdir, progress=progress)
        if len(paths) != len(self.script.scenes):
            raise ModelFailed(f"Got {len(paths)} images for {len(self.script.scenes)} scenes.")
        progress(1.0, f"All {len(paths)} scene images ready")
        return paths

    def _speak(self, progress: StageProgress) -> Narration:
        progress(0.0, f"Narrating scene 1 of {self.spec.num_scenes}")
        progress.note(f"Voice: {self.backends.narration.name}")
        narration = self.backends.narration.narrate(self.script, self.spec, self.workdir, progress=progress)
        write_json(self.workdir / "narration.json", narration.to_dict())
        progress(1.0, "Narration ready")
        return narration

    def _compose(self, progress: StageProgress, name: str, images: "Future[list[Path]]",
                 narration: "Future[Narration]") -> tuple[Path, float]:
        progress(0.0, "Rendering video 0% (waiting for the first scene)")
        settings = self.settings
        out = self.videos_dir / name
        marker = self.workdir / "rendered.json"  # written once the MP4 is in place
        child: ChildRender | None = None
        sent: Timeline | None = None
        if not (out.is_file() and marker.is_file()):  # a resumed job with its video skips this
            # started now: its start-up (an interpreter, numpy, OpenCV, ffmpeg) overlaps the
            # first scenes; it waits for the first timeline
            child = ChildRender(out, progress=progress, expect_seconds=self.spec.duration_seconds).start()
        try:
            while not (images.done() and narration.done()):
                progress.check_cancelled()
                if child is not None:
                    if not child.running:
                        child.wait()  # it stopped early: raises its error
                    ready = self._more_scenes()
                    if ready is not None:
                        child.send(ready, final=False)
                        sent = ready
                        logger.info("compositor: %d of %d scenes ready", len(ready.scenes),
                                    self.spec.num_scenes)
                time.sleep(_POLL)
            progress.check_cancelled()
            paths, voice = images.result(), narration.result()
            timeline = build_timeline(self.spec, paths, voice, self.workdir, weights=self.weights,
                                      settings=settings)
            plan = json.loads(json.dumps(timeline.to_dict(base=self.workdir)))
            timeline.to_json(self.workdir / "timeline.json")
            if child is not None and sent is not None and not _same_scenes(timeline, sent):
                progress.note("A scene changed after the render started on it; rendering again")
                child.stop()
                child = None
            if child is None and out.is_file() and rendered_from(marker, plan):
                progress.note("Resumed: the video was already rendered")
            else:
                if child is None:
                    child = ChildRender(out, progress=progress, expect_seconds=timeline.duration).start()
                child.send(timeline, final=True)
                child.wait()
                write_json(marker, {"video": out.name, "timeline": plan})
        except BaseException:
            if child is not None:
                child.stop()
            raise
        progress(1.0, "Video ready for download")
        return out, timeline.duration

    # -- scenes ready so far ----------------------------------------------------------------

    def _more_scenes(self) -> Timeline | None:
        """The timeline of the leading scenes whose picture and voice are both written, when
        more are than at the last look (else None). Scenes found are not read again (a file
        replaced later is caught by the final timeline's check, _same_scenes), so a look costs
        two stats while the next scene is not ready."""
        found = len(self._lead)
        for i in range(found, self.spec.num_scenes):
            img = self._image(i)
            if not self._fresh(img):
                break
            voice = self._voice(i)
            if voice is None:
                break
            self._lead.append((img, voice))
        if len(self._lead) == found:
            return None
        return partial_timeline(self.spec, [img for img, _ in self._lead], [v for _, v in self._lead],
                                self.settings, self.weights)

    def _image(self, i: int) -> Path:
        return self.workdir / "images" / f"scene_{i + 1:02d}.png"

    def _fresh(self, path: Path) -> bool:
        try:
            return path.stat().st_mtime_ns >= self.since
        except OSError:
            return False

    def _voice(self, i: int) -> SceneAudio | None:
        wav = self.workdir / "audio" / f"scene_{i + 1:02d}.wav"
        side = wav.with_suffix(".json")
        if not (self._fresh(wav) and self._fresh(side)):
            return None
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
            words = tuple(Word(str(w["text"]), float(w["start"]), float(w["end"])) for w in data["words"])
            return SceneAudio(wav, float(data["duration"]), words)
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _same_scenes(final: Timeline, sent: Timeline) -> bool:
    """Whether the final timeline starts with the scenes already streamed (and their captions)."""
    k = len(sent.scenes)
    if len(final.scenes) < k:
        return False
    pairs = zip(final.scenes[:k], sent.scenes)
    same = all(Path(a.image).resolve() == Path(b.image).resolve() and abs(a.duration - b.duration) < 1e-9
               and a.motion == b.motion for a, b in pairs)
    return same and final.captions[:len(sent.captions)] == sent.captions
