"""The cast within one run of the images stage (what the router asks of it per scene): seeds moved
by each scene's main character, portraits made as scenes need them, the IP-Adapter reference of an
SDXL scene, the cast's part of a scene picture's key, draft art's figures, and the job's notes.
``portrait_for`` makes one character's portrait on its own (a storyboard showing its cast)."""

from __future__ import annotations

from pathlib import Path

from engine.contracts import Progress, Scene, Script
from engine.images.cast import Cast, Member, reference
from engine.images.draft import Figure
from engine.images.ip_adapter import MISSING_NOTE, Reference
from engine.images.portraits import Portraits
from engine.images.prompts import ScenePrompt
from engine.images.sdxl import SDXLSource
from engine.errors import BadInput
from engine.images.styles import StylePreset, style_for
from engine.images.validate import validate_image_path
from engine.spec import ImageMode, JobSpec


class SceneCast:
    def __init__(
        self,
        script: Script,
        spec: JobSpec,
        workdir: Path,
        style: StylePreset,
        *,
        sdxl: SDXLSource | None,
        allowed_roots: tuple[Path, ...],
    ) -> None:
        self.cast = Cast.for_job(script, spec)
        self.sdxl = sdxl
        # SDXL paints portraits only for the IP-Adapter to read; without one a draft portrait card
        # stands for each character (no SDXL time spent on pictures nothing uses).
        painter = sdxl if self.adapter_usable else None
        self.portraits = Portraits(workdir, style, allowed_roots=allowed_roots, sdxl=painter)
        self.conditioned: list[int] = []  # 1-based scenes IP-Adapter conditioned
        self.scenes = script.scenes
        if ImageMode(spec.image_mode) in (ImageMode.AI_ONLY, ImageMode.MIXED):
            for m in self.cast.members:  # the creator's portraits, vetted before any scene is made
                if m.character.image:
                    validate_image_path(m.character.image, allowed_roots)

    @property
    def adapter_usable(self) -> bool:
        return self.sdxl is not None and self.sdxl.ip_adapter is not None and not self.sdxl.adapter_failed

    def seeded(self, prompts: list[ScenePrompt]) -> list[ScenePrompt]:
        return [self.cast.seeded(p, s) for p, s in zip(prompts, self.scenes)]

    def _made(self, member: Member) -> tuple[Path, str] | None:
        """The member's portrait made in this run (file, digest), if it was."""
        made = self.portraits.made.get(member.slug)
        return (made[0], made[1]) if made is not None else None

    def figures(self, scene: Scene) -> tuple[Figure, ...]:
        """Draft art's marks of the scene's characters, each with its portrait inset (made by
        ``reference`` before any scene picture)."""
        return tuple(Figure(m.name, m.colour, m.x, portrait=made[0] if (made := self._made(m)) else None)
                     for m in self.cast.in_scene(scene))

    def depends(self, kind: str, scene: Scene, ref: Reference | None) -> dict[str, str]:
        """The portraits (character name -> digest) a scene picture made as ``kind`` shows or is
        conditioned on: recorded in its sidecar, so a storyboard can say which pictures a replaced
        portrait makes stale."""
        if kind == "sdxl" and ref is not None:
            return {name: key.rsplit(":", 1)[-1] for name, key in zip(ref.names, ref.keys)}
        if kind == "draft":
            return {m.name: made[1] for m in self.cast.in_scene(scene) if (made := self._made(m))}
        return {}

    def reference(self, scene: Scene, progress: Progress, ai: str) -> Reference | None:
        """Every character of the scene gets its portrait (the storyboard shows them); an SDXL
        scene with a usable IP-Adapter is conditioned on (up to two of) them."""
        for m in self.cast.in_scene(scene):
            self.portraits.get(m, progress)
        if ai != "sdxl" or not self.adapter_usable:
            return None
        chosen, _ = self.cast.conditioned(scene)
        return reference(chosen, {m.slug: self.portraits.get(m, progress) for m in chosen}, scene)

    def key(self, kind: str, scene: Scene, ref: Reference | None) -> str:
        """The cast's part of a scene picture's key: the adapter, portraits (by digest) and scale an
        SDXL scene is conditioned on; the figures draft art marks and the portraits inset in them."""
        if kind == "sdxl" and ref is not None and self.sdxl is not None and self.sdxl.ip_adapter is not None:
            return f"ipa:{self.sdxl.ip_adapter.folder.name}:{','.join(ref.keys)}:{ref.scale:g}"
        if kind == "draft":  # the figures, and the portraits inset in them (by digest)
            return ",".join(
                f"{m.name}@{m.slot}/{m.total}" + (f"#{made[1]}" if (made := self._made(m)) else "")
                for m in self.cast.in_scene(scene))
        return ""

    def made(self, kind: str, scene_no: int, ref: Reference | None, progress: Progress) -> Reference | None:
        """After a scene is made as ``kind``: the reference it was really conditioned on (None when
        SDXL failed over to draft art or the adapter did not load), noted for two characters."""
        if kind != "sdxl" or ref is None or self.sdxl is None or not self.sdxl.adapter_loaded:
            return None
        self.conditioned.append(scene_no)
        _, rest = self.cast.conditioned(self.scenes[scene_no - 1])
        if ref.masked or rest:
            others = f"; {', '.join(m.name for m in rest)} by description only" if rest else ""
            progress.note(f"Scene {scene_no}: {ref.describe()}{others}")
        return ref

    def summary(self, progress: Progress) -> None:
        if self.portraits.made:
            progress.note(f"Cast portraits (cast/): {self.portraits.describe()}")
        if self.conditioned and self.sdxl is not None and self.sdxl.ip_adapter is not None:
            progress.note(f"{self.sdxl.ip_adapter.describe()} kept the characters' faces on scene(s) "
                          f"{', '.join(map(str, self.conditioned))}")
        elif self.sdxl is not None and self.sdxl.ip_adapter is None and any(
            self.cast.in_scene(s) for s in self.scenes
        ):
            progress.note(MISSING_NOTE)


def portrait_for(
    name: str,
    script: Script,
    spec: JobSpec,
    workdir: Path,
    *,
    sdxl: SDXLSource | None,
    allowed_roots: tuple[Path, ...],
    progress: Progress,
) -> Path:
    """The portrait of the character called ``name`` in ``workdir``/cast/, made now unless it is
    already there from the same inputs: the creator's image (``Character.image``), else SDXL's
    (when its IP-Adapter will read it), else a draft card. The images stage then finds it. SDXL is
    released afterwards unless it keeps its model loaded. BadInput for a name not in the cast."""
    scene_cast = SceneCast(script, spec, workdir, style_for(spec.image_style), sdxl=sdxl,
                           allowed_roots=allowed_roots)
    member = scene_cast.cast.member(name)
    if member is None:
        known = ", ".join(m.name for m in scene_cast.cast.members) or "none"
        raise BadInput(f"no character called {name!r} in this story (its characters: {known})")
    try:
        path, _ = scene_cast.portraits.get(member, progress)
    finally:
        if sdxl is not None:
            sdxl.finish()
    return path
