"""Exports of a complete job on the real embedded backends (own script, draft art, the Piper voice,
the real compositor): captions.srt and .vtt pass real parsers and their cues land within 150 ms
of the word timings in script.json, which carries every scene and word in the final video's
timeline; poster.jpg has the video's frame size; ``captions: false`` turns off only the burn-in."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import srt
import webvtt
from PIL import Image

from engine.backends import choose_backends
from engine.exports import EXPORTS
from engine.pipeline import run
from engine.script.own import parse_script
from engine.spec import AspectRatio, JobSpec, Quality

TOLERANCE = 0.150


class Quiet:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def progress(self, stage: str, percent: float, message: str) -> None:
        pass

    def note(self, line: str) -> None:
        self.notes.append(line)

    def stage_done(self, stage: str, seconds: float) -> None:
        pass


def _words(script: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for s in script["scenes"] for w in s["words"]]


def test_exports_of_an_own_script_job_without_burned_captions(tmp_path: Path) -> None:
    choice = choose_backends(models_dir=tmp_path / "models", stock_dir=tmp_path / "stock", manual_roots=(),
                             script="draft", images="draft", narration="embedded", check=False)
    own = parse_script("The keeper climbed the stairs at dusk.\n\nThen the great lamp went dark.\n\n"
                       "Nobody ever saw him again.")
    spec = JobSpec(topic="the lighthouse", num_scenes=3, duration_minutes=0.2, quality=Quality.DRAFT,
                   aspect_ratio=AspectRatio.PORTRAIT, captions=False, script=own)
    workdir = tmp_path / "job"
    reporter = Quiet()
    result = run(spec, workdir, backends=choice.backends, videos_dir=tmp_path / "videos", reporter=reporter,
                 cancel=threading.Event())
    assert result.video.is_file()
    assert any("your own" in n for n in reporter.notes)
    out = workdir / "exports"
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORTS)
    timeline = json.loads((workdir / "timeline.json").read_text())
    assert timeline["captions"] == []  # no burn-in ...

    script = json.loads((out / "script.json").read_text())
    assert script["title"] and [s["index"] for s in script["scenes"]] == [1, 2, 3]
    assert [s["narration"] for s in script["scenes"]] == [s.narration for s in own.scenes]
    ends = [s["end"] for s in script["scenes"]]
    assert abs(ends[-1] - result.duration) < 0.01
    for s in script["scenes"]:
        assert s["image_prompt"] and s["words"]
        assert all(s["start"] - 1e-6 <= w["start"] <= w["end"] <= s["end"] + 1e-6 for w in s["words"])
    words = _words(script)

    # ... but the captions are exported, and every cue starts at a word and ends near one
    cues = list(srt.parse((out / "captions.srt").read_text()))
    vtt = webvtt.read(str(out / "captions.vtt")).captions
    assert cues and len(cues) == len(vtt)
    spoken = " ".join(w["text"] for w in words)
    assert " ".join(c.content for c in cues) == spoken
    at = 0
    for cue, v in zip(cues, vtt):
        start, end = cue.start.total_seconds(), cue.end.total_seconds()
        assert abs(_vtt_seconds(v.start) - start) < 0.002 and abs(_vtt_seconds(v.end) - end) < 0.002
        assert v.text == cue.content
        n = len(cue.content.split())
        mine = words[at:at + n]
        at += n
        assert " ".join(w["text"] for w in mine) == cue.content
        assert abs(mine[0]["start"] - start) <= TOLERANCE, (cue, mine[0])
        assert mine[-1]["end"] - TOLERANCE <= end <= mine[-1]["end"] + 0.3 + TOLERANCE, (cue, mine[-1])
    assert at == len(words)

    with Image.open(out / "poster.jpg") as poster:
        assert poster.format == "JPEG" and poster.size == (720, 1280)


def _vtt_seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)
