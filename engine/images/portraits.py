"""The cast's reference portraits, one file per character in the job folder (``cast/<slug>.png``,
with an engine.artifacts sidecar saying what made it):

- the creator's own image (``Character.image``, vetted like a manual image), cropped to a square
  around the upper middle, where a head-and-shoulders photo has the face;
- else one SDXL makes from the name, description and style: a neutral, front-lit head-and-shoulders
  shot, its seed from those alone (the same host looks the same in every episode of a series);
- else (no SDXL, or SDXL failed on it) a draft portrait: the character's colour, figure and name.

A portrait is made once per job and reused while its key matches (a resumed job, a render of a
storyboard whose folder is among the job's pools); its digest names its embeddings and goes into
the key of every scene it conditions, so a replaced portrait repaints exactly those scenes."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, ImageDraw

from engine import artifacts
from engine.contracts import Progress
from engine.errors import ModelFailed
from engine.images.cast import CAST_DIR, Member
from engine.images.draft import font
from engine.images.files import save_png_atomic, write_bytes_atomic
from engine.images.normalise import normalise_image
from engine.images.prompts import TOKEN_BUDGET, ScenePrompt, describe, trim_words
from engine.images.sdxl import SDXLSource
from engine.images.styles import StylePreset
from engine.images.validate import validate_image_path

log = logging.getLogger(__name__)

PORTRAIT_SIZE: Final = (1024, 1024)
DRAFT_SIZE: Final = (512, 512)
PORTRAIT_WORDS: Final = (
    "head and shoulders portrait, facing the camera, neutral expression, soft even front lighting, "
    "plain background"
)
PORTRAIT_NEGATIVE: Final = "profile, back view, hands, group, crowd, multiple people, hat covering the face"


def portrait_prompt(member: Member, style: StylePreset) -> ScenePrompt:
    """The SDXL prompt of a generated portrait; its seed from name, description and style only."""
    # who first, then how it is shot; the style's words are what CLIP's window loses first
    words = trim_words(f"{describe(member.character, max_words=20)}, {PORTRAIT_WORDS}, {style.suffix}",
                       TOKEN_BUDGET)
    blob = f"storyreel-portrait:{member.name.strip().lower()}:{member.character.description}:{style.name}"
    seed = int.from_bytes(hashlib.sha256(blob.encode()).digest()[:4], "big") & 0x7FFFFFFF
    return ScenePrompt(-1, words, trim_words(f"{PORTRAIT_NEGATIVE}, {style.negative}", TOKEN_BUDGET), seed)


def file_digest(path: Path) -> str:
    """A portrait's digest: the first 16 hex digits of its bytes' sha256."""
    return artifacts.file_sha256(path)[:16]


def square_portrait(src: Path, side: int, label: str) -> Image.Image:
    """The creator's image as a ``side`` square: the middle of a wide image, the upper middle of a
    tall one (where a head-and-shoulders photo has the face)."""
    im = normalise_image(src, (side, side), label=label)
    w, h = im.size
    left = (w - side) // 2
    top = min(h - side, max(0, int(h * 0.4) - side // 2))
    return im.crop((left, top, left + side, top + side))


def draft_portrait(member: Member, size: tuple[int, int] = DRAFT_SIZE) -> Image.Image:
    """A flat plate in the character's colour with its figure (head and shoulders) and name."""
    w, h = size
    colour = np.array(member.colour, np.float32)
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    bg = (colour * (0.35 + 0.4 * (1 - yy)) + 20) * np.ones((1, w, 1), np.float32)
    image = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    cx = w // 2
    draw.ellipse((cx - w // 3, int(h * 0.62), cx + w // 3, int(h * 1.25)), fill=(16, 16, 20))
    draw.ellipse((cx - w // 7, int(h * 0.22), cx + w // 7, int(h * 0.56)), fill=(16, 16, 20))
    tag = font(max(12, h // 14))
    box = draw.textbbox((0, 0), member.name, font=tag)
    draw.text(((w - box[2]) // 2, int(h * 0.06)), member.name, font=tag, fill=(255, 255, 255))
    return image


class Portraits:
    """Makes (or finds) the cast's portraits for one images stage; ``get`` returns (file, digest)."""

    def __init__(
        self,
        workdir: Path,
        style: StylePreset,
        *,
        allowed_roots: tuple[Path, ...],
        sdxl: SDXLSource | None,
    ) -> None:
        self.folder = Path(workdir) / CAST_DIR
        self.workdir = Path(workdir)
        self.style = style
        self.allowed_roots = allowed_roots
        self.sdxl = sdxl
        self.made: dict[str, tuple[Path, str, str, str]] = {}  # slug -> (file, digest, how made, name)

    def get(self, member: Member, progress: Progress) -> tuple[Path, str]:
        if member.slug not in self.made:
            self.folder.mkdir(parents=True, exist_ok=True)
            dest = self.folder / f"{member.slug}.png"
            how = self._make(member, dest, progress)
            self.made[member.slug] = (dest, file_digest(dest), how, member.name)
        path, digest, _, _ = self.made[member.slug]
        return path, digest

    def describe(self) -> str:
        """For the job's details: whose portrait came from where."""
        return ", ".join(f"{name} ({how})" for _, _, how, name in self.made.values())

    def _make(self, member: Member, dest: Path, progress: Progress) -> str:
        image = member.character.image
        if image:
            origin = validate_image_path(image, self.allowed_roots)
            key = artifacts.file_key(origin, kind="portrait", size=PORTRAIT_SIZE)
            if not self._reuse(dest, key):
                artifacts.forget(dest)
                label = f"the portrait of {member.name} ({image!r})"
                save_png_atomic(square_portrait(origin, PORTRAIT_SIZE[0], label), dest)
                artifacts.record(dest, key, {"source": "own", "origin": str(origin), "name": member.name})
            return "own image"
        prompt = portrait_prompt(member, self.style)
        if self.sdxl is not None:
            side = self.sdxl.size or PORTRAIT_SIZE
            key = self._generated_key(prompt, f"sdxl:{self.sdxl.model_path.name}:{self.sdxl.steps}", side)
            if self._reuse(dest, key):
                return "generated by SDXL"
            try:
                picture = self.sdxl.generate(
                    prompt, size=PORTRAIT_SIZE, progress=progress, label=f"Portrait of {member.name}"
                )
            except ModelFailed as exc:
                progress.note(f"SDXL could not make the portrait of {member.name} ({exc.message}): "
                              "a draft portrait stands in")
            else:
                artifacts.forget(dest)
                save_png_atomic(picture.convert("RGB"), dest)
                artifacts.record(dest, key, {"source": "sdxl", "seed": prompt.seed, "prompt": prompt.prompt,
                                             "name": member.name})
                return "generated by SDXL"
        key = self._generated_key(prompt, "draft-portrait", DRAFT_SIZE)
        if not self._reuse(dest, key):
            artifacts.forget(dest)
            save_png_atomic(draft_portrait(member), dest)
            artifacts.record(dest, key, {"source": "draft", "name": member.name})
        return "draft portrait"

    def _generated_key(self, prompt: ScenePrompt, model: str, size: tuple[int, int]) -> str:
        return artifacts.image_key(prompt=prompt.prompt, negative=prompt.negative, style=self.style.name,
                                   seed=prompt.seed, model=model, size=size)

    def _reuse(self, dest: Path, key: str) -> bool:
        """``dest`` already holds ``key``, or a pool of the job (a storyboard's folder) has it in
        its own cast/ folder: copied in."""
        if artifacts.matches(dest, key):
            return True
        for pool in artifacts.pools(self.workdir):
            src = pool / CAST_DIR / dest.name
            if artifacts.matches(src, key):
                try:
                    artifacts.forget(dest)
                    write_bytes_atomic(src.read_bytes(), dest)
                    write_bytes_atomic(artifacts.sidecar(src).read_bytes(), artifacts.sidecar(dest))
                except OSError as exc:
                    log.warning("could not reuse the portrait %s from %s (%s)", src, pool, exc)
                    return False
                return True
        return False
