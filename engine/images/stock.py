"""The offline stock library: a folder of images (default models/stock/) indexed by the words of
each file's name and folders, plus optional sidecar tags (``name.txt`` with words or comma-separated
tags, or ``name.json`` with a list of tags or {"tags": [...], "description": "..."}). Scenes are
matched by the job's stock_keywords first and then by the words of the scene's image prompt, and
no image repeats until every image has been used."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Iterable

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: Final = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
#: The job's stock_keywords are the creator's explicit ask: any keyword match outranks scene words.
KEYWORD_WEIGHT: Final = 100.0
PROMPT_WEIGHT: Final = 1.0
_STOPWORDS: Final = frozenset(
    "a an and are as at be by for from has have he her his in into is it its of on or our she that the their "
    "them they this to was were with you your img image photo pic picture stock dsc jpg png final copy "
    "scene shot view very".split()
)


def terms(text: str) -> set[str]:
    """Lower-case content words of ``text``, with a light plural fold (forests -> forest)."""
    out = set()
    for w in re.split(r"[^a-z0-9]+", text.lower()):
        if len(w) < 2 or w.isdigit() or w in _STOPWORDS:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.add(w)
    return out


def _sidecar_terms(image: Path) -> set[str]:
    found: set[str] = set()
    txt = image.with_suffix(".txt")
    if txt.is_file():
        try:
            found |= terms(txt.read_text(encoding="utf-8", errors="replace")[:10_000])
        except OSError as exc:
            log.warning("stock sidecar %s unreadable: %s", txt, exc)
    js = image.with_suffix(".json")
    if js.is_file():
        try:
            data = json.loads(js.read_text(encoding="utf-8")[:100_000])
        except (OSError, ValueError) as exc:
            log.warning("stock sidecar %s unreadable: %s", js, exc)
            data = None
        if isinstance(data, dict):
            tags = data.get("tags", [])
            found |= terms(" ".join(str(t) for t in tags) if isinstance(tags, list) else str(tags))
            for key in ("description", "title", "keywords"):
                if key in data:
                    value = data[key]
                    found |= terms(" ".join(map(str, value)) if isinstance(value, list) else str(value))
        elif isinstance(data, list):
            found |= terms(" ".join(str(t) for t in data))
    return found


@dataclass(frozen=True)
class StockImage:
    path: Path
    tags: frozenset[str]


@dataclass(frozen=True)
class StockLibrary:
    root: Path
    items: tuple[StockImage, ...]

    @classmethod
    def scan(cls, root: Path, *, limit: int = 20_000) -> "StockLibrary":
        """Index every image under ``root`` (recursively, sorted, hidden files skipped)."""
        root = Path(root)
        if not root.is_dir():
            return cls(root, ())
        items = []
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            if path.suffix.lower() not in IMAGE_EXTENSIONS or not path.is_file():
                continue
            words = terms(" ".join((*rel.parts[:-1], path.stem))) | _sidecar_terms(path)
            items.append(StockImage(path, frozenset(words)))
            if len(items) >= limit:
                log.warning("stock library %s: indexing stopped at %d images", root, limit)
                break
        return cls(root, tuple(items))

    def __len__(self) -> int:
        return len(self.items)

    def score(self, item: StockImage, keywords: set[str], prompt_words: set[str]) -> float:
        return KEYWORD_WEIGHT * len(item.tags & keywords) + PROMPT_WEIGHT * len(item.tags & prompt_words)


@dataclass
class StockPicker:
    """Hands out the best-ranked image for each scene; no image twice until all have been used.
    Mutable by design (one per job run), never shared."""

    library: StockLibrary
    keywords: frozenset[str]
    used: set[Path] = field(default_factory=set)
    skipped: set[Path] = field(default_factory=set)

    @classmethod
    def for_job(cls, library: StockLibrary, stock_keywords: Iterable[str]) -> "StockPicker":
        return cls(library, frozenset(terms(" ".join(stock_keywords))))

    def ranked(self, prompt: str) -> list[tuple[float, StockImage]]:
        words = terms(prompt)
        scored = [
            (self.library.score(it, set(self.keywords), words), i, it)
            for i, it in enumerate(self.library.items)
            if it.path not in self.skipped
        ]
        scored.sort(key=lambda t: (-t[0], t[1]))
        return [(s, it) for s, _, it in scored]

    def pick(self, prompt: str, *, require_match: bool = False) -> StockImage | None:
        """The best unused image for a scene whose prompt is ``prompt``; None when the library is
        empty, or when ``require_match`` and no unused image shares a word with the scene/keywords."""
        ranked = self.ranked(prompt)
        if not ranked:
            return None
        if all(it.path in self.used for _, it in ranked):
            self.used.clear()  # exhausted: start a new round
        for score, it in ranked:
            if it.path in self.used:
                continue
            if require_match and score <= 0:
                return None
            self.used.add(it.path)
            return it
        return None

    def skip(self, item: StockImage) -> None:
        """Never offer ``item`` again (it failed to load)."""
        self.skipped.add(item.path)
        self.used.discard(item.path)
