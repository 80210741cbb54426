"""Scene schedule and camera moves, as pure math (no pixels).

Each scene is visible from half a crossfade before its start to half a crossfade after its end;
its camera move runs over exactly that span with an eased velocity (a gentle ramp up and down,
constant speed between), so the move never stops or jerks at a cut. Zooms keep a fixed point at
the frame centre and interpolate the scale geometrically (even perceived speed); pans travel at
1:1 pixel scale across the margin that ``still.canvas_size`` leaves.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Final, Sequence

from engine.compose.timeline import Timeline

ZOOMS: Final = ("zoom_in", "zoom_out")
PANS: Final = ("pan_left", "pan_right", "pan_up", "pan_down")

#: Fraction of a scene's visible span spent accelerating (and again decelerating).
RAMP: Final = 0.2

_AUTO_CYCLE: Final[dict[str, tuple[str, ...]]] = {
    "landscape": ("zoom_in", "pan_right", "zoom_out", "pan_left"),
    "portrait": ("zoom_in", "pan_down", "zoom_out", "pan_up"),
    "square": ("zoom_in", "pan_right", "zoom_out", "pan_up", "zoom_in", "pan_left", "zoom_out", "pan_down"),
}


@dataclass(frozen=True)
class ScenePlan:
    index: int
    start: float
    end: float
    #: Crossfade lengths at this scene's start and end boundaries (0 at the video's edges).
    xfade_in: float
    xfade_out: float
    motion: str
    #: Camera travel for this scene (0 for static).
    amount: float

    @property
    def visible_from(self) -> float:
        return self.start - self.xfade_in / 2

    @property
    def visible_to(self) -> float:
        return self.end + self.xfade_out / 2


@dataclass(frozen=True)
class View:
    """Output -> canvas mapping: canvas coordinate X = ox + x * scale (pixel-edge coordinates).
    ``fixed`` is set for zooms: (canvas point, output point) that stay together at any scale."""

    scale: float
    ox: float
    oy: float
    fixed: tuple[int, int, int, int] | None = None  # (Px, Py, Qx, Qy)


def resolve_motions(motions: Sequence[str], width: int, height: int) -> tuple[str, ...]:
    """Replace ``auto`` with a move that differs from both neighbours."""
    aspect = width / height
    cycle = _AUTO_CYCLE["landscape" if aspect > 1.2 else "portrait" if aspect < 0.83 else "square"]
    out: list[str] = []
    k = 0
    for i, m in enumerate(motions):
        if m != "auto":
            out.append(m)
            continue
        prev = out[-1] if out else None
        nxt = motions[i + 1] if i + 1 < len(motions) and motions[i + 1] != "auto" else None
        for step in range(len(cycle)):
            cand = cycle[(k + step) % len(cycle)]
            if cand != prev and cand != nxt:
                k = (k + step + 1) % len(cycle)
                out.append(cand)
                break
    return tuple(out)


def plan_scenes(t: Timeline) -> tuple[ScenePlan, ...]:
    starts = t.scene_starts()
    n = len(t.scenes)
    xf = [0.0] * (n + 1)  # xf[i]: crossfade at the boundary before scene i
    for i in range(1, n):
        xf[i] = min(t.transition, t.scenes[i - 1].duration, t.scenes[i].duration)
    motions = resolve_motions([s.motion for s in t.scenes], t.width, t.height)
    plans = []
    for i, s in enumerate(t.scenes):
        amount = 0.0 if motions[i] == "static" else t.motion_strength
        plans.append(ScenePlan(i, starts[i], starts[i] + s.duration, xf[i], xf[i + 1], motions[i], amount))
    return tuple(plans)


def fade_length(t: Timeline, plans: Sequence[ScenePlan]) -> float:
    """The start/end fade, shortened so it never overlaps a crossfade or the other fade."""
    first, last = plans[0], plans[-1]
    limit = min(first.end - first.start - first.xfade_out / 2, last.end - last.start - last.xfade_in / 2,
                t.duration / 2)
    return max(0.0, min(t.fade, limit))


def layers_at(plans: Sequence[ScenePlan], time: float,
              starts: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """The scenes visible at ``time`` and their opacity: one scene, or two during a crossfade
    (the incoming one's weight rises linearly from 0 to 1 across the crossfade). ``starts``
    (the plans' start times, precomputed) makes the lookup O(log n)."""
    starts = starts if starts is not None else [p.start for p in plans]
    i = max(0, bisect.bisect_right(starts, time) - 1)
    out: list[tuple[int, float]] = []
    for p in plans[max(0, i - 1):i + 2]:
        if p.visible_from <= time < p.visible_to:
            out.append((p.index, 1.0))
    if not out:  # past the end (rounding): the last scene
        return [(plans[-1].index if time >= plans[-1].start else plans[0].index, 1.0)]
    if len(out) == 2:
        incoming = plans[out[1][0]]
        w = (time - incoming.visible_from) / incoming.xfade_in if incoming.xfade_in > 0 else 1.0
        w = min(1.0, max(0.0, w))
        out = [(out[0][0], 1.0 - w), (out[1][0], w)]
    return out[:2]


def fade_factor(time: float, duration: float, fade: float, frame: float) -> float:
    """Brightness at ``time``: 0 on the first and last frame, rising/falling linearly over
    ``fade`` seconds at each end."""
    if fade <= 0:
        return 1.0
    return min(1.0, max(0.0, min(time / fade, (duration - frame - time) / fade)))


def ease(u: float, ramp: float = RAMP) -> float:
    """Progress 0..1 with a trapezoidal velocity profile: accelerate over ``ramp``, cruise,
    decelerate over the last ``ramp``. C1-continuous, monotonic."""
    u = min(1.0, max(0.0, u))
    r = min(0.5, max(1e-6, ramp))
    v = 1.0 / (1.0 - r)  # cruise speed
    if u < r:
        return v * u * u / (2 * r)
    if u > 1 - r:
        w = 1.0 - u
        return 1.0 - v * w * w / (2 * r)
    return v * (u - r / 2)


def progress_at(plan: ScenePlan, time: float) -> float:
    span = plan.visible_to - plan.visible_from
    return ease((time - plan.visible_from) / span) if span > 0 else 0.0


def view_for(motion: str, amount: float, p: float, width: int, height: int,
             canvas_w: int, canvas_h: int) -> View:
    """Where the frame looks into the canvas at eased progress ``p`` (0..1) of ``motion``."""
    if motion == "static" or amount <= 0:
        s = min(canvas_w / width, canvas_h / height)
        return View(s, (canvas_w - width * s) / 2, (canvas_h - height * s) / 2)
    if motion in ZOOMS:
        # Stop a hair short of 1:1 (0.2 % at 1080p): within half a pixel of it a resize
        # degenerates into a copy, and the sampler would need its slow general path.
        s_max, s_min = 1.0 + amount, 1.0 + min(amount / 2, 2.4 / min(width, height))
        a, b = (s_max, s_min) if motion == "zoom_in" else (s_min, s_max)
        s = a * math.exp(math.log(b / a) * p)
        qx, qy = _even(width / 2), _even(height / 2)
        px = _even(canvas_w / 2 - (width / 2 - qx))
        py = _even(canvas_h / 2 - (height / 2 - qy))
        return View(s, px - qx * s, py - qy * s, (px, py, qx, qy))
    if motion in PANS:
        slack_x, slack_y = canvas_w - width, canvas_h - height
        cx, cy = slack_x / 2, slack_y / 2
        # Travel the frame's share of the margin: amount * width (or height), centred.
        tx, ty = min(slack_x, amount * width), min(slack_y, amount * height)
        if motion == "pan_right":  # camera moves right: the view slides right over the picture
            return View(1.0, cx - tx / 2 + tx * p, round(cy))
        if motion == "pan_left":
            return View(1.0, cx + tx / 2 - tx * p, round(cy))
        if motion == "pan_down":
            return View(1.0, round(cx), cy - ty / 2 + ty * p)
        return View(1.0, round(cx), cy + ty / 2 - ty * p)  # pan_up
    raise ValueError(f"unknown motion {motion!r}")


def _even(v: float) -> int:
    return 2 * int(round(v / 2))
