"""CatalogNarrator: the narration stage. Speaks each scene with the catalog voice the job asked
for: on Coqui when that voice's model is under models/tts/, otherwise on the embedded voice."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from engine import artifacts
from engine.contracts import Narration, Progress, SceneAudio, Script
from engine.narration import audio as au
from engine.narration.budget import EMBEDDED_CORRECTION, SpeechBudget, speech_budget
from engine.narration.coqui_engine import WORDS_PER_SECOND, max_chars as coqui_max_chars
from engine.narration.piper_engine import JOE_WORDS_PER_SECOND, PiperEngine, piper_files
from engine.narration.scene_audio import (
    Shaping, SpokenSentence, assemble_scene, load_scene, scene_key, speak_sentence, write_scene)
from engine.narration.sentences import Sentence, prepare_text
from engine.narration.speech import SpeechEngine
from engine.narration.timing import PACING, PacingProfile
from engine.narration.voice_packs import installed, support, voices_for
from engine.narration.voices import Voice, find_model, resolve_voice
from engine.errors import ModelMissing
from engine.languages import language
from engine.spec import JobSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _SceneJob:
    """One scene to speak and where it sits in the stage's progress."""

    sentences: tuple[Sentence, ...]
    wav: Path
    key: str
    index: int
    scenes: int
    done: int  # sentences spoken before this scene
    total: int  # sentences in the whole script


class CatalogNarrator:
    """Narrator protocol implementation over the voice catalog.

    ``tts_models``: model name -> its folder under models/tts/ (e.g. {"vctk_vits": Path(...)}).
    ``keep_loaded``: keep the loaded model between jobs (else it is released after the stage).
    ``reference_clips``: voice id -> a WAV to clone from (XTTS voices), overriding the model folder's."""

    def __init__(self, tts_models: Mapping[str, Path], *, device: str | None = None,
                 keep_loaded: bool = False, reference_clips: Mapping[str, Path] | None = None) -> None:
        self._models = MappingProxyType({k: Path(v) for k, v in tts_models.items()})
        self._device = device
        self._keep_loaded = keep_loaded
        self._clips = MappingProxyType({k: Path(v) for k, v in (reference_clips or {}).items()})
        self._loaded: dict[str, SpeechEngine] = {}  # only used with keep_loaded
        #: "coqui" when a Coqui model (which may use the GPU) is installed, "piper" when only Piper
        #: voices of other languages are (CPU), else "embedded"
        coqui = any(not any(Path(p).glob("*.onnx")) for p in self._models.values())
        self.name = "coqui" if coqui else ("piper" if self._models else "embedded")

    def __repr__(self) -> str:
        return f"<CatalogNarrator models={sorted(self._models)} loaded={sorted(self._loaded)}>"

    # --- which engine speaks a voice -------------------------------------------------------
    def voice_for(self, spec: JobSpec) -> tuple[Voice, str | None]:
        """The catalog voice that speaks ``spec`` (and a note when it is not the one asked for):
        in English any catalog voice (the embedded voice stands in for a missing model); in
        another language the asked-for or nearest voice of that language that is installed here.
        ModelMissing naming what to download when none is."""
        lang = language(spec.language)
        if lang.code == "en":
            return resolve_voice(spec.voice_id)
        here = [v for v in voices_for(lang.code) if installed(v, self._models)]
        if not here:
            how = " or ".join(f"`{c}`" for c in support(lang.code, self._models).install)
            raise ModelMissing(f"No voice for {lang.name} is installed — run {how}")
        return resolve_voice(spec.voice_id, here, lang.name)

    def engine_kind(self, voice: Voice) -> str:
        """"piper" for an installed Piper voice of another language, "coqui" when the voice's Coqui
        model is installed, else "embedded"."""
        if find_model(self._models, voice.model) is None:
            return "embedded"
        return "piper" if voice.backend == "piper" else "coqui"

    def _shaping(self, voice: Voice, kind: str) -> Shaping:
        if kind in ("coqui", "piper"):
            return Shaping(voice.speed, voice.pitch, 1.0, voice.effect, voice.effect_amount)
        return Shaping(voice.embedded_speed, voice.embedded_pitch, voice.embedded_noise, voice.effect,
                       voice.effect_amount)

    def _engine_id(self, voice: Voice, kind: str) -> str:
        if kind == "piper":
            return f"piper:{voice.model}"
        if kind == "coqui":
            spoken = "" if voice.language == "en" else f":{voice.language}"  # XTTS speaks many
            return f"coqui:{voice.model}:{voice.speaker}{spoken}"
        return "embedded:piper-joe"

    def _keeps(self, kind: str) -> bool:
        """Whether an engine of ``kind`` stays loaded between jobs: with keep-warm, and always for the
        bundled voice (Piper on the CPU, ~60 MB: loading it took longer than re-narrating one scene
        of a storyboard's re-render)."""
        return self._keep_loaded or kind == "embedded"

    def _open(self, voice: Voice, kind: str) -> SpeechEngine:
        key = self._engine_id(voice, kind) + f":{voice.id}"
        if key in self._loaded:
            return self._loaded[key]
        if kind == "coqui":
            from engine.narration.coqui_engine import CoquiEngine

            folder = find_model(self._models, voice.model)
            assert folder is not None
            engine: SpeechEngine = CoquiEngine(folder, voice, device=self._device,
                                               reference_clip=self._clips.get(voice.id))
        elif kind == "piper":
            folder = find_model(self._models, voice.model)
            assert folder is not None
            engine = PiperEngine(*piper_files(folder))
        else:
            engine = PiperEngine()
        if self._keeps(kind):
            for old in [k for k in self._loaded if k != key]:  # one model resident at a time
                self._loaded.pop(old).close()
            self._loaded[key] = engine
        return engine

    @property
    def loaded(self) -> tuple[str, ...]:
        """Engines kept loaded (only with keep_loaded), e.g. ("coqui:vctk-vits:p273:male_narrator_deep",)."""
        return tuple(self._loaded)

    def close(self) -> None:
        """Release any model kept loaded."""
        while self._loaded:
            self._loaded.popitem()[1].close()

    # --- Narrator protocol ------------------------------------------------------------------
    def speech_budget(self, spec: JobSpec) -> SpeechBudget:
        """The time model of the voice ``spec`` asks for, at its pacing, on the engine that would
        speak it: speech per letter, the pauses, each scene's lead-in and end pause."""
        try:
            voice, _ = self.voice_for(spec)
        except ModelMissing:  # nothing speaks the language yet (the edge refuses such a job)
            return speech_budget(JOE_WORDS_PER_SECOND, spec.pacing, speed=1.0, language=spec.language,
                                 correction=EMBEDDED_CORRECTION[spec.pacing], max_chars=PiperEngine.max_chars)
        kind = self.engine_kind(voice)
        shaping = self._shaping(voice, kind)
        if kind == "coqui":
            return speech_budget(WORDS_PER_SECOND[voice.backend], spec.pacing, speed=shaping.speed,
                                 max_chars=coqui_max_chars(voice.backend, voice.language),
                                 language=spec.language)
        return speech_budget(JOE_WORDS_PER_SECOND, spec.pacing, speed=shaping.speed,
                             correction=EMBEDDED_CORRECTION[spec.pacing], max_chars=PiperEngine.max_chars,
                             language=spec.language)

    def seconds_for(self, text: str, spec: JobSpec) -> float:
        """Predicted length of one scene narrating ``text`` for ``spec`` (lead-in and end pause
        included), without synthesising it."""
        return self.speech_budget(spec).seconds_for(text)

    def words_per_minute(self, spec: JobSpec) -> float:
        """Standard words per minute (see engine.narration.budget), pauses and each scene's
        lead-in and end pause included: what the script stage should write to fill the video."""
        budget = self.speech_budget(spec)
        return round(budget.words_per_minute(spec.duration_seconds, max(1, spec.num_scenes)), 1)

    def narrate(self, script: Script, spec: JobSpec, workdir: Path, *, progress: Progress) -> Narration:
        started = time.monotonic()
        voice, note = self.voice_for(spec)
        if note:
            progress.note(note)
        kind = self.engine_kind(voice)
        if kind == "piper":
            progress.note(f"Narration: {voice.id} ({language(spec.language).name}) on Piper "
                          f"(models/tts/{voice.model}; licence: {voice.licence})")
        elif kind == "coqui":
            progress.note(f"Narration: {voice.id} on Coqui {voice.backend.upper()} "
                          f"(models/tts/{voice.model}, speaker {voice.speaker}; {voice.licence})")
        else:
            progress.note(f"Narration: {voice.id} on the embedded voice (Piper, CC0) — Coqui model "
                          f"{voice.model!r} not installed ({voice.fix})")
        profile = PACING[spec.pacing]
        shaping = self._shaping(voice, kind)
        max_chars = (PiperEngine.max_chars if kind in ("embedded", "piper")
                     else coqui_max_chars(voice.backend, voice.language))
        texts = [prepare_text(scene.narration, max_chars=max_chars, language=spec.language)
                 for scene in script.scenes]
        total = max(1, sum(len(t) for t in texts))
        engine_id = self._engine_id(voice, kind)
        audio_dir = Path(workdir) / "audio"
        audio_dir.mkdir(parents=True, exist_ok=True)
        engine: SpeechEngine | None = None
        scenes: list[SceneAudio] = []
        rates: list[int] = []
        kept: list[int] = []
        done = 0
        n = len(script.scenes)
        try:
            for index, (scene, sentences) in enumerate(zip(script.scenes, texts), start=1):
                progress.check_cancelled()
                wav = audio_dir / f"scene_{index:02d}.wav"
                key = scene_key(scene.narration, engine_id, voice.id, spec.pacing.value)
                reused = load_scene(wav, key) if artifacts.reuse(wav, key, "audio", workdir) else None
                if reused is not None:
                    kept.append(index)
                    scenes.append(reused[0])
                    rates.append(reused[1])
                    done += len(sentences)
                    progress(done / total, f"Narrating scene {index} of {n} (reused)")
                    continue
                if engine is None:
                    engine = self._open(voice, kind)
                    logger.info("narrating %d scenes with %s", n, engine.label)
                job = _SceneJob(sentences, wav, key, index, n, done, total)
                scenes.append(self._scene(engine, job, shaping, profile, progress, voice))
                rates.append(engine.sample_rate)
                done += len(sentences)
        finally:
            if engine is not None and not self._keeps(kind):
                engine.close()
        if kept:
            progress.note(f"Reused the narration of scene(s) {', '.join(map(str, kept))}: their text, "
                          "voice, pacing and model did not change")
        rate = self._common_rate(scenes, rates)
        self._report(scenes, started, progress)
        return Narration(tuple(scenes), rate)

    # --- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _scene(engine: SpeechEngine, job: "_SceneJob", shaping: Shaping, profile: PacingProfile,
               progress: Progress, voice: Voice) -> SceneAudio:
        message = f"Narrating scene {job.index} of {job.scenes}"

        def speak(i: int, sentence: Sentence) -> SpokenSentence:
            progress.check_cancelled()
            progress((job.done + i) / job.total, message)
            return speak_sentence(engine, sentence, shaping, profile.rate, seed=job.index * 1000 + i)

        audio, words = assemble_scene(job.sentences, speak, profile, engine.sample_rate)
        progress((job.done + len(job.sentences)) / job.total, message)
        return write_scene(job.wav, audio, engine.sample_rate, words, job.key,
                           {"voice": voice.id, "engine": engine.label})

    @staticmethod
    def _common_rate(scenes: list[SceneAudio], rates: list[int]) -> int:
        """All scenes at one sample rate (a resumed job could mix engines): convert the odd ones."""
        if not rates:
            return 22050
        target = rates[-1]
        for scene, rate in zip(scenes, rates):
            if rate != target:
                audio, _ = au.read_wav(scene.wav)
                au.write_wav(scene.wav, au.convert_rate(audio, rate, target), target)
        return target

    @staticmethod
    def _report(scenes: list[SceneAudio], started: float, progress: Progress) -> None:
        seconds = sum(s.duration for s in scenes)
        words = sum(len(s.words) for s in scenes)
        elapsed = time.monotonic() - started
        wpm = 60.0 * words / seconds if seconds else 0.0
        progress.note(f"Narration: {words} words, {seconds:.1f} s of audio ({wpm:.0f} wpm) "
                      f"in {elapsed:.1f} s")
        logger.info("narration %.1fs audio in %.2fs (rtf %.3f)", seconds, elapsed,
                    elapsed / max(seconds, 1e-6))
