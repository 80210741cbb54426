"""The images stage: one picture per scene from the source the request's image_mode asks for.

ai_only      SDXL for every scene (draft art when no SDXL weights are installed, and it says so)
manual_only  the creator's images in order, reused cyclically when there are fewer than scenes
stock_only   the offline stock library, best match per scene, no repeats until exhausted
mixed        the creator's images first, then stock matches, then SDXL (or draft art) for the rest

Writes workdir/images/scene_01.png ... (RGB PNGs, atomically) and images/sources.json saying where
each came from. A scene whose image is already there and readable (a resumed job) is kept.

When SDXL fails on a scene (a ModelFailed: out of memory after the retry, a CUDA error) that scene
gets draft art and the job's details say why; the next scene tries SDXL again. When SDXL cannot be
used at all (it fails to load, the installed torch cannot run on the card, the driver does not fit,
or two scenes in a row failed) every remaining scene gets draft art, with one note.

The cast (engine.images.cast_scenes): each character's scenes get a seed offset of its own; with an
IP-Adapter, an SDXL scene showing characters is conditioned on their portraits (whose digests are
part of the scene's key, so a replaced portrait repaints exactly its scenes); draft art marks each
character with the same colour, place and name tag in every scene."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Final

from engine import artifacts
from engine.contracts import Progress, Script
from engine.progress import StageProgress, SubProgress
from engine.errors import BadInput, GPUFailed, ModelFailed
from engine.images.cast_scenes import SceneCast
from engine.images.draft import Figure, draft_image
from engine.images.ip_adapter import Reference
from engine.images.files import IMAGES_DIR, is_complete_image, save_png_atomic, scene_path, write_bytes_atomic
from engine.images.normalise import normalise_image
from engine.images.prompts import ScenePrompt, build_prompt, scene_characters
from engine.images.sdxl import SDXLSource
from engine.images.stock import StockLibrary, StockPicker
from engine.images.styles import style_for
from engine.images.validate import validate_image_path
from engine.spec import AspectRatio, ImageMode, JobSpec

log = logging.getLogger(__name__)

SOURCES_FILE: Final = "sources.json"
DRAFT_NOTE: Final = (
    "No SDXL weights installed: scenes get draft art instead of generated images "
    "(run scripts/download_models.py --sdxl for real ones)"
)
#: Scenes in a row that SDXL may fail before the rest of the job stops trying it.
MAX_FAILED_IN_A_ROW: Final = 2


@dataclass(frozen=True)
class SceneImage:
    """Where one scene's picture came from (one entry of images/sources.json)."""

    scene: int  # 1-based
    path: str
    source: str  # "sdxl" | "draft" | "manual" | "stock" | "kept" (already there from an earlier run)
    origin: str = ""  # the manual/stock file it was made from
    repeat: int = 0  # how many earlier scenes showed the same origin (compose varies the motion)
    seed: int | None = None
    prompt: str = ""
    note: str = ""  # why a scene meant for SDXL got draft art instead
    reference: str = ""  # what IP-Adapter conditioned it on (Reference.describe())


class _SDXLState:
    """Whether SDXL is still worth trying in this job, and the notes that say why not."""

    def __init__(self, available: bool) -> None:
        self.down = not available
        self.reason = ""  # why SDXL is down, for each later scene's record
        self.failed_in_a_row = 0

    def failed(
        self, exc: ModelFailed, scene: int, left: int | None, progress: Progress, *, loading: bool
    ) -> None:
        """Note why ``scene`` gets draft art; ``left``: how many scenes after it SDXL was to make
        (None when other sources may take some, as in mixed mode)."""
        self.failed_in_a_row += 1
        unusable = loading or (isinstance(exc, GPUFailed) and exc.device_unusable)
        if unusable or self.failed_in_a_row >= MAX_FAILED_IN_A_ROW:
            self.down, self.reason = True, exc.message
            if left is None:
                rest = f"scene {scene} and every later scene it was to make get"
            else:
                rest = f"scene {scene} and the {left} after it get" if left else f"scene {scene} gets"
            why = "" if unusable else f" (it failed on {self.failed_in_a_row} scenes in a row)"
            progress.note(f"SDXL cannot make images in this job{why}: {exc.message} — {rest} draft art")
        else:
            progress.note(f"SDXL failed on scene {scene}: {exc.message} — scene {scene} gets draft art")
        log.warning("SDXL failed on scene %d (%s): %s", scene, type(exc).__name__, exc.message)

    def succeeded(self) -> None:
        self.failed_in_a_row = 0


def _slice(progress: Progress, start: float, end: float) -> SubProgress:
    """``progress.sub(start, end)`` for a StageProgress, and the same for a slice of one."""
    if isinstance(progress, StageProgress):
        return progress.sub(start, end)
    span = progress.end - progress.start
    return SubProgress(progress.parent, progress.start + span * start, progress.start + span * end)


class ImageRouter:
    """The ImageSource the pipeline uses; see the module docstring for the modes."""

    def __init__(
        self,
        *,
        sdxl: SDXLSource | None,
        stock_dir: Path,
        allowed_roots: tuple[Path, ...],
        size: tuple[int, int] | None = None,
    ) -> None:
        self.sdxl = sdxl
        self.stock_dir = Path(stock_dir)
        self.allowed_roots = tuple(Path(r) for r in allowed_roots)
        self.size = size
        self.name = "sdxl" if sdxl is not None else "draft"

    def images(self, script: Script, spec: JobSpec, workdir: Path, *, progress: Progress,
               only: frozenset[int] | None = None) -> list[Path]:
        """``only``: the 0-based scenes to make (a storyboard regenerating one scene); default all."""
        scenes = script.scenes
        n = len(scenes)
        if n == 0:
            raise BadInput("the script has no scenes, so there is nothing to illustrate")
        mode = ImageMode(spec.image_mode)
        size = self.size or AspectRatio(spec.aspect_ratio).sdxl_bucket
        style = style_for(spec.image_style)
        prompts = [
            build_prompt(s, i, script, style, spec.seed, spec.characters) for i, s in enumerate(scenes)
        ]
        cast = SceneCast(script, spec, workdir, style, sdxl=self.sdxl, allowed_roots=self.allowed_roots)
        prompts = cast.seeded(prompts)
        own = spec.script.scenes if spec.script is not None and len(spec.script.scenes) == n else ()
        prompts = [replace(p, seed=o.seed) if o.seed is not None else p
                   for p, o in zip(prompts, own)] + prompts[len(own):]
        reused: list[int] = []

        manual = self._manual_paths(mode, spec)
        picker = self._stock_picker(mode, spec, progress)
        images_dir = Path(workdir) / IMAGES_DIR
        images_dir.mkdir(parents=True, exist_ok=True)
        records: list[SceneImage] = []
        earlier = self._read_sources(images_dir)
        made_from: dict[Path, Path] = {}  # origin -> first scene file made from it this run
        seen: Counter[Path] = Counter()
        draft_noted = False
        state = _SDXLState(self.sdxl is not None)
        started = time.monotonic()
        try:
            for i, (scene, sp) in enumerate(zip(scenes, prompts)):
                if only is not None and i not in only:
                    continue
                progress.check_cancelled()
                sub = _slice(progress, i / n, (i + 1) / n)
                label = f"Creating scene {i + 1} of {n}"
                dest = scene_path(images_dir, i)
                origin: Path | None = None
                kind = "ai"
                if mode is ImageMode.MANUAL_ONLY:
                    origin, kind = manual[i % len(manual)], "manual"
                elif mode is ImageMode.MIXED and i < len(manual):
                    origin, kind = manual[i], "manual"
                elif picker is not None:
                    item = picker.pick(scene.image_prompt, require_match=mode is ImageMode.MIXED)
                    if item is not None:
                        origin, kind = item.path, "stock"
                if own and own[i].image:
                    origin, kind = Path(str(own[i].image)), "manual"
                ai = "sdxl" if self.sdxl is not None and not state.down else "draft"
                ref = cast.reference(scene, _slice(sub, 0.0, 0.0), ai) if kind == "ai" else None
                made_as = kind if kind != "ai" else ai
                key = self._key(made_as, origin, sp, style.name, size, cast.key(made_as, scene, ref))
                keyed = (made_as, origin, ref)  # what ``key`` was made from
                if artifacts.reuse(dest, key, "images", workdir):  # its key and recorded size: intact
                    sub(1.0, f"Scene {i + 1} of {n} already made — kept")
                    meta = artifacts.read_sidecar(dest) or {}
                    old = earlier.get(i + 1)
                    reused.append(i + 1)
                    records.append(
                        old
                        if old is not None and old.path == str(dest) and old.seed == sp.seed
                        else SceneImage(
                            i + 1,
                            str(dest),
                            str(meta.get("source") or "kept"),
                            str(origin or ""),
                            self._repeat(seen, origin),
                            sp.seed,
                            sp.prompt,
                        )
                    )
                    continue
                artifacts.forget(dest)
                sub(0.0, label)
                if kind == "manual" and origin is not None:
                    self._from_file(origin, dest, size, made_from, f"manual image {str(origin)!r}")
                elif kind == "stock" and picker is not None and origin is not None:
                    origin = self._from_stock(
                        origin,
                        picker,
                        scene.image_prompt,
                        dest,
                        size,
                        made_from,
                        progress,
                        require_match=mode is ImageMode.MIXED,
                    )
                    if origin is None:
                        if mode is ImageMode.STOCK_ONLY:
                            raise BadInput(
                                f"None of the stock images in {self.stock_dir} could be read; "
                                "replace them with PNG or JPEG files"
                            )
                        kind = "ai"
                why = ""
                if kind == "ai":
                    if self.sdxl is None and not draft_noted:
                        progress.note(DRAFT_NOTE)
                        draft_noted = True
                    left = n - i - 1 if mode is ImageMode.AI_ONLY else None
                    kind, why = self._ai_image(
                        sp, script, spec, dest, size, sub, label, state, left, ref, cast.figures(scene)
                    )
                    origin = None
                ref = cast.made(kind, i + 1, ref, progress)
                meta = {"source": kind, "seed": sp.seed, "prompt": sp.prompt, "origin": str(origin or ""),
                        "portraits": cast.depends(kind, scene, ref)}
                # made otherwise than planned (an unreadable stock file, SDXL failed over to draft
                # art, the adapter did not load): key what was made; else ``key`` stands (no rehash)
                if (kind, origin, ref) != keyed:
                    key = self._key(kind, origin, sp, style.name, size, cast.key(kind, scene, ref))
                artifacts.record(dest, key, meta)
                records.append(
                    SceneImage(
                        i + 1,
                        str(dest),
                        kind,
                        str(origin or ""),
                        self._repeat(seen, origin),
                        sp.seed,
                        sp.prompt,
                        why,
                        ref.describe() if ref is not None else "",
                    )
                )
                self._write_sources(images_dir, records)
                sub(1.0, label)
        finally:
            if self.sdxl is not None:
                self.sdxl.finish()
        self._write_sources(images_dir, records)
        counts = Counter(r.source for r in records)
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        progress.note(f"Scene images ({style.name}, {mode.value}): {summary}")
        cast.summary(progress)
        if reused:
            progress.note(f"Reused the pictures of scene(s) {', '.join(map(str, reused))}: their prompt, "
                          "seed, style, model and size did not change")
        log.info("images: %d scenes (%s) in %.1f s", n, summary, time.monotonic() - started)
        return [scene_path(images_dir, i) for i in range(n)]

    def _key(
        self,
        kind: str,
        origin: Path | None,
        sp: ScenePrompt,
        style: str,
        size: tuple[int, int],
        cast: str = "",
    ) -> str:
        """What a scene's picture is made from (engine.artifacts): the file for a manual or stock
        picture, else prompt, negative prompt, style, seed, model and size (and the cast's part:
        SceneCast.key)."""
        if kind in ("manual", "stock") and origin is not None:
            try:
                return artifacts.file_key(origin, kind=kind, size=size)
            except OSError as exc:
                raise BadInput(f"the image {str(origin)!r} of scene {sp.index + 1} cannot be read "
                               f"({exc.strerror or exc})") from exc
        if kind == "sdxl" and self.sdxl is not None:
            model = f"sdxl:{self.sdxl.model_path.name}:{self.sdxl.steps}:{self.sdxl.guidance}"
        else:
            model = "draft-art"
        if cast:
            model = f"{model}|{cast}"
        return artifacts.image_key(prompt=sp.prompt, negative=sp.negative, style=style, seed=sp.seed,
                                   model=model, size=size)

    # -- sources -------------------------------------------------------------------------------
    def _manual_paths(self, mode: ImageMode, spec: JobSpec) -> list[Path]:
        """The creator's images, all validated before anything is made (errors name the path)."""
        if mode not in (ImageMode.MANUAL_ONLY, ImageMode.MIXED):
            return []
        manual = [validate_image_path(p, self.allowed_roots) for p in spec.manual_image_paths]
        if mode is ImageMode.MANUAL_ONLY and not manual:
            raise BadInput("image_mode manual_only needs at least one path in manual_image_paths")
        return manual

    def _stock_picker(self, mode: ImageMode, spec: JobSpec, progress: Progress) -> StockPicker | None:
        if mode not in (ImageMode.STOCK_ONLY, ImageMode.MIXED):
            return None
        library = StockLibrary.scan(self.stock_dir)
        if not len(library):
            if mode is ImageMode.STOCK_ONLY:
                raise BadInput(
                    f"No stock images in {self.stock_dir} — add images (optionally with .txt/.json "
                    "tags) there, or choose image_mode ai_only or manual_only"
                )
            progress.note(f"Stock library {self.stock_dir} is empty; skipping stock images")
            return None
        progress.note(f"Stock library: {len(library)} images in {self.stock_dir}")
        return StockPicker.for_job(library, spec.stock_keywords)

    @staticmethod
    def _from_file(
        origin: Path, dest: Path, size: tuple[int, int], made_from: dict[Path, Path], label: str
    ) -> None:
        earlier = made_from.get(origin)
        if earlier is not None and is_complete_image(earlier):
            write_bytes_atomic(earlier.read_bytes(), dest)  # same picture again, no second decode
            return
        save_png_atomic(normalise_image(origin, size, label=label), dest)
        made_from[origin] = dest

    def _from_stock(
        self,
        origin: Path,
        picker: StockPicker,
        prompt: str,
        dest: Path,
        size: tuple[int, int],
        made_from: dict[Path, Path],
        progress: Progress,
        *,
        require_match: bool,
    ) -> Path | None:
        """The stock image actually used (the next best when one fails to load), or None."""
        candidate: Path | None = origin
        while candidate is not None:
            try:
                self._from_file(candidate, dest, size, made_from, f"stock image {str(candidate)!r}")
                return candidate
            except BadInput as exc:
                progress.note(f"Skipped a stock image: {exc.message}")
                log.warning("stock image skipped: %s", exc.message)
                picker.skip(next(it for it in picker.library.items if it.path == candidate))
                nxt = picker.pick(prompt, require_match=require_match)
                candidate = nxt.path if nxt is not None else None
        return None

    def _ai_image(
        self,
        scene_prompt: ScenePrompt,
        script: Script,
        spec: JobSpec,
        dest: Path,
        size: tuple[int, int],
        progress: SubProgress,
        label: str,
        state: _SDXLState,
        left: int | None,
        reference: Reference | None = None,
        figures: tuple[Figure, ...] = (),
    ) -> tuple[str, str]:
        """SDXL's picture for the scene, or draft art when SDXL is down or fails on it: (source,
        why it is draft art when SDXL was meant to make it)."""
        if self.sdxl is not None and not state.down:
            scene_no = scene_prompt.index + 1
            try:
                self.sdxl.load(progress)
            except ModelFailed as exc:
                state.failed(exc, scene_no, left, progress, loading=True)
                return self._draft(scene_prompt, script, spec, dest, size, figures), exc.message
            try:
                image = self.sdxl.generate(
                    scene_prompt, size=size, progress=progress, label=label, reference=reference
                )
            except ModelFailed as exc:
                state.failed(exc, scene_no, left, progress, loading=False)
                return self._draft(scene_prompt, script, spec, dest, size, figures), exc.message
            state.succeeded()
            save_png_atomic(image.convert("RGB"), dest)
            return "sdxl", ""
        return self._draft(scene_prompt, script, spec, dest, size, figures), state.reason

    @staticmethod
    def _draft(
        scene_prompt: ScenePrompt,
        script: Script,
        spec: JobSpec,
        dest: Path,
        size: tuple[int, int],
        cast: tuple[Figure, ...] = (),
    ) -> str:
        scene = script.scenes[scene_prompt.index]
        figures = len(scene_characters(scene, (*script.characters, *spec.characters)))
        image = draft_image(
            scene.image_prompt or scene.narration,
            style=spec.image_style,
            story_type=spec.story_type,
            size=size,
            seed=scene_prompt.seed,
            figures=figures,
            label=f"DRAFT {scene_prompt.index + 1}",
            cast=cast,
        )
        save_png_atomic(image, dest, compress_level=1)
        return "draft"

    @staticmethod
    def _repeat(seen: Counter[Path], origin: Path | None) -> int:
        if origin is None:
            return 0
        seen[origin] += 1
        return seen[origin] - 1

    @staticmethod
    def _read_sources(images_dir: Path) -> dict[int, SceneImage]:
        """Records of an earlier run of this job (to describe the scenes it kept)."""
        path = images_dir / SOURCES_FILE
        try:
            rows = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
            return {int(r["scene"]): SceneImage(**r) for r in rows}
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable %s: %s", path, exc)
            return {}

    @staticmethod
    def _write_sources(images_dir: Path, records: list[SceneImage]) -> None:
        data = json.dumps([asdict(r) for r in records], indent=1).encode()
        write_bytes_atomic(data, images_dir / SOURCES_FILE)
