"""How long a voice takes to say a script: speech time by letters (long words take longer than
short ones), the pacing's pause after every sentence, and each scene's lead-in and end pause.

The script stage is told a words-per-minute rate; that rate counts *standard* words: words of
``LETTERS_PER_WORD`` letters in sentences of the pacing's usual length. A writer whose text has
longer words or more, shorter sentences than that can measure it in standard words with
``SpeechBudget.standard_words`` and write to the rate exactly (the draft writer does)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Iterable, Mapping

from engine.languages import language as language_row
from engine.narration.sentences import prepare_text
from engine.narration.timing import PACING, PacingProfile
from engine.spec import Pacing

#: Letters (a-z, digits) in an average spoken word of English narration (draft and LLM scripts
#: measure 4.4-4.5).
LETTERS_PER_WORD: Final = 4.45
#: Spoken words in a typical sentence at each pacing (faster pacing, shorter sentences).
WORDS_PER_SENTENCE: Final[Mapping[Pacing, float]] = {
    Pacing.SLOW: 14.0, Pacing.MODERATE: 10.0, Pacing.DYNAMIC: 9.5, Pacing.FAST: 8.5}
#: The average pause after a sentence relative to the profile's sentence pause (questions,
#: exclamations and short lines pause longer): 1.03-1.07 measured on draft scripts.
PAUSE_FACTOR: Final = 1.06
#: The embedded voice's measured speech time over the plain length-scale model, per pacing (the
#: model's fixed share and pitch shaping do not net out exactly): scripts/bench_length.py, default
#: voice, 59 jobs.
EMBEDDED_CORRECTION: Final[Mapping[Pacing, float]] = {
    Pacing.SLOW: 1.11, Pacing.MODERATE: 1.135, Pacing.DYNAMIC: 1.13, Pacing.FAST: 1.085}


def letters(text: str) -> int:
    return sum(c.isalnum() for c in text)


@dataclass(frozen=True)
class SpeechBudget:
    """The time model of one voice at one pacing."""

    #: Seconds of speech per spoken letter (trimmed sentences, no pauses).
    seconds_per_letter: float
    profile: PacingProfile
    words_per_sentence: float
    max_chars: int = 400
    #: Letters in one unit of length: a standard English word, or an average word (a character
    #: for Chinese and Japanese) of the budget's language.
    letters_per_word: float = LETTERS_PER_WORD
    language: str = "en"

    @property
    def sentence_pause(self) -> float:
        """The average pause between two sentences of a scene."""
        return self.profile.sentence_pause * PAUSE_FACTOR

    @property
    def scene_overhead(self) -> float:
        """Seconds a scene adds besides its sentences and the pauses between them."""
        return self.profile.scene_lead_in + self.profile.scene_tail

    @property
    def seconds_per_word(self) -> float:
        """One standard word: its speech and its share of the pauses between sentences."""
        return self.letters_per_word * self.seconds_per_letter + self.sentence_pause / self.words_per_sentence

    def seconds_for(self, text: str) -> float:
        """Predicted length of one scene narrating ``text``, lead-in and end pause included (the
        pauses exactly as the narrator places them)."""
        sentences = prepare_text(text, max_chars=self.max_chars, language=self.language)
        speech = sum(letters(w) for s in sentences for w in s.spoken_words) * self.seconds_per_letter
        pauses = sum(self.profile.pause_after(s) for s in sentences[:-1])
        return self.scene_overhead + pauses + speech

    def _fixed(self, num_scenes: int) -> float:
        # each scene's last sentence is followed by the tail, not a sentence pause
        return num_scenes * (self.scene_overhead - self.sentence_pause)

    def words_for(self, duration_s: float, num_scenes: int) -> float:
        """Standard words that fill ``duration_s`` over ``num_scenes`` scenes."""
        available = max(0.3 * duration_s, duration_s - self._fixed(max(1, num_scenes)))
        return available / self.seconds_per_word

    def words_per_minute(self, duration_s: float, num_scenes: int) -> float:
        """Standard words per minute of the whole video, pauses included."""
        return 60.0 * self.words_for(duration_s, num_scenes) / max(duration_s, 1e-6)

    def standard_words(self, scene_texts: Iterable[str]) -> float:
        """How many standard words' time these scenes take (the inverse of ``words_for``)."""
        texts = list(scene_texts)
        seconds = sum(self.seconds_for(t) for t in texts)
        return max(0.0, seconds - self._fixed(max(1, len(texts)))) / self.seconds_per_word


def speech_budget(words_per_second: float, pacing: Pacing, *, speed: float, correction: float = 1.0,
                  max_chars: int = 400, language: str = "en") -> SpeechBudget:
    """The budget of a voice that says ``words_per_second`` standard words at normal speed, shaped
    to ``speed`` and spoken at ``pacing``; ``correction`` scales its speech time (measured).

    In another ``language`` the unit is that language's word (a character in Chinese and
    Japanese): the voice says the language's rate (engine.languages: units per minute, as a
    share of English's 150 words) of those units, ``letters_per_unit`` letters each."""
    profile = PACING[pacing]
    lang = language_row(language)
    if lang.code == "en":
        rate = words_per_second * LETTERS_PER_WORD * speed * profile.rate  # letters per second
        return SpeechBudget(correction / rate, profile, WORDS_PER_SENTENCE[pacing], max_chars)
    share = lang.per_minute / language_row("en").per_minute
    rate = words_per_second * share * lang.letters_per_unit * speed * profile.rate
    return SpeechBudget(correction / rate, profile, WORDS_PER_SENTENCE[pacing] * share, max_chars,
                        lang.letters_per_unit, lang.code)


def reference_budget(pacing: Pacing) -> SpeechBudget:
    """The embedded voice's budget at ``pacing`` with the default shaping: a writer that cannot
    ask the narrator uses it to measure its text in standard words (the ratio of standard to
    plain words hardly depends on the voice)."""
    from engine.narration.piper_engine import JOE_WORDS_PER_SECOND

    return speech_budget(JOE_WORDS_PER_SECOND, pacing, speed=0.95, correction=EMBEDDED_CORRECTION[pacing])
