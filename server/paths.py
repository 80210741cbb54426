"""Vetting of local file paths a request names (manual images, music): they must be readable
files under the configured roots, so a request can't make us read arbitrary files."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.errors import BadInput
from engine.images.validate import validate_image_path
from server.schemas import RequestInvalid

MAX_MUSIC_BYTES = 200 * 1024 * 1024
MUSIC_SUFFIXES = frozenset({".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".opus"})


def _under(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path.is_relative_to(root.expanduser().resolve()) for root in roots)


def check_music(path_text: str, roots: tuple[Path, ...]) -> Path:
    path = Path(path_text).expanduser()
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise BadInput(f"music file {path_text!r} does not exist") from None
    if not _under(resolved, roots):
        raise BadInput(
            f"music file {path_text!r} is outside the allowed folders "
            f"({', '.join(str(r) for r in roots)})"
        )
    if not resolved.is_file() or resolved.suffix.lower() not in MUSIC_SUFFIXES:
        raise BadInput(
            f"music file {path_text!r} must be an audio file ({', '.join(sorted(MUSIC_SUFFIXES))})"
        )
    if resolved.stat().st_size > MAX_MUSIC_BYTES:
        raise BadInput(f"music file {path_text!r} is larger than {MAX_MUSIC_BYTES // (1024 * 1024)} MB")
    return resolved


def path_checker(roots: tuple[Path, ...]) -> Callable[[str, str], str]:
    """check_path(field, path) for schemas.parse_video_request: BadInput -> RequestInvalid(field)."""

    def check(field: str, path_text: str) -> str:
        try:
            if field == "music":
                return str(check_music(path_text, roots))
            return str(validate_image_path(path_text, roots))
        except BadInput as exc:
            raise RequestInvalid(field, exc.message) from None

    return check
