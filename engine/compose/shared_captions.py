"""Caption art shared by the frame workers: each caption is drawn once, by one worker asked about
a second before its first frame, into a file in the render's shared folder (beside the scene
pictures, shared_stills.py); every other worker that shows it loads that file.

Without this each of W workers drew every caption itself (the font loaded, the text laid out, the
NV12 layers made: ~2 ms a caption, ~15 ms for the first), so W workers did W times the work, and
two workers on two cores scaled less than twice. The worker that drew a caption keeps its own copy.
A caption's file goes once every frame that shows it is done."""
from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from engine.errors import RenderFailed

if TYPE_CHECKING:  # pragma: no cover
    from engine.compose.caption_art import CaptionArt
    from engine.compose.timeline import Caption, Timeline

#: Seconds of video ahead of a caption's first frame that a worker is asked to draw it.
AHEAD: Final = 1.0
_TIMEOUT: Final = 300.0  # seconds a worker waits for a caption another worker is drawing


def ordered_captions(timeline: "Timeline") -> list["Caption"]:
    """The timeline's captions by start time: the numbering the producer and workers share."""
    return sorted(timeline.captions, key=lambda c: c.start)


class CaptionPlan:
    """Producer side: which captions to have drawn by frame ``n`` (each asked for once), and
    whose files can go."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._captions: list[Caption] = []
        self._fps = 30.0
        self._asked = 0
        self._released = 0

    def update(self, timeline: "Timeline") -> None:
        """A (grown) timeline: a streamed timeline only appends captions, so the numbers stay."""
        self._captions = ordered_captions(timeline)
        self._fps = timeline.fps

    def due(self, n: int) -> list[int]:
        """Captions to ask for now that frame ``n`` is requested: those starting before AHEAD
        seconds after it, not asked for yet."""
        until = n / self._fps + AHEAD
        start = self._asked
        while self._asked < len(self._captions) and self._captions[self._asked].start <= until:
            self._asked += 1
        return list(range(start, self._asked))

    def release_before(self, n: int) -> None:
        """Frame ``n`` and all before it are done: remove the captions that ended before it."""
        before = (n - 1) / self._fps
        while self._released < self._asked and self._captions[self._released].end <= before:
            (self.folder / caption_name(self._released)).unlink(missing_ok=True)
            self._released += 1


def caption_name(i: int) -> str:
    return f"caption_{i:04d}"


def write_caption(folder: Path, i: int, art: "CaptionArt | None") -> None:
    """Worker side: file the caption it drew (None: a caption with nothing to draw)."""
    part = folder / f".{caption_name(i)}.part"
    with open(part, "wb") as fh:
        pickle.dump(art, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(part, folder / caption_name(i))


def load_caption(folder: Path, i: int) -> "CaptionArt | None":
    """Worker side: caption ``i`` as another worker drew it (waiting for it if it is being drawn)."""
    path = folder / caption_name(i)
    waited = 0.0
    while True:
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)  # type: ignore[no-any-return]
        except FileNotFoundError:
            if waited > _TIMEOUT:
                raise RenderFailed(f"caption {i + 1}: its drawing did not arrive in "
                                   f"{_TIMEOUT:.0f}s") from None
            time.sleep(0.002)
            waited += 0.002
