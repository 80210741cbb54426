"""How a job's pacing shapes the edit: crossfade length, camera travel per scene, fades."""
from __future__ import annotations

from typing import Final, Mapping

from engine.spec import Pacing

#: Crossfade seconds per pacing: slow stories dissolve, fast ones nearly cut.
_TRANSITION: Final[Mapping[Pacing, float]] = {
    Pacing.SLOW: 1.0,
    Pacing.MODERATE: 0.6,
    Pacing.DYNAMIC: 0.4,
    Pacing.FAST: 0.25,
}
#: Camera travel per scene, as a fraction of the frame (zoom amount or pan distance).
_MOTION: Final[Mapping[Pacing, float]] = {
    Pacing.SLOW: 0.06,
    Pacing.MODERATE: 0.10,
    Pacing.DYNAMIC: 0.14,
    Pacing.FAST: 0.18,
}
#: Fade from / to black at the very start and end.
_FADE: Final[Mapping[Pacing, float]] = {
    Pacing.SLOW: 1.0,
    Pacing.MODERATE: 0.6,
    Pacing.DYNAMIC: 0.4,
    Pacing.FAST: 0.3,
}


def transition_for(pacing: Pacing | str) -> float:
    """Crossfade length in seconds for a job's pacing (Timeline.transition)."""
    return _TRANSITION[Pacing(pacing)]


def motion_strength_for(pacing: Pacing | str) -> float:
    """Camera travel per scene for a job's pacing (Timeline.motion_strength)."""
    return _MOTION[Pacing(pacing)]


def fade_for(pacing: Pacing | str) -> float:
    """Fade-in/out length in seconds for a job's pacing (Timeline.fade)."""
    return _FADE[Pacing(pacing)]
