"""A storyboard as the API shows it (GET /api/storyboards/{id}); built off the event loop.

Each scene: its number, id, narration, image prompt, the characters its picture shows, seed, the
picture (URL, thumbnail URL, source, seed, and ``image_stale`` when the prompt or seed changed
since it was made: the render paints it again), word count and estimated seconds on the voice
the storyboard asks for, and what is being regenerated on it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from engine.spec import JobSpec
from server.storyboards import Board


class ViewMaker:
    """Reads the scenes as a render reads them and estimates their length (the voice's timing
    model; no model is loaded). The narrator is built once, on first use."""

    def __init__(self, models_dir: Path) -> None:
        self._models_dir = Path(models_dir)
        self._lock = threading.Lock()
        self._narrator: Any = None

    def _voice(self) -> Any:
        with self._lock:
            if self._narrator is None:
                from engine.models import find_installed
                from engine.narration.narrator import CatalogNarrator

                tts = {m.name: m.path for m in find_installed(self._models_dir) if m.kind == "tts"}
                self._narrator = CatalogNarrator(tts)
            return self._narrator

    def seconds(self, text: str, spec: JobSpec) -> float:
        try:
            return round(float(self._voice().seconds_for(text, spec)), 1)
        except Exception:  # an estimate only: never fail a view for it
            return round(len(text.split()) / 2.5, 1)


views_key = web.AppKey("storyboard_views", ViewMaker)


def board_view(board: Board, maker: ViewMaker, *, brief: bool = False) -> dict[str, Any]:
    base = f"/api/storyboards/{board.id}"
    regenerating = {board.uids.index(u) + 1: op for u, op in board.busy.items() if u in board.uids}
    view: dict[str, Any] = {
        "storyboard_id": board.id,
        "state": board.state,
        "progress": int(board.progress if board.state != "ready" or board.busy else 100),
        "substatus": board.substatus,
        "error": board.error,
        "title": board.title,
        "scene_count": len(board.scenes),
        "regenerating": [{"scene": n, "what": op} for n, op in sorted(regenerating.items())],
        "renders": [{"job_id": j, "progress_url": f"/api/progress?job_id={j}"} for j in board.renders],
        "created_at": board.created_at,
        "updated_at": board.updated_at,
        "url": base,
    }
    if board.scenes:
        first = board.images.get(board.uids[0]) if board.uids else None
        view["thumbnail_url"] = f"{base}/scenes/1/thumb?v={first['key']}" if first else None
    if brief:
        return view
    from engine.storyboard import read_script

    script = read_script(board.spec) if board.scenes else None
    scenes = []
    for i, (uid, scene) in enumerate(zip(board.uids, board.scenes)):
        record = board.images.get(uid)
        read = script.scenes[i] if script is not None else None
        words = len(read.narration.split()) if read is not None else len(scene.narration.split())
        entry: dict[str, Any] = {
            "index": i + 1,
            "id": uid,
            "narration": read.narration if read is not None else scene.narration,
            "image_prompt": read.image_prompt if read is not None else scene.image_prompt,
            "characters": list(read.characters) if read is not None else [],
            "seed": scene.seed,
            "words": words,
            "estimated_seconds": maker.seconds(scene.narration, board.spec),
            "regenerating": regenerating.get(i + 1),
            "image_url": None,
            "thumbnail_url": None,
            "image_source": None,
            "image_seed": None,
            "image_stale": False,
        }
        if record:
            made_for = (record.get("prompt"), record.get("seed"))
            manual = record.get("source") == "manual"
            entry.update(
                image_url=f"{base}/scenes/{i + 1}/image?v={record['key']}",
                thumbnail_url=f"{base}/scenes/{i + 1}/thumb?v={record['key']}",
                image_source=record.get("source"),
                image_seed=record.get("seed"),
                image_stale=(bool(scene.image) != manual) or (
                    not manual and made_for != (entry["image_prompt"], scene.seed)),
            )
        scenes.append(entry)
    view.update(
        characters=[{"name": c.name, "description": c.description} for c in board.spec.characters],
        scenes=scenes,
        details=list(board.details),
        estimated_seconds=round(sum(s["estimated_seconds"] for s in scenes), 1),
        images=board.want_images,
        spec=board.spec.to_dict(),
        render_url=f"{base}/render",
    )
    return view
