"""Exports beside every complete job (``<job>/exports/``), each written atomically:

captions.srt, captions.vtt  the captions the video burns in (the same chunks and word times, made
                            by the same code, in the final video's timeline) — also when the
                            request turned the burn-in off (``captions: false``)
script.json                 title and scenes: index, narration, image prompt, start and end, and
                            every word with its start and end, in seconds of the final video
poster.jpg                  the opening scene's picture at the video's frame size with the title
                            set in the caption style (font, white with a black outline)

Made from the job's artifacts (script.json, narration.json, timeline.json, images/), so they can
be made again for any job whose folder is still there."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Sequence

import srt

from engine import tempnames
from engine.assemble import _captions as caption_track  # the burned-in captions' own chunking
from engine.compose.timeline import Caption, Timeline
from engine.contracts import Narration, Script
from engine.spec import JobSpec

EXPORTS_DIR: Final = "exports"
#: name -> media type, for the server
EXPORTS: Final = {
    "captions.srt": "application/x-subrip",
    "captions.vtt": "text/vtt",
    "script.json": "application/json",
    "poster.jpg": "image/jpeg",
}


@dataclass(frozen=True)
class Timing:
    """Where each scene sits in the final video."""

    starts: tuple[float, ...]
    durations: tuple[float, ...]


def timing_of(timeline: Timeline) -> Timing:
    return Timing(timeline.scene_starts(), tuple(s.duration for s in timeline.scenes))


def captions(narration: Narration, timing: Timing, language: str = "en") -> tuple[Caption, ...]:
    return caption_track(narration.scenes, timing.starts, timing.durations, language)


def _td(seconds: float) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=round(max(0.0, seconds) * 1000))


def srt_text(cues: Sequence[Caption]) -> str:
    return srt.compose([srt.Subtitle(i, _td(c.start), _td(c.end), c.text) for i, c in enumerate(cues, 1)])


def _vtt_time(seconds: float) -> str:
    ms = round(max(0.0, seconds) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def vtt_text(cues: Sequence[Caption]) -> str:
    lines = ["WEBVTT", ""]
    for i, c in enumerate(cues, 1):
        text = " ".join(c.text.split()).replace("-->", "->")
        lines += [str(i), f"{_vtt_time(c.start)} --> {_vtt_time(c.end)}", text, ""]
    return "\n".join(lines)


def script_export(script: Script, narration: Narration, timing: Timing) -> dict[str, Any]:
    scenes = []
    for i, (scene, audio, start, length) in enumerate(
            zip(script.scenes, narration.scenes, timing.starts, timing.durations), start=1):
        scenes.append({
            "index": i,
            "narration": scene.narration,
            "image_prompt": scene.image_prompt,
            "start": round(start, 3),
            "end": round(start + length, 3),
            "words": [{"text": w.text, "start": round(start + w.start, 3), "end": round(start + w.end, 3)}
                      for w in audio.words],
        })
    return {"title": script.title, "scenes": scenes}


def poster(image: Path, title: str, size: tuple[int, int], dest: Path, language: str = "en") -> Path:
    """The opening picture covering ``size`` with ``title`` in the caption style, as a JPEG (the
    font, direction and line breaking of the story's ``language``)."""
    from PIL import Image, ImageDraw

    from engine.compose.caption_art import (OUTLINE_RGB, TEXT_RGB, layout_for, load_font, shaper_for,
                                            stroke_for)
    from engine.images.normalise import fit_cover
    from engine.languages import language as language_row

    width, height = size
    with Image.open(image) as im:
        frame = fit_cover(im.convert("RGB"), (width, height)).resize((width, height))
    layout = layout_for(width, height, language)
    font_px = round(layout.font_px * 1.5)
    font = load_font(font_px, language)
    stroke = stroke_for(font_px)
    draw = ImageDraw.Draw(frame)
    lang, shaper = language_row(language), shaper_for(language)
    lines: list[str] = []
    for word in title.split() if lang.spaced else list("".join(title.split())):
        trial = f"{lines[-1]}{lang.joiner}{word}" if lines else word
        if lines and shaper.length(font, trial) <= layout.max_width:
            lines[-1] = trial
        else:
            lines.append(word)
    text = "\n".join(shaper.text(line) for line in lines[:4])
    box = draw.multiline_textbbox((0, 0), text, font=font, stroke_width=stroke, align="center",
                                  **shaper.options)
    tw, th = box[2] - box[0], box[3] - box[1]
    x, y = (width - tw) / 2 - box[0], height * 0.5 - th / 2 - box[1]
    draw.multiline_text((x, y), text, font=font, fill=TEXT_RGB, stroke_width=stroke, stroke_fill=OUTLINE_RGB,
                        align="center", **shaper.options)
    with tempnames.atomic_path(dest) as tmp, open(tmp, "wb") as fh:
        frame.save(fh, format="JPEG", quality=88, optimize=True)
    return dest


def write_exports(spec: JobSpec, workdir: Path, script: Script) -> Path:
    """Every export of a job whose video is made; returns the exports folder."""
    workdir = Path(workdir)
    out = workdir / EXPORTS_DIR
    narration = Narration.from_dict(json.loads((workdir / "narration.json").read_text(encoding="utf-8")))
    timeline = Timeline.from_json(workdir / "timeline.json")
    timing = timing_of(timeline)
    cues = captions(narration, timing, spec.language)
    tempnames.write_text_atomic(out / "captions.srt", srt_text(cues))
    tempnames.write_text_atomic(out / "captions.vtt", vtt_text(cues))
    tempnames.write_text_atomic(out / "script.json", json.dumps(script_export(script, narration, timing),
                                                                indent=1, ensure_ascii=False))
    poster(workdir / "images" / "scene_01.png", script.title, (timeline.width, timeline.height),
           out / "poster.jpg", spec.language)
    return out
