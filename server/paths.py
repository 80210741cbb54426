"""Vetting of local file paths a request names (manual images, music): they must be readable
files under the configured roots, so a request can't make us read arbitrary files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from engine.errors import BadInput
from server.schemas import RequestInvalid

MAX_MUSIC_BYTES = 200 * 1024 * 1024
MUSIC_SUFFIXES = frozenset({".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".opus"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _under(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path.is_relative_to(root.expanduser().resolve()) for root in roots)


def check_music(path_text: str, roots: tuple[Path, ...]) -> Path:
    if _CONTROL.search(path_text) or _SURROGATE.search(path_text):
        raise BadInput(f"music file {path_text!r} contains control characters or invalid Unicode")
    try:
        resolved = Path(path_text).expanduser().resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
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
    size = resolved.stat().st_size
    if size == 0:
        raise BadInput(f"music file {path_text!r} is empty")
    if size > MAX_MUSIC_BYTES:
        raise BadInput(f"music file {path_text!r} is larger than {MAX_MUSIC_BYTES // (1024 * 1024)} MB")
    try:
        with open(resolved, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise BadInput(f"music file {path_text!r} is not readable ({exc.strerror or exc})") from None
    if not looks_like_audio(head):
        raise BadInput(
            f"music file {path_text!r} does not start like audio (MP3, WAV, FLAC, Ogg/Opus, M4A or AAC); "
            "re-export it from your audio editor"
        )
    return resolved


def _frame_header(b0: int, b1: int, b2: int) -> bool:
    """An MPEG audio (MP3) or ADTS (AAC) frame header with no reserved field values."""
    if b0 != 0xFF or b1 & 0xE0 != 0xE0:
        return False
    if b1 & 0xF6 == 0xF0:  # ADTS: 12-bit sync, layer 00; sampling index below 13
        return (b2 >> 2) & 0x0F < 13
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    return version != 1 and layer != 0 and b2 >> 4 != 0x0F and (b2 >> 2) & 3 != 3


NOT_AUDIO = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"PK\x03\x04", b"<")


def looks_like_audio(head: bytes) -> bool:
    """Magic bytes of the audio containers we take: ID3 or MPEG/ADTS frames, RIFF WAVE, FLAC, Ogg,
    MP4 (ftyp). MPEG frames may follow a little junk, so a frame header anywhere in ``head`` counts."""
    if head.startswith((b"ID3", b"fLaC", b"OggS")) or (head[:4] == b"RIFF" and head[8:12] == b"WAVE"):
        return True
    if head[4:8] == b"ftyp":
        return True
    if head.lstrip().startswith(NOT_AUDIO):
        return False
    return any(_frame_header(head[i], head[i + 1], head[i + 2]) for i in range(len(head) - 2))


def path_checker(roots: tuple[Path, ...], upload_dir: Path) -> Callable[[str, str], str]:
    """check_path(field, path) for schemas.parse_video_request: BadInput -> RequestInvalid(field).
    A picture may be an upload id (the ``filename`` /api/upload answered) or a path under ``roots``."""
    from engine.images.cast import resolve_image_ref

    def check(field: str, path_text: str) -> str:
        try:
            if field == "music":
                return str(check_music(path_text, roots))
            return str(resolve_image_ref(path_text, upload_dir=upload_dir, allowed_roots=roots))
        except BadInput as exc:
            raise RequestInvalid(field, exc.message) from None

    return check
