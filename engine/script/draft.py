"""The draft writer: the embedded default when no language model is installed. It builds a
story-shaped script from the story type's kit of templates (hook, setup, rising action, climax,
ending), the request's topic, characters, hook intensity and pacing, and fits it to the word
budget sentence by sentence. No model at all; deterministic for a given seed. Its scripts say
plainly that they are drafts."""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass, field
from typing import Final, Mapping

from engine.contracts import Progress, Scene, Script
from engine.languages import language
from engine.narration.budget import reference_budget
from engine.script.draft_kit import (
    FRAMINGS,
    GENERIC_CAMEOS,
    HERO_LOOKS,
    HERO_NAMES,
    PHASES,
    RETURN_OPENERS,
    DraftKit,
    render,
    title_case,
    topic_phrase,
)
from engine.script.draft_kits_dark import DARK_KITS
from engine.script.draft_kits_people import PEOPLE_KITS
from engine.script.draft_kits_talk import TALK_KITS
from engine.script.draft_kits_wonder import WONDER_KITS
from engine.script.finish import DraftScene, finish
from engine.script.names import mentions, short_name
from engine.script.length import WordBudget, word_budget
from engine.script.speakable import word_count
from engine.spec import Character, JobSpec, Pacing

log = logging.getLogger(__name__)

NAME: Final = "draft writer (no language model)"
SOURCE: Final = (
    "draft writer (no language model): a templated DRAFT script, not written by a language model; "
    "install a GGUF with scripts/download_models.py --llm for real scripts"
)
#: Which sentence kinds follow each other: E event (phase bank), D detail, B beat.
_RHYTHM: Final[Mapping[Pacing, str]] = {
    Pacing.SLOW: "EDD",
    Pacing.MODERATE: "EED",
    Pacing.DYNAMIC: "EBED",
    Pacing.FAST: "EEB",
}

#: Short beats a scene may use before it prefers a longer line (the last scene may use more).
#: Rewrites allowed to bring a draft's speaking time to the request, and how close is close enough.
_FIT_NUDGES: Final = (1.0, 1.04, 0.96, 1.08, 0.92, 1.12, 0.88)
_FIT_TOLERANCE: Final = 0.02

_BEATS: Final[Mapping[Pacing, int]] = {Pacing.SLOW: 1, Pacing.MODERATE: 1, Pacing.DYNAMIC: 2, Pacing.FAST: 3}


def kit_for(story_type: str) -> DraftKit:
    kits = {**DARK_KITS, **WONDER_KITS, **TALK_KITS, **PEOPLE_KITS}
    return kits.get(story_type, kits["mystery"])


def phase_at(position: float) -> str:
    """The story beat at ``position`` (0..1) of the whole script."""
    for phase, end in zip(PHASES, (0.22, 0.6, 0.82, 2.0)):
        if position < end:
            return phase
    return PHASES[-1]


@dataclass
class _Picker:
    """Draws templates from each bank in a seeded shuffled order. Once a bank has been used up it
    is reshuffled, and templates coming round again get a varied opening word."""

    rng: random.Random
    queues: dict[str, list[str]] = field(default_factory=dict)
    passes: dict[str, int] = field(default_factory=dict)
    recent: list[str] = field(default_factory=list)  # templates drawn lately, not repeated in a fallback
    openers: int = 0

    def draw(
        self,
        key: str,
        bank: tuple[str, ...],
        values: Mapping[str, str],
        max_words: int,
        pacing: Pacing,
        prefer: tuple[str, ...] = (),
        allow_repeat: bool = True,
    ) -> str | None:
        """The next template of ``bank`` that renders within ``max_words`` (one containing a
        field of ``prefer`` first, when any does); None when none fits."""
        if max_words < 1 or not bank:
            return None
        queue = self.queues.get(key)
        if not queue:
            queue = [t for t in bank if render(t, values) is not None]
            self.rng.shuffle(queue)
            self.queues[key] = queue
            self.passes[key] = self.passes.get(key, 0) + 1
        ordered = sorted(queue, key=lambda t: (not any(p in t for p in prefer), t in self.recent))
        for template in ordered:
            text = self._make(template, values, pacing, repeat=self.passes[key] > 1 and key != "beats")
            if text is not None and word_count(text) <= max_words:
                queue.remove(template)
                self._remember(template)
                return text
        if not allow_repeat:
            return None
        fits = [
            (b, t)
            for b, t in ((b, self._make(b, values, pacing, repeat=False)) for b in bank)
            if t and word_count(t) <= max_words
        ]
        fresh = [f for f in fits if f[0] not in self.recent] or fits
        if not fresh:
            return None
        template, text = self.rng.choice(fresh)
        self._remember(template)
        return text

    def _remember(self, template: str) -> None:
        self.recent = (self.recent + [template])[-6:]

    def used_up(self, key: str) -> bool:
        """True when every template of this pass of ``key`` has been drawn."""
        return key in self.queues and not self.queues[key]

    def _make(self, template: str, values: Mapping[str, str], pacing: Pacing, *, repeat: bool) -> str | None:
        text = render(template, values)
        if text is None:
            return None
        if repeat and not template.startswith("{") and not text.split()[0].isupper():
            opener = RETURN_OPENERS[self.openers % len(RETURN_OPENERS)]
            self.openers += 1
            text = f"{opener} {text[0].lower()}{text[1:]}"
        if pacing is Pacing.FAST:
            text = _split_clauses(text)
        return text


_SUBJECT_STARTS: Final = frozenset(
    "the a an it they nobody no every everyone someone something nothing there "
    "then his her their its each all one some i we you".split()
)


def _split_clauses(text: str) -> str:
    """Fast pacing: 'The door opened, and the cold came in.' -> 'The door opened. The cold came in.'
    Only where the second clause has its own subject, so no fragment is left behind."""
    for joint in (", and ", "; "):
        head, sep, tail = text.partition(joint)
        if not sep or word_count(head) < 3 or word_count(tail) < 3:
            continue
        first = tail.split()[0]
        if first.lower() in _SUBJECT_STARTS or first[:1].isupper():
            return f"{head}. {tail[0].upper()}{tail[1:]}"
    return text


@dataclass
class _Story:
    kit: DraftKit
    spec: JobSpec
    sheet: tuple[Character, ...]
    values: dict[str, str]
    picker: _Picker
    told: set[str] = field(default_factory=set)  # full names already spoken

    def line(self, key: str, bank: tuple[str, ...], max_words: int) -> str | None:
        """A hook or closing line."""
        text = self.picker.draw(key, bank, self.values, max_words, self.spec.pacing)
        if text is not None:
            self._shorten_names(text)
        return text

    def sentence(self, kind: str, phase: str, max_words: int, allow_repeat: bool = True) -> str | None:
        bank = {"E": self.kit.bank(phase), "D": self.kit.details, "B": self.kit.beats}[kind]
        key = {"E": phase, "D": "details", "B": "beats"}[kind]
        if kind == "D" and self.picker.used_up("details") and not self.picker.used_up(phase):
            bank, key = self.kit.bank(phase), phase  # keep atmosphere lines from repeating too soon
        prefer = tuple(
            f"{{{role}}}"
            for role in ("hero", "ally", "rival")
            if self.values.get(role) and self.values[role] not in self.told and kind == "E"
        )
        text = self.picker.draw(key, bank, self.values, max_words, self.spec.pacing, prefer, allow_repeat)
        if text is not None:
            self._shorten_names(text)
        return text

    def cameo(self, character: Character, max_words: int) -> str | None:
        values = {**self.values, "name": character.name}
        bank = self.kit.cameos + GENERIC_CAMEOS
        text = self.picker.draw("cameos", bank, values, max_words, self.spec.pacing)
        if text is not None:
            self._shorten_names(text)
        return text

    def _shorten_names(self, text: str) -> None:
        """After a character's full name has been spoken once, later lines use the short name."""
        for role in ("hero", "ally", "rival"):
            current = self.values.get(role, "")
            if current and current in text and any(c.name == current for c in self.sheet):
                self.told.add(current)
                self.values[role] = short_name(current)

    def linger(self, parts: list[str]) -> list[str]:
        """Slow pacing: join pairs of plain statements into one longer, flowing sentence."""
        keep = {w for c in self.sheet for w in c.name.replace(".", "").split()} | {"I"}
        keep |= {self.values["topic"].split()[0]} if self.values.get("topic") else set()
        out: list[str] = []
        for part in parts:
            prev = out[-1] if out else ""
            first = part.split()[0].strip(",;:'\"")
            if (
                prev.endswith(".")
                and part.endswith(".")
                and word_count(prev) >= 4
                and word_count(part) >= 4
                and word_count(prev) + word_count(part) <= 32
                and first not in keep
                and not first.isupper()
                and prev.count(";") == 0
            ):
                out[-1] = f"{prev[:-1]}; {part[0].lower()}{part[1:]}"
            else:
                out.append(part)
        return out

    def unmentioned(self, text: str, *, spare_roles: bool) -> list[Character]:
        """Characters the story has not named yet. With ``spare_roles`` the hero, ally and rival
        of a hero-led kit are left to the kit's own lines, which name them."""
        spared = self.sheet[:3] if spare_roles and self.kit.hero_led else ()
        return [c for c in self.sheet if c not in spared and not mentions(text, c)]


class DraftWriter:
    """The embedded default ScriptWriter: a clearly labelled draft, no model needed."""

    name: str = NAME

    def write(self, spec: JobSpec, *, progress: Progress, words_per_minute: float = 150.0) -> Script:
        progress.check_cancelled()
        progress(0.0, "Writing a draft script (no language model installed)")
        lang = language(spec.language)
        if lang.code != "en":  # the rate is in the job's language; the draft is English
            words_per_minute *= language("en").per_minute / lang.per_minute
            progress.note(
                f"The draft writer writes English only: this {lang.name} job's script is in English. Install "
                f"a GGUF with scripts/download_models.py --llm for a script in {lang.name}, or give your own "
                "script.")
        budget, story, narrations, rng = _fit(spec, words_per_minute)
        kit, sheet = story.kit, story.sheet
        scenes = [
            DraftScene(text, _picture(kit, spec, story, i, len(narrations), text, rng))
            for i, text in enumerate(narrations)
        ]
        title = _title(rng.choice(kit.titles), spec.topic)
        script = finish(title, sheet, scenes, SOURCE)
        if budget.floored:
            progress.note(
                f"{spec.num_scenes} scenes need at least {budget.target} words, more than "
                f"{spec.duration_minutes:g} minutes allows; the script is a little longer"
            )
        progress.note(
            f"Draft script ({script.word_count} words, target {budget.target}): templated, not written by "
            "a language model. Install a GGUF with scripts/download_models.py --llm for real scripts."
        )
        log.info(
            "draft script: %s, %d scenes, %d words", spec.story_type, len(script.scenes), script.word_count
        )
        progress(1.0, "Draft script ready")
        return script

    def rewrite_scene(self, script: Script, index: int, spec: JobSpec, *, hint: str | None = None,
                      seed: int = 0, progress: Progress, words_per_minute: float = 150.0) -> Scene:
        """Another templated variant of scene ``index`` (engine/script/draft_rewrite.py)."""
        from engine.script.draft_rewrite import rewrite_scene

        return rewrite_scene(script, index, spec, hint=hint, seed=seed, progress=progress,
                             words_per_minute=words_per_minute)


def _draft(spec: JobSpec, words_per_minute: float) -> tuple[WordBudget, _Story, list[str], random.Random]:
    budget = word_budget(spec.num_scenes, spec.duration_minutes, words_per_minute)
    rng = random.Random(f"storyreel-draft:{spec.seed}:{spec.story_type}:{spec.topic}")
    kit = kit_for(spec.story_type)
    sheet = _cast(spec, kit, rng)
    values = {
        "topic": topic_phrase(spec.topic),
        "place": rng.choice(kit.places),
        "thing": rng.choice(kit.things),
        "hero": sheet[0].name if sheet else "",
        "ally": sheet[1].name if len(sheet) > 1 else "",
        "rival": sheet[2].name if len(sheet) > 2 else "",
    }
    story = _Story(kit, spec, sheet, values, _Picker(rng))
    return budget, story, _narrate(story, budget), rng


def _fit(spec: JobSpec, words_per_minute: float) -> tuple[WordBudget, _Story, list[str], random.Random]:
    """The draft, rewritten to a corrected word count until its *standard* words (speaking time
    in words of average length, in sentences of the pacing's usual length: what the narrator's
    rate counts) match the request. Long words or many short sentences take longer to say than
    their word count suggests, so such a draft gets fewer words. Deterministic."""
    want = spec.duration_minutes * words_per_minute
    reference = reference_budget(spec.pacing)
    best: tuple[tuple[int, float], tuple[WordBudget, _Story, list[str], random.Random]] | None = None
    wpm = words_per_minute
    for nudge in (None,) + _FIT_NUDGES:
        draft = _draft(spec, wpm if nudge is None else wpm * nudge)
        budget, narrations = draft[0], draft[2]
        standard = reference.standard_words(narrations)
        miss = abs(standard / max(want, 1e-6) - 1.0)
        unnamed = len(draft[1].unmentioned(" ".join(narrations), spare_roles=False))
        if best is None or (unnamed, miss) < best[0]:
            best = ((unnamed, miss), draft)  # a draft that names everyone first
        if (miss <= _FIT_TOLERANCE and not unnamed) or budget.floored or standard <= 0:
            break
        if nudge is None:  # correct once for this draft's words and sentences, then try around it
            wpm *= want / standard
    assert best is not None
    return best[1]


def _title(pattern: str, topic: str) -> str:
    """The title pattern with the topic; "The Legend of The Lost Ship" loses its second "The"."""
    t = title_case(topic)
    if not pattern.startswith("{T}"):
        t = re.sub(r"^(?:The|A|An) ", "", t)
    return pattern.format(T=t)


def _cast(spec: JobSpec, kit: DraftKit, rng: random.Random) -> tuple[Character, ...]:
    sheet = tuple(
        Character(" ".join(c.name.split()), " ".join(c.description.split()))
        for c in spec.characters
        if c.name.strip()
    )
    if sheet or not kit.hero_led:
        return sheet
    return (Character(rng.choice(HERO_NAMES), rng.choice(HERO_LOOKS)),)


def _narrate(story: _Story, budget: WordBudget) -> list[str]:
    """Scene narrations whose lengths follow the budget; each scene's shortfall or overshoot is
    carried into the next, so the total lands within a few words of the target."""
    n = len(budget.scene_targets)
    out: list[str] = []
    written, planned, step = 0, 0, 0
    for i, share in enumerate(budget.scene_targets):
        planned += share
        narration, step = _scene(story, i, n, max(1, planned - written), written, budget.target, out, step)
        out.append(narration)
        written += word_count(narration)
    return out


def _scene(story: _Story, i: int, n: int, goal: int, written: int, target: int, before: list[str],
           step: int) -> tuple[str, int]:
    """Scene ``i`` of ``n``: about ``goal`` words, ``written`` words into a ``target``-word story
    whose earlier scenes are ``before``; ``step`` is the place in the pacing's rhythm. Returns the
    narration and the rhythm's next step."""
    kit, spec = story.kit, story.spec
    rhythm = _RHYTHM[spec.pacing]
    parts: list[str] = []
    words = 0
    closer = ""
    if i == n - 1:
        closer = story.line("closers", kit.closers, goal - 2) or ""
    reserve = word_count(closer)
    if i == 0:
        hook = story.line("hooks", kit.hooks[spec.hook_intensity.value], goal - reserve)
        if hook:
            parts.append(hook)
            words += word_count(hook)
    cameo_done = False
    beats, max_beats = 0, _BEATS[spec.pacing]
    while True:
        remaining = goal - reserve - words
        if remaining <= 0:
            break
        room = remaining + (2 if remaining >= 6 else 0)
        lingering = spec.pacing is Pacing.SLOW and i < n - 1
        if lingering and remaining < 5:
            room = remaining + 6  # a slow story ends a scene on a full sentence, not a beat
        phase = phase_at((written + words) / target)
        text = None
        late = (written + words) / target > 0.5 or i == n - 1
        missing = story.unmentioned(" ".join(before + parts), spare_roles=not late)
        if missing and (parts or goal < 8) and (not cameo_done or len(missing) > n - i - 1):
            # a name is worth a few words over, made up in the next scene
            text = story.cameo(missing[0], room + (3 if i < n - 1 else 0))
            cameo_done = text is not None
        if text is None:
            kind = "B" if remaining < 5 and not lingering else rhythm[step % len(rhythm)]
            step += 1
            kinds = [
                k
                for k in dict.fromkeys((kind, "E", "D", "B"))
                if k != "B" or beats < max_beats or i == n - 1
            ]
            tries = [(k, room, False) for k in kinds] + [
                ("E", room + 8, False),
                ("D", room + 8, False),
            ] * (i < n - 1)
            for k, limit, repeat in tries + [(kind, room, True), ("B", room, True)]:
                text = story.sentence(k, phase, limit, allow_repeat=repeat)
                if text is not None:
                    beats += k == "B"
                    break
        if text is None:
            break
        parts.append(text)
        words += word_count(text)
    if closer:
        parts.append(closer)
    if spec.pacing is Pacing.SLOW:
        parts = story.linger(parts)
    if not parts:
        parts.append(story.sentence("B", "ending", 4) or "And so it went.")
    return " ".join(parts), step


def _picture(
    kit: DraftKit, spec: JobSpec, story: _Story, i: int, n: int, narration: str, rng: random.Random
) -> str:
    """A visual prompt: framing, subject (the scene's characters doing something, or a scene
    subject), setting, lighting, and the topic. The finisher adds the characters' looks."""
    phase = phase_at((i + 0.5) / n)
    framing = FRAMINGS[0] if i == 0 else FRAMINGS[(i + spec.seed) % len(FRAMINGS)]
    setting = kit.settings[min(len(kit.settings) - 1, i * len(kit.settings) // max(1, n))]
    light = kit.light[PHASES.index(phase)]
    present = [c.name for c in story.sheet if mentions(narration, c)]
    if present:
        subject = f"{' and '.join(present[:2])} {rng.choice(kit.actions)}"
    else:
        subject = rng.choice(kit.subjects)
    return f"{framing} of {subject}, {setting}, {light}, {topic_phrase(spec.topic)}"
