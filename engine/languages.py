"""The languages a story can be told in: one row each (code, names, script, direction, speaking
rate, caption font, and the codes the kept libraries use for it).

Rates are what a narrator says in a minute at normal speed: words for languages written with
spaces, characters for Chinese and Japanese (``unit == "char"``). ``letters_per_unit`` is the
average count of letters (``str.isalnum`` characters) in one such unit, which turns the rate
into letters per second for the voice time model (engine.narration.budget).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, Mapping

from engine.errors import BadInput

Script = Literal["latin", "cyrillic", "greek", "arabic", "devanagari", "han", "kana", "hangul"]
Direction = Literal["ltr", "rtl"]
Unit = Literal["word", "char"]
#: Caption font families (engine.compose.caption_art maps each to a packaged font file).
Font = Literal["latin", "arabic", "devanagari", "cjk-sc", "cjk-jp", "cjk-kr"]

DEFAULT_LANGUAGE: Final = "en"


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in English
    native: str  # in itself
    script: Script
    direction: Direction
    unit: Unit
    #: words (or characters) per minute of narration at normal speed
    per_minute: float
    letters_per_unit: float
    font: Font
    #: pysbd's language code (None: our own splitter at . ! ?)
    pysbd: str | None
    #: num2words's language code (None: digits are read one by one by the voice's own frontend)
    num2words: str | None
    #: XTTS v2's language code (None: XTTS does not speak it)
    xtts: str | None
    #: BudouX model for phrase chunks in a language written without spaces
    budoux: str | None = None
    #: how a sample sentence looks (tests check the caption font covers it)
    sample: str = ""

    @property
    def spaced(self) -> bool:
        """Words are separated by spaces (captions join their tokens with one)."""
        return self.unit == "word"

    @property
    def rtl(self) -> bool:
        return self.direction == "rtl"

    @property
    def joiner(self) -> str:
        return " " if self.spaced else ""

    @property
    def unit_name(self) -> str:
        """What a length in this language counts, in the plural ("words", "characters")."""
        return "words" if self.spaced else "characters"

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "native": self.native, "script": self.script,
                "direction": self.direction, "unit": self.unit, "per_minute": self.per_minute}


def _l(code: str, name: str, native: str, script: Script, unit: Unit, per_minute: float, lpu: float,
       font: Font, pysbd: str | None, n2w: str | None, xtts: str | None, sample: str, *,
       direction: Direction = "ltr", budoux: str | None = None) -> Language:
    return Language(code, name, native, script, direction, unit, per_minute, lpu, font, pysbd, n2w, xtts,
                    budoux, sample)


_TABLE: Final = (
    _l("en", "English", "English", "latin", "word", 150, 4.45, "latin", "en", "en", "en",
       "The old lighthouse kept its secret for 120 years."),
    _l("es", "Spanish", "Español", "latin", "word", 155, 4.9, "latin", "es", "es", "es",
       "¿Quién guardó el secreto del faro durante 120 años? ¡Nadie lo sabía!"),
    _l("fr", "French", "Français", "latin", "word", 150, 4.8, "latin", "fr", "fr", "fr",
       "Le vieux phare a gardé son secret pendant 120 ans, à l'abri des regards."),
    _l("de", "German", "Deutsch", "latin", "word", 130, 5.9, "latin", "de", "de", "de",
       "Der alte Leuchtturm hütete sein Geheimnis 120 Jahre lang – größer als gedacht."),
    _l("it", "Italian", "Italiano", "latin", "word", 150, 5.0, "latin", "it", "it", "it",
       "Il vecchio faro ha custodito il suo segreto per 120 anni. Perché?"),
    _l("pt", "Portuguese", "Português", "latin", "word", 150, 4.8, "latin", None, "pt", "pt",
       "O velho farol guardou o seu segredo durante 120 anos. Ninguém sabia porquê."),
    _l("nl", "Dutch", "Nederlands", "latin", "word", 140, 5.2, "latin", "nl", "nl", "nl",
       "De oude vuurtoren bewaarde zijn geheim 120 jaar lang."),
    _l("pl", "Polish", "Polski", "latin", "word", 125, 6.0, "latin", "pl", "pl", "pl",
       "Stara latarnia morska strzegła swojej tajemnicy przez 120 lat. Dlaczego?"),
    _l("tr", "Turkish", "Türkçe", "latin", "word", 115, 6.3, "latin", None, "tr", "tr",
       "Eski deniz feneri sırrını 120 yıl boyunca sakladı. Neden ağlıyordu?"),
    _l("ru", "Russian", "Русский", "cyrillic", "word", 125, 5.7, "latin", "ru", "ru", "ru",
       "Старый маяк хранил свою тайну 120 лет. Почему?"),
    _l("cs", "Czech", "Čeština", "latin", "word", 125, 5.5, "latin", None, "cs", "cs",
       "Starý maják střežil své tajemství 120 let. Proč? Nikdo nevěděl."),
    _l("ar", "Arabic", "العربية", "arabic", "word", 115, 4.6, "arabic", "ar", "ar", "ar",
       "احتفظ المنارة القديمة بسرها لمدة 120 عامًا. لماذا؟", direction="rtl"),
    _l("zh", "Chinese (Mandarin)", "中文", "han", "char", 240, 1.0, "cjk-sc", "zh", None, "zh-cn",
       "那座古老的灯塔守护了它的秘密整整一百二十年。为什么？", budoux="zh-hans"),
    _l("ja", "Japanese", "日本語", "kana", "char", 300, 1.0, "cjk-jp", "ja", "ja", "ja",
       "古い灯台は百二十年もの間、その秘密を守り続けた。なぜだろう？", budoux="ja"),
    _l("ko", "Korean", "한국어", "hangul", "word", 130, 3.0, "cjk-kr", None, "ko", "ko",
       "오래된 등대는 120년 동안 그 비밀을 지켰다. 왜일까?"),
    _l("hi", "Hindi", "हिन्दी", "devanagari", "word", 140, 3.2, "devanagari", "hi", None, "hi",
       "पुराने प्रकाशस्तंभ ने अपना रहस्य 120 साल तक छिपाए रखा। क्यों?"),
)

LANGUAGES: Final[Mapping[str, Language]] = MappingProxyType({lang.code: lang for lang in _TABLE})
CODES: Final = tuple(LANGUAGES)
#: Regional and long forms a request may use ("pt-BR", "zh_Hans", "spanish") -> our code.
_ALIASES: Final = MappingProxyType({
    "zh-cn": "zh", "zh-hans": "zh", "zh-tw": "zh", "zh-hant": "zh", "cmn": "zh", "cz": "cs",
    "jp": "ja", "kr": "ko", "pt-br": "pt", "pt-pt": "pt", "es-mx": "es", "es-es": "es", "en-us": "en",
    "en-gb": "en", "ar-sa": "ar", "ar-eg": "ar", "fr-ca": "fr", "de-de": "de",
})


def normalize_code(code: str | None) -> str | None:
    """A request's language as one of CODES ("es-MX" -> "es", "Español" -> "es"), or None."""
    if code is None:
        return DEFAULT_LANGUAGE
    key = code.strip().lower().replace("_", "-")
    if not key:
        return DEFAULT_LANGUAGE
    if key in LANGUAGES:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    base = key.split("-", 1)[0]
    if base in LANGUAGES:
        return base
    by_name = {lang.name.lower(): lang.code for lang in _TABLE} | {
        lang.native.lower(): lang.code for lang in _TABLE}
    return by_name.get(key)


def language(code: str | None) -> Language:
    """The row for ``code`` (aliases accepted); BadInput naming the codes for an unknown one."""
    found = normalize_code(code)
    if found is None:
        raise BadInput(f"language {code!r} is not supported; use one of: {', '.join(CODES)}")
    return LANGUAGES[found]


def length_text(count: int, code: str | None) -> str:
    """A narration length as a creator reads it in messages: "120 words", "480 characters" (the
    count is engine.script.speakable.word_count's)."""
    found = normalize_code(code)
    unit = LANGUAGES[found].unit_name if found is not None else "words"
    return f"{count} {unit[:-1] if count == 1 else unit}"
