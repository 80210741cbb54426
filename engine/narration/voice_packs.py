"""Voices per language (voice_packs.json: Piper voices and Coqui single-language VITS models that
scripts/download_models.py --voices fetches), and what serves a language on this machine: the
voices and backends installed for it, and what to download for it when nothing is.

English is always served (the embedded Piper voice). XTTS v2, when installed, speaks every
language of engine.languages (its licence is non-commercial)."""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal, Mapping

from engine.errors import BadInput
from engine.languages import CODES, LANGUAGES, Language, language
from engine.narration.voices import LICENCES, VOICES, XTTS_V2, Voice, find_model

PACKS_FILE: Final = Path(__file__).with_name("voice_packs.json")
DOWNLOAD: Final = "python scripts/download_models.py"
XTTS_FIX: Final = f"{DOWNLOAD} --xtts"
#: Languages the catalog's Llama GGUFs write poorly, and the GGUF that writes them well.
_LLAMA_WEAK: Final = frozenset({"zh", "ja", "ko", "ar", "ru"})
SCRIPT_MODEL_FIX: Final = f"{DOWNLOAD} --model qwen2.5-7b-instruct-q4_k_m"
#: What XTTS needs besides its weights to read a language (module, pip packages): coqui-tts
#: romanises Chinese with pypinyin and Japanese with cutlet, which it does not install itself.
#: setup.cfg's ``xtts-cjk`` extra installs them all (XTTS_EXTRA).
XTTS_NEEDS: Final = {"zh": ("pypinyin", "pypinyin"), "ja": ("cutlet", "cutlet fugashi[unidic-lite]")}
XTTS_EXTRA: Final = 'pip install -e ".[xtts-cjk]"'


def xtts_needs_missing() -> tuple[str, ...]:
    """The XTTS_NEEDS languages XTTS cannot read here for a missing package (for the doctor)."""
    return tuple(code for code, (module, _) in XTTS_NEEDS.items() if importlib.util.find_spec(module) is None)


@dataclass(frozen=True)
class VoicePack:
    """One downloadable voice of one language (a row of voice_packs.json)."""

    id: str
    language: str
    engine: Literal["piper", "coqui-vits"]
    model: str  # its folder under models/tts/
    gender: Literal["male", "female", "neutral"]
    description: str
    licence: str
    licence_url: str
    commercial: bool | None  # None: not checked here
    default: bool
    raw: Mapping[str, Any]

    @property
    def fix(self) -> str:
        return f"{DOWNLOAD} --voices {self.language}" if self.default else f"{DOWNLOAD} --model {self.model}"

    def voice(self) -> Voice:
        backend: Literal["piper", "vits"] = "piper" if self.engine == "piper" else "vits"
        return Voice(self.id, self.description, self.gender, backend, self.model, "", language=self.language,
                     licence_text=self.licence, fix_command=self.fix)


@lru_cache(maxsize=1)
def packs() -> tuple[VoicePack, ...]:
    data = json.loads(PACKS_FILE.read_text(encoding="utf-8"))
    out = []
    for d in data["voices"]:
        if d["language"] not in LANGUAGES:
            raise ValueError(f"{PACKS_FILE.name}: voice {d['id']!r} has unknown language {d['language']!r}")
        out.append(VoicePack(d["id"], d["language"], d["engine"], d["model"], d["gender"], d["description"],
                             d["licence"], d["licence_url"], d.get("commercial"), bool(d.get("default")), d))
    return tuple(out)


def pack_voices(code: str | None = None) -> tuple[Voice, ...]:
    """The catalog voices of the downloadable packs (of language ``code``, or all)."""
    return tuple(p.voice() for p in packs() if code is None or p.language == code)


def xtts_voices(lang: Language) -> tuple[Voice, ...]:
    """The XTTS v2 catalog voices, speaking ``lang`` (none if XTTS does not speak it)."""
    if lang.xtts is None:
        return ()
    return tuple(replace(v, language=lang.xtts) for v in VOICES.values() if v.backend == "xtts")


def voices_for(code: str) -> tuple[Voice, ...]:
    """Every catalog voice that can speak language ``code``, installed or not."""
    lang = language(code)
    if lang.code == "en":
        return tuple(VOICES.values())
    return pack_voices(lang.code) + xtts_voices(lang)


def xtts_missing(xtts_language: str) -> str | None:
    """The pip command XTTS still needs to speak a language (None: nothing)."""
    need = XTTS_NEEDS.get(xtts_language.split("-")[0])
    if need is None or importlib.util.find_spec(need[0]) is not None:
        return None
    return f"pip install {need[1]}"


def installed(voice: Voice, tts_models: Mapping[str, Path]) -> bool:
    """The voice's model is under models/tts/ (and, for XTTS, what it needs for the language)."""
    if find_model(tts_models, voice.model) is None:
        return False
    return voice.backend != "xtts" or xtts_missing(voice.language) is None


@dataclass(frozen=True)
class LanguageSupport:
    """What speaks a language here: installed voices and backends, and what to install."""

    language: Language
    voices: tuple[str, ...]  # installed voice ids
    backends: tuple[str, ...]  # e.g. ("piper", "coqui-xtts")
    install: tuple[str, ...]  # commands that add voices for it (first: the recommended one)
    downloadable: tuple[str, ...]  # voice ids the downloader can fetch for it
    notes: tuple[str, ...] = ()

    @property
    def served(self) -> bool:
        return bool(self.backends)

    def to_dict(self) -> dict[str, Any]:
        return {**self.language.to_dict(), "served": self.served, "voices": list(self.voices),
                "backends": list(self.backends), "install": list(self.install),
                "downloadable_voices": list(self.downloadable), "notes": list(self.notes)}


def _backend(voice: Voice) -> str:
    return "piper" if voice.backend == "piper" else f"coqui-{voice.backend}"


def support(code: str, tts_models: Mapping[str, Path]) -> LanguageSupport:
    """Which installed backends and voices serve language ``code``, and what to download for it."""
    lang = language(code)
    here = [v for v in voices_for(lang.code) if installed(v, tts_models)]
    backends = sorted({_backend(v) for v in here})
    own = [p for p in packs() if p.language == lang.code]
    install: list[str] = []
    notes: list[str] = []
    if lang.code == "en":
        backends = ["embedded-piper", *backends]
    elif own:
        install.append(f"{DOWNLOAD} --voices {lang.code}")
    if lang.xtts is not None and find_model(tts_models, XTTS_V2) is None:
        install.append(XTTS_FIX)
        notes.append(f"{XTTS_FIX}: XTTS v2, {LICENCES[XTTS_V2]}")
    if lang.xtts is not None and (pip := xtts_missing(lang.xtts)) is not None:
        install.append(pip)
        notes.append(f"{pip}: what XTTS v2 needs to read {lang.name} (in a checkout: {XTTS_EXTRA})")
    if lang.code in _LLAMA_WEAK:
        notes.append(f"script: the Llama models write {lang.name} poorly; {SCRIPT_MODEL_FIX} writes it well")
    ids = [v.id for v in here] + (["(every catalog voice, on the embedded Piper voice)"] if lang.code == "en"
                                  else [])
    return LanguageSupport(lang, tuple(ids), tuple(backends), tuple(install), tuple(p.id for p in own),
                           tuple(notes))


def options(tts_models: Mapping[str, Path]) -> list[dict[str, Any]]:
    """Each language with the voices and backends that serve it here and what to install for the
    rest (GET /api/options)."""
    return [support(code, tts_models).to_dict() for code in CODES]


def require_language(code: str | None, tts_models: Mapping[str, Path]) -> Language:
    """The edge's check: the row for ``code``, or BadInput (400) listing the codes when it is
    unknown, or naming what to download when no installed backend serves it."""
    lang = language(code)
    found = support(lang.code, tts_models)
    if not found.served:
        how = " or ".join(f"`{c}`" for c in found.install) or "a voice for it"
        extra = "".join(f" ({n})" for n in found.notes)
        raise BadInput(f"No installed voice speaks {lang.name} ({lang.code}) — run {how}, then try again"
                       + extra)
    return lang


def script_fix(code: str) -> str:
    """The download that gives a language model writing ``code`` well (Qwen2.5 for the languages
    the catalog's Llama GGUFs write poorly, the profile's Llama for the rest)."""
    return SCRIPT_MODEL_FIX if language(code).code in _LLAMA_WEAK else f"{DOWNLOAD} --llm"


def require_writer(code: str | None, *, own_script: bool, language_model: bool) -> Language:
    """The edge's check of the script stage: a story in another language than English needs a
    language model to write it (the draft writer writes English only), or the creator's own
    ``script``. BadInput (400) naming the download otherwise."""
    lang = language(code)
    if lang.code == "en" or own_script or language_model:
        return lang
    raise BadInput(f"No installed language model writes {lang.name} ({lang.code}), and the draft writer "
                   f"writes English only — run `{script_fix(lang.code)}`, or send your own `script` "
                   f"in {lang.name}, then try again")
