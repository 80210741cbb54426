"""The worker's side of a storyboard task (server/worker.py hands it the command): draft, a scene's
picture, a scene's narration, or both, through engine/storyboard.py, with progress and notes as
events and the result in a ``task_done`` event. Also the two steps a render of a storyboard adds
around engine.pipeline.run: the storyboard's pool is named as the job's reuse pool before, and
the job's artifacts are filed in it after (so the next render finds them). Once the job is done, the
storyboard adopts the pictures it used (server/storyboard_adopt.py, run by the lane)."""

from __future__ import annotations

import secrets
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from engine import artifacts
from engine.pipeline import Backends
from engine.spec import JobSpec
from server.storyboards import storyboards_dir


class Events(Protocol):
    def emit(self, event: str, **fields: Any) -> None: ...


def run_storyboard(cmd: dict[str, Any], backends: Backends, events: Events, cancel: threading.Event) -> None:
    """Do the task; emits progress/note events and ``task_done``. Raises what the engine raised."""
    from engine import storyboard as sb

    task_id = str(cmd["job_id"])
    spec = JobSpec.from_dict(cmd["spec"])
    folder = Path(cmd["folder"])
    index = int(cmd.get("index", -1))
    op = str(cmd["op"])
    payload = dict(cmd.get("payload") or {})

    def report(percent: float, message: str) -> None:
        events.emit("progress", job_id=task_id, stage="storyboard", percent=percent, message=message)

    def note(line: str) -> None:
        events.emit("note", job_id=task_id, line=line)

    if op == "draft":
        result = sb.draft(spec, folder, backends, images=bool(payload.get("images", True)), report=report,
                          note=note, cancel=cancel)
    elif op == "image":
        result = sb.paint(spec, folder, backends, index, report=report, note=note, cancel=cancel)
    elif op in ("narration", "both"):
        # narration: the creator's "prompt" is a hint for the rewrite and "seed" picks its variant;
        # both: "prompt" is the picture's (already the scene's image prompt, kept over the rewrite's)
        # and the rewrite's variant follows the picture's seed
        given = payload.get("prompt")
        hint = given if op == "narration" else None
        seed = payload.get("seed")
        if seed is None and op == "both" and spec.script is not None:
            seed = spec.script.scenes[index].seed
        split = (lambda p, m: report(p / 2, m)) if op == "both" else report
        result = sb.rewrite(spec, folder, backends, index,
                            int(seed) if seed is not None else secrets.randbelow(1 << 31),
                            hint=str(hint) if hint else None, report=split, note=note, cancel=cancel)
        if op == "both":
            assert spec.script is not None
            if given:
                result["image_prompt"] = spec.script.scenes[index].image_prompt
            scenes = list(spec.script.scenes)
            scenes[index] = replace(scenes[index], narration=result["narration"],
                                    image_prompt=result["image_prompt"])
            painted = sb.with_scenes(spec, tuple(scenes), spec.script.title)
            result.update(sb.paint(painted, folder, backends, index,
                                   report=lambda p, m: report(50 + p / 2, m), note=note, cancel=cancel))
    else:
        raise ValueError(f"unknown storyboard task {op!r}")
    events.emit("task_done", job_id=task_id, result=result)


def before_render(spec: JobSpec, workdir: Path, data_dir: Path) -> Path | None:
    """A storyboard's render reuses the storyboard's pool (pictures and earlier renders' voices)."""
    if not spec.storyboard_id:
        return None
    from engine.storyboard import pool_of

    pool = pool_of(storyboards_dir(data_dir) / spec.storyboard_id)
    workdir.mkdir(parents=True, exist_ok=True)
    artifacts.set_pools(workdir, [pool])
    return pool


def after_render(workdir: Path, pool: Path | None) -> None:
    if pool is not None and pool.parent.is_dir():
        artifacts.publish(workdir, pool)
