"""Timeline data (JSON, validation), pacing helpers and the scene schedule / camera math."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.compose import motion as mo
from engine.compose.pacing import fade_for, motion_strength_for, transition_for
from engine.compose.still import canvas_size
from engine.compose.timeline import Caption, CaptionWord, Timeline, TimelineScene, VideoSettings
from engine.errors import BadInput
from engine.spec import Pacing


def _doc(**over: object) -> dict:
    d: dict = {"width": 1920, "height": 1080, "fps": 30, "transition": 0.6,
               "scenes": [{"image": "images/scene_01.png", "duration": 6.5, "motion": "zoom_in"},
                          {"image": "images/scene_02.png", "duration": 3.5}],
               "narration": "audio/narration.wav", "music": None, "captions": [],
               "video": {"codec": "auto", "crf": 20, "preset": "veryfast"}}
    d.update(over)
    return d


def test_from_json_resolves_relative_paths_and_defaults(tmp_path: Path) -> None:
    p = tmp_path / "job" / "timeline.json"
    p.parent.mkdir()
    p.write_text(json.dumps(_doc()))
    t = Timeline.from_json(p)
    assert t.scenes[0].image == p.parent / "images" / "scene_01.png"
    assert t.narration == p.parent / "audio" / "narration.wav"
    assert t.music is None
    assert t.scenes[1].motion == "auto"
    assert t.duration == pytest.approx(10.0)
    assert t.frame_count == 300
    assert t.scene_starts() == (0.0, 6.5)
    minimal = {"width": 640, "height": 360, "fps": 25, "scenes": [{"image": "/abs/a.png", "duration": 2}]}
    p.write_text(json.dumps(minimal))
    t2 = Timeline.from_json(p)
    assert t2.transition == 0.6 and t2.video == VideoSettings() and t2.captions == ()
    assert t2.scenes[0].image == Path("/abs/a.png")


def test_to_json_round_trip_with_relative_paths(tmp_path: Path) -> None:
    words = (CaptionWord("Hello", 0.1, 0.4), CaptionWord("there.", 0.5, 0.9))
    t = Timeline(640, 360, 30, (TimelineScene(tmp_path / "img" / "a.png", 2.0, "pan_left"),),
                 narration=tmp_path / "n.wav", captions=(Caption("Hello there.", 0.1, 1.0, words),),
                 motion_strength=0.14, fade=0.3)
    path = t.to_json(tmp_path / "timeline.json")
    raw = json.loads(path.read_text())
    assert raw["scenes"][0]["image"] == "img/a.png" and raw["narration"] == "n.wav"
    assert Timeline.from_json(path) == t


@pytest.mark.parametrize("change, field", [
    ({"scenes": [{"image": "a.png", "duration": 0}]}, "scenes[0].duration"),
    ({"scenes": [{"image": "a.png", "duration": -2}]}, "scenes[0].duration"),
    ({"scenes": [{"image": "a.png", "duration": 1, "motion": "spin"}]}, "scenes[0].motion"),
    ({"scenes": []}, "scenes"),
    ({"scenes": [{"duration": 1}]}, "image"),
    ({"width": 1921}, "width"),
    ({"fps": "thirty"}, "fps"),
    ({"video": {"codec": "vp9"}}, "video.codec"),
    ({"video": {"preset": "warp"}}, "video.preset"),
    ({"video": {"crf": 70}}, "video.crf"),
    ({"transition": -1}, "transition"),
    ({"captions": [{"text": "x", "start": 2, "end": 1}]}, "captions[0]"),
    ({"colour": "red"}, "colour"),
])
def test_validation_names_the_field(tmp_path: Path, change: dict, field: str) -> None:
    with pytest.raises(BadInput) as e:
        Timeline.from_dict(_doc(**change), base=tmp_path)
    assert field in e.value.message


def test_missing_required_and_bad_json(tmp_path: Path) -> None:
    d = _doc()
    del d["fps"]
    with pytest.raises(BadInput, match="'fps'"):
        Timeline.from_dict(d)
    bad = tmp_path / "t.json"
    bad.write_text("{not json")
    with pytest.raises(BadInput, match="not valid JSON"):
        Timeline.from_json(bad)
    with pytest.raises(BadInput, match="not found"):
        Timeline.from_json(tmp_path / "missing.json")


def test_pacing_helpers_are_ordered() -> None:
    order = [Pacing.SLOW, Pacing.MODERATE, Pacing.DYNAMIC, Pacing.FAST]
    tr = [transition_for(p) for p in order]
    mv = [motion_strength_for(p) for p in order]
    assert tr == sorted(tr, reverse=True) and tr[1] == 0.6
    assert mv == sorted(mv) and 0 < mv[0] and mv[-1] <= 0.25
    assert fade_for("slow") >= fade_for("fast") > 0
    assert transition_for("moderate") == transition_for(Pacing.MODERATE)


def test_auto_motion_differs_from_neighbours() -> None:
    for w, h in ((1920, 1080), (1080, 1920), (1080, 1080)):
        got = mo.resolve_motions(["auto"] * 9 + ["zoom_in", "auto", "pan_left", "auto"], w, h)
        assert "auto" not in got
        assert all(a != b for a, b in zip(got, got[1:])), got
    assert mo.resolve_motions(["static", "auto"], 1920, 1080)[0] == "static"


def _timeline(durations: list[float], transition: float = 0.6, fade: float = 0.5) -> Timeline:
    scenes = tuple(TimelineScene(Path(f"{i}.png"), d, "static") for i, d in enumerate(durations))
    return Timeline(320, 180, 30, scenes, transition=transition, fade=fade)


def test_schedule_crossfades_centred_and_clamped() -> None:
    t = _timeline([2.0, 0.4, 3.0], transition=1.0)
    plans = mo.plan_scenes(t)
    assert plans[0].xfade_in == 0 and plans[-1].xfade_out == 0
    assert plans[1].xfade_in == pytest.approx(0.4) and plans[1].xfade_out == pytest.approx(0.4)
    # never three scenes at once, weights sum to one, the midpoint of a boundary is 50/50
    for k in range(int(t.duration * 100)):
        layers = mo.layers_at(plans, k / 100)
        assert 1 <= len(layers) <= 2
        assert sum(w for _, w in layers) == pytest.approx(1.0)
    mid = dict(mo.layers_at(plans, 2.0))
    assert mid == {0: pytest.approx(0.5), 1: pytest.approx(0.5)}
    assert mo.layers_at(plans, 1.0) == [(0, 1.0)]


def test_fade_and_ease() -> None:
    t = _timeline([2.0, 2.0])
    plans = mo.plan_scenes(t)
    f = mo.fade_length(t, plans)
    assert f == pytest.approx(0.5)
    dt = 1 / 30
    assert mo.fade_factor(0.0, 4.0, f, dt) == 0.0
    assert mo.fade_factor(4.0 - dt, 4.0, f, dt) == 0.0
    assert mo.fade_factor(2.0, 4.0, f, dt) == 1.0
    xs = [mo.ease(i / 1000) for i in range(1001)]
    assert xs[0] == 0.0 and xs[-1] == pytest.approx(1.0)
    steps = [b - a for a, b in zip(xs, xs[1:])]
    assert min(steps) >= 0
    # velocity changes gradually (no jumps): C1 profile
    assert max(abs(b - a) for a, b in zip(steps, steps[1:])) < 1e-5


def test_views_stay_inside_the_canvas() -> None:
    for (w, h) in ((1920, 1080), (1080, 1920), (1080, 1080), (320, 180), (1366, 768)):
        cw, ch = canvas_size(w, h, 0.12)
        assert cw % 4 == 0 and ch % 4 == 0 and cw >= w * 1.12 and ch >= h * 1.12
        for motion in mo.ZOOMS + mo.PANS:
            for p in (0.0, 0.25, 0.5, 1.0):
                v = mo.view_for(motion, 0.12, p, w, h, cw, ch)
                assert v.ox >= 0 and v.oy >= 0
                assert v.ox + w * v.scale <= cw + 1e-9 and v.oy + h * v.scale <= ch + 1e-9
    cw, ch = canvas_size(1920, 1080, 0.1)
    a = mo.view_for("zoom_in", 0.1, 0.0, 1920, 1080, cw, ch)
    b = mo.view_for("zoom_in", 0.1, 1.0, 1920, 1080, cw, ch)
    assert a.scale == pytest.approx(1.1) and b.scale == pytest.approx(1.0, abs=0.003) and b.scale > 1.0
    l0, l1 = (mo.view_for("pan_left", 0.1, p, 1920, 1080, cw, ch).ox for p in (0.0, 1.0))
    assert l0 - l1 == pytest.approx(192.0)
