"""Scene image files: names, atomic writes (engine.tempnames: temp name + os.replace) and the "is
it complete" check that lets a resumed job reuse what it already made."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from engine import tempnames

IMAGES_DIR = "images"


def scene_path(images_dir: Path, index: int) -> Path:
    """``images/scene_01.png`` for index 0."""
    return images_dir / f"scene_{index + 1:02d}.png"


def save_png_atomic(image: Image.Image, dest: Path, *, compress_level: int = 3) -> Path:
    """Write ``image`` as PNG to ``dest`` via a temp file in the same folder and os.replace, so a
    reader (or a resume after a crash) never sees a half-written file."""
    with tempnames.atomic_path(dest) as tmp, open(tmp, "wb") as fh:
        image.save(fh, format="PNG", compress_level=compress_level)
    return dest


def write_bytes_atomic(data: bytes, dest: Path) -> Path:
    return tempnames.write_bytes_atomic(dest, data)


def is_complete_image(path: Path) -> bool:
    """True when ``path`` is a PNG/JPEG/... that decodes fully (a truncated file does not)."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        with Image.open(path) as im:
            im.load()
            return im.width > 0 and im.height > 0
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False
