"""What a storyboard still uses, for the prune after a render or an edit (engine/storyboard_prune.py
removes the rest of its pool).

Kept: every picture a scene shows now (the storyboard's picture records, a stale one included:
the creator still sees it), the pictures and voices the latest complete render made or reused for
scenes whose content did not change since (the same narration: the same voice key; the same image
prompt, seed and picture file: the same picture key — the next render adopts exactly those), and
the creator's own pictures (``manual/``) a scene names. Not decided here: while a render of the
storyboard is unfinished, or when the latest render's folder is gone (its keys cannot be read),
nothing is pruned (StoryboardStore.prune asks ``keep_for`` only when no render is unfinished)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import artifacts
from engine.spec import JobSpec, ScriptScene
from engine.storyboard_prune import Keep
from server.storyboards import Board


def _key(path: Path) -> str | None:
    meta = artifacts.read_sidecar(path)
    key = meta.get("key") if meta else None
    return key if isinstance(key, str) and artifacts.matches(path, key) else None


def _picture(scene: ScriptScene, index: int) -> tuple[Any, ...]:
    """What a scene's picture key follows that a storyboard can change (its seed, or its place)."""
    return scene.image_prompt, scene.seed if scene.seed is not None else ("at", index), scene.image


def keep_for(board: Board, latest: tuple[JobSpec, Path] | None) -> Keep | None:
    """What ``board`` still uses, given its latest complete render (spec, job folder) if any; None
    when that render's folder is gone (its keys are unknown: prune nothing)."""
    current = board.scenes
    images = {str(rec["key"]) for rec in board.images.values() if rec and rec.get("key")}
    audio: set[str] = set()
    manual = {Path(s.image).name for s in current if s.image}
    if latest is not None:
        spec, workdir = latest
        if not workdir.is_dir():
            return None
        voice = (spec.voice_id, spec.pacing, spec.language) == (board.spec.voice_id, board.spec.pacing,
                                                                board.spec.language)
        texts = {s.narration for s in current}
        pictures = {_picture(s, i) for i, s in enumerate(current)}
        made = spec.script.scenes if spec.script is not None else ()
        for i, scene in enumerate(made):
            name = f"scene_{i + 1:02d}"
            if voice and scene.narration in texts:
                key = _key(workdir / "audio" / f"{name}.wav")
                audio.update([key] if key else [])
            if _picture(scene, i) in pictures:
                key = _key(workdir / "images" / f"{name}.png")
                images.update([key] if key else [])
    return Keep(frozenset(images), frozenset(audio), frozenset(manual))
