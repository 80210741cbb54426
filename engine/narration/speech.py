"""The interface both speech engines (Coqui, embedded Piper) implement for the narrator."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.narration.timing import Group


@dataclass(frozen=True)
class Speech:
    """One synthesised sentence. ``words``: the model's own word groups (start s, end s, symbols),
    from its predicted phoneme durations; None when the model does not expose them."""

    audio: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    words: tuple[Group, ...] | None


class SpeechEngine(Protocol):
    #: e.g. "Coqui VITS (models/tts/vctk_vits, speaker p273)" — shown in the job's details.
    label: str
    #: the key it is registered under in the backend name: "coqui" or "embedded".
    kind: str
    sample_rate: int
    #: longest text one call handles well.
    max_chars: int
    #: measured words per second at speed 1.0 (for words-per-minute estimates).
    words_per_second: float
    #: share of a sentence's duration that does not follow the length scale (see Shaping).
    fixed_share: float

    def synthesize(self, text: str, *, length_scale: float, noise: float) -> Speech: ...

    def close(self) -> None: ...
