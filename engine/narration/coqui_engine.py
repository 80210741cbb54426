"""Coqui TTS (the maintained ``coqui-tts`` fork, import name ``TTS``) behind the SpeechEngine
interface: a multi-speaker VITS (e.g. VCTK) or XTTS v2, loaded by path from models/tts/<name>/.

Never downloads and never prompts: the config is read from the folder, file paths inside it are
re-pointed at the folder, and the checkpoint is loaded with the model's own ``load_checkpoint``.
VITS hands back its predicted phoneme durations, which become the word timings.

XTTS clones a voice from a reference clip: its speaker latents are computed once per voice (the
clip read with soundfile, not torchaudio, whose loader needs system FFmpeg libraries through
torchcodec) and reused for every sentence; they are computed again only if the clip changes."""
from __future__ import annotations

import gc
import inspect
import logging
import os
import shutil
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from engine.errors import ModelFailed, ModelMissing
from engine.models.cuda_errors import cuda_failure
from engine.models.device import torch_device
from engine.narration.speech import Speech
from engine.narration.timing import groups_from_units
from engine.narration.voices import Voice

logger = logging.getLogger(__name__)

_CHECKPOINT_NAMES = ("model.pth", "model_file.pth", "best_model.pth", "model_file.pth.tar", "model.pth.tar",
                     "checkpoint.pth")
_AUX_FILES = {  # config field -> file names the folder may hold for it
    "speakers_file": ("speaker_ids.json", "speaker_ids.pth", "speakers.json", "speakers.pth"),
    "d_vector_file": ("speakers.json", "speakers.pth"),
    "language_ids_file": ("language_ids.json",),
    "speaker_encoder_model_path": ("model_se.pth", "model_se.pth.tar"),
    "speaker_encoder_config_path": ("config_se.json",),
}
_NOT_CHECKPOINTS = frozenset(n for names in _AUX_FILES.values() for n in names) | {
    "dvae.pth", "mel_stats.pth", "speakers_xtts.pth"}
#: Words per second at speed 1.0 (speech only): VCTK VITS speakers, XTTS v2 (typical values).
WORDS_PER_SECOND: Final = MappingProxyType({"vits": 2.8, "xtts": 2.6})
#: Share of duration that ignores the length scale: VITS rounds each phoneme up to a whole
#: frame (like Piper's VITS); XTTS's speed resamples its latents, so it is linear.
FIXED_SHARE: Final = MappingProxyType({"vits": 0.25, "xtts": 0.0})
#: Longest text per synthesis call (XTTS warns past 250 characters of English).
MAX_CHARS: Final = MappingProxyType({"vits": 300, "xtts": 240})
#: XTTS's own limit per language (coqui-tts VoiceBpeTokenizer.char_limits): longer text is cut off.
XTTS_CHAR_LIMITS: Final = MappingProxyType({
    "en": 250, "de": 253, "fr": 273, "es": 239, "it": 213, "pt": 203, "pl": 224, "zh": 82, "ar": 166,
    "cs": 186, "ru": 182, "nl": 251, "tr": 226, "ja": 71, "hu": 224, "ko": 95, "hi": 150})
#: XTTS's Hindi text cleaner passes ASCII digits to num2words, which has no Hindi (an error);
#: Devanagari digits it leaves to the model.
_DEVANAGARI_DIGITS: Final = str.maketrans("0123456789", "०१२३४५६७८९")
#: The rate XTTS computes its speaker latents at (Xtts.get_conditioning_latents' load_sr).
XTTS_CLONE_RATE: Final = 22050


def max_chars(backend: str, language: str = "en") -> int:
    """Longest text per synthesis call for a Coqui ``backend`` speaking ``language`` (XTTS's
    code: "zh-cn" counts as "zh")."""
    if backend == "xtts":
        return min(MAX_CHARS["xtts"], XTTS_CHAR_LIMITS.get(language.split("-")[0], MAX_CHARS["xtts"]))
    return MAX_CHARS[backend]


def _missing(what: str, folder: Path, fix: str) -> ModelMissing:
    return ModelMissing(f"{what} — run `{fix}` to install models/tts/{folder.name}/")


def find_checkpoint(folder: Path, fix: str) -> Path:
    for name in _CHECKPOINT_NAMES:
        if (folder / name).is_file():
            return folder / name
    candidates = sorted(p for p in folder.glob("*.pth*") if p.name not in _NOT_CHECKPOINTS)
    if len(candidates) == 1:
        return candidates[0]
    raise _missing(f"No model checkpoint (model.pth) in {folder}", folder, fix)


def _repoint_paths(config: Any, folder: Path) -> None:
    """Config files name their speaker/language files by the path they had on the machine that
    trained them; point each at the copy in ``folder`` (or drop it when there is none)."""
    for field, defaults in _AUX_FILES.items():
        for holder in (config, config.get("model_args") or {}):
            if field not in holder or not holder[field]:
                continue
            current = holder[field][0] if isinstance(holder[field], list) else holder[field]
            if Path(current).is_file():
                continue
            names = (Path(current).name, *defaults)
            found = next((folder / n for n in names if (folder / n).is_file()), None)
            if found is None and field.startswith("speaker_encoder"):
                holder[field] = None
            elif found is not None:
                holder[field] = [str(found)] if isinstance(holder[field], list) else str(found)


def xtts_generate_kwargs() -> dict[str, Any]:
    """Extra arguments for XTTS's GPT ``generate``. transformers releases whose GPT-2 takes the KV
    cache as ``cache`` hand it to coqui-tts's GPT2InferenceModel, which only reads
    ``past_key_values``, and the second generated token fails; there, generate without the cache
    (correct, slower on long sentences) until coqui-tts or a transformers pin catches up."""
    from transformers import GPT2Model
    from TTS.tts.layers.xtts.gpt_inference import GPT2InferenceModel

    takes = inspect.signature(GPT2Model.forward).parameters
    reads = inspect.signature(GPT2InferenceModel.forward).parameters
    if "cache" in takes and "cache" not in reads:
        logger.warning("XTTS: this transformers passes the KV cache as `cache`, which coqui-tts does not "
                       "read; generating without the cache (slower). Pin a transformers release whose "
                       "GPT-2 takes `past_key_values` to get it back")
        return {"use_cache": False}
    return {}


class CoquiEngine:
    """One Coqui model on one device, speaking as one catalog voice."""

    kind = "coqui"

    def __init__(self, folder: Path, voice: Voice, *, device: str | None = None,
                 reference_clip: Path | None = None) -> None:
        self.folder = Path(folder)
        self.voice = voice
        config_path = self.folder / "config.json"
        if not config_path.is_file():
            raise _missing(f"Coqui model {self.folder.name!r} has no config.json in {self.folder}",
                           self.folder, voice.fix)
        try:
            import torch
            from TTS.config import load_config
            from TTS.tts.models import setup_model
        except ImportError as exc:
            raise ModelMissing(
                f"Coqui TTS is not installed ({exc.name}) — run `pip install -e .[tts]` "
                "(coqui-tts, torch, torchaudio, torchcodec)") from exc
        os.environ.setdefault("COQUI_TOS_AGREED", "1")  # XTTS: never prompt for the licence
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._torch = torch
        # CUDA only when the installed torch has kernels for the card (device_info checks); Coqui's
        # VITS/XTTS are not run on Apple's MPS, so anything else is the CPU.
        self.device = device or ("cuda" if torch_device() == "cuda" else "cpu")
        config = load_config(str(config_path))
        self.model_type = str(config.get("model", "")).lower()
        if self.model_type not in ("vits", "xtts"):
            raise ModelFailed(f"models/tts/{self.folder.name}: model type {self.model_type!r} is not "
                              "supported (use a VITS or XTTS v2 model)")
        espeak = config.get("use_phonemes") and config.get("phonemizer") in (None, "espeak")
        if self.model_type == "vits" and espeak and not (shutil.which("espeak-ng") or shutil.which("espeak")):
            raise ModelMissing(f"models/tts/{self.folder.name} speaks through espeak-ng phonemes, which is "
                               "not installed — run `apt-get install espeak-ng`")
        if self.model_type != voice.backend:
            raise ModelFailed(f"models/tts/{self.folder.name} holds a {self.model_type.upper()} model but "
                              f"voice {voice.id} needs {voice.backend.upper()} — check the folder's "
                              "config.json")
        if self.model_type == "xtts":
            for name in ("model.pth", "vocab.json"):
                if not (self.folder / name).is_file():
                    raise _missing(f"XTTS v2 in models/tts/{self.folder.name}/ lacks {name}",
                                   self.folder, voice.fix)
            checkpoint = None
        else:
            checkpoint = find_checkpoint(self.folder, voice.fix)
        _repoint_paths(config, self.folder)
        try:
            model = setup_model(config)
            if checkpoint is None:
                model.load_checkpoint(config, checkpoint_dir=str(self.folder), eval=True)
            else:
                model.load_checkpoint(config, str(checkpoint), eval=True)
            model.to(self.device)
        except (ModelMissing, ModelFailed):
            raise
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            gpu = cuda_failure(exc, f"The voice {self.folder.name}")
            if gpu is not None:
                raise gpu from exc
            raise ModelFailed(
                f"Could not load the Coqui model in models/tts/{self.folder.name}/: {exc}") from exc
        self._model = model
        self._config = config
        audio = config.audio
        self.sample_rate = int(audio.get("output_sample_rate") or audio["sample_rate"])
        self.max_chars = max_chars(self.model_type, voice.language)
        self.words_per_second = WORDS_PER_SECOND[self.model_type]
        self.fixed_share = FIXED_SHARE[self.model_type]
        #: voice id -> (the clip's path, mtime and size; its XTTS latents)
        self._latents: dict[str, tuple[tuple[str, int, int], tuple[Any, Any]]] = {}
        self._generate = xtts_generate_kwargs() if self.model_type == "xtts" else {}
        self._speaker_args = self._speaker(reference_clip)
        if self.model_type == "xtts":
            try:
                self._conditioning()  # a bad clip fails here, before the first sentence
            except (RuntimeError, ValueError, KeyError) as exc:
                raise ModelFailed(f"XTTS could not take voice {voice.id} from its clip: {exc}") from exc
        self.label = (f"Coqui {self.model_type.upper()} (models/tts/{self.folder.name}, "
                      f"speaker {voice.speaker})")
        logger.info("loaded %s on %s", self.label, self.device)

    def _speaker(self, reference_clip: Path | None) -> dict[str, Any]:
        manager = getattr(self._model, "speaker_manager", None)
        if self.model_type == "xtts":
            clip = reference_clip
            if clip is None and self.voice.reference_clip:
                clip = self.folder / self.voice.reference_clip
            if clip is not None and Path(clip).is_file():
                return {"clip": Path(clip), "language": self.voice.language}
            if manager is not None and self.voice.speaker in manager.speakers:
                return {"speaker": self.voice.speaker, "language": self.voice.language}
            raise _missing(f"XTTS voice {self.voice.speaker!r} is not in models/tts/{self.folder.name}/"
                           f"speakers_xtts.pth and no reference clip {clip} exists (add a 6-30 s WAV there "
                           "to clone a voice)", self.folder, self.voice.fix)
        names = list(manager.name_to_id) if manager is not None else []
        if len(names) <= 1:
            return {"speaker": names[0] if names else None}
        if self.voice.speaker not in names:
            shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
            raise _missing(f"Speaker {self.voice.speaker!r} (voice {self.voice.id}) is not in models/tts/"
                           f"{self.folder.name}/ (it has {len(names)} speakers: {shown})", self.folder,
                           self.voice.fix)
        return {"speaker": self.voice.speaker}

    def synthesize(self, text: str, *, length_scale: float, noise: float) -> Speech:
        try:
            if self.model_type == "xtts":
                return self._xtts(text, length_scale)
            return self._vits(text, length_scale, noise)
        except (RuntimeError, ValueError, KeyError, IndexError) as exc:
            gpu = cuda_failure(exc, self.label)
            if gpu is not None:
                raise gpu from exc
            raise ModelFailed(f"{self.label} failed on {text[:60]!r}: {exc}") from exc

    def _conditioning(self) -> tuple[Any, Any]:
        """The voice's XTTS latents (GPT conditioning, speaker embedding): a built-in speaker's from
        speakers_xtts.pth, or a clip's, computed on the first call and again only when the clip
        file changes (a keep-loaded engine may outlive an edited clip)."""
        clip = self._speaker_args.get("clip")
        if clip is None:
            gpt_cond_latent, speaker_embedding = self._model.speaker_manager.speakers[
                self._speaker_args["speaker"]].values()
            return gpt_cond_latent, speaker_embedding
        try:
            st = clip.stat()
        except OSError as exc:
            raise ModelMissing(f"The reference clip {clip} for voice {self.voice.id} is gone ({exc.strerror})"
                               ) from exc
        stamp = (str(clip), st.st_mtime_ns, st.st_size)
        cached = self._latents.get(self.voice.id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        latents = self._clone(clip)
        self._latents[self.voice.id] = (stamp, latents)
        return latents

    def _clone(self, clip: Path) -> tuple[Any, Any]:
        """What Xtts.get_conditioning_latents does for one clip, on audio read with soundfile: mono,
        resampled to 22050 Hz, clipped to [-1, 1], cut to the config's max_ref_len seconds."""
        import soundfile
        import torchaudio.functional

        torch, model, config = self._torch, self._model, self._config
        try:
            data, rate = soundfile.read(str(clip), dtype="float32", always_2d=True)
        except (RuntimeError, OSError, ValueError) as exc:  # soundfile's errors are RuntimeErrors
            raise ModelFailed(f"The reference clip {clip} could not be read ({exc}); use a WAV or FLAC "
                              "file of 6-30 s of clear speech") from exc
        if data.shape[0] < rate // 2:
            raise ModelFailed(f"The reference clip {clip} is too short ({data.shape[0] / rate:.2f} s); use "
                              "6-30 s of clear speech")
        audio = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1))).unsqueeze(0)
        if rate != XTTS_CLONE_RATE:
            audio = torchaudio.functional.resample(audio, rate, XTTS_CLONE_RATE)
        audio = audio.clamp(-1.0, 1.0)[:, :XTTS_CLONE_RATE * int(config.max_ref_len)].to(model.device)
        if config.sound_norm_refs:
            audio = audio / audio.abs().max().clamp(min=1e-8) * 0.75
        speaker_embedding = model.get_speaker_embedding(audio, XTTS_CLONE_RATE)
        gpt_cond_latent = model.get_gpt_cond_latents(audio, XTTS_CLONE_RATE, length=int(config.gpt_cond_len),
                                                     chunk_length=int(config.gpt_cond_chunk_len))
        logger.info("XTTS voice %s: speaker latents computed from %s", self.voice.id, clip)
        return gpt_cond_latent, speaker_embedding

    def _xtts(self, text: str, length_scale: float) -> Speech:
        if self._speaker_args["language"].startswith("hi"):
            text = text.translate(_DEVANAGARI_DIGITS)  # coqui-tts reads ASCII digits with num2words: no Hindi
        gpt_cond_latent, speaker_embedding = self._conditioning()
        config = self._config
        out = self._model.inference(
            text, self._speaker_args["language"], gpt_cond_latent, speaker_embedding,
            temperature=config.temperature, length_penalty=config.length_penalty,
            repetition_penalty=config.repetition_penalty, top_k=config.top_k, top_p=config.top_p,
            speed=1.0 / length_scale, enable_text_splitting=False, **self._generate)
        audio = np.asarray(out["wav"], dtype=np.float32).reshape(-1)
        return Speech(audio, self.sample_rate, None)

    def _vits(self, text: str, length_scale: float, noise: float) -> Speech:
        model = self._model
        args = model.args
        model.length_scale = float(args.length_scale) * length_scale
        model.inference_noise_scale = float(args.inference_noise_scale) * noise
        model.inference_noise_scale_dp = float(args.inference_noise_scale_dp) * noise
        out = model.synthesize(text, **self._speaker_args)
        audio = np.asarray(out["wav"], dtype=np.float32).reshape(-1)
        durations = out["outputs"].get("durations")
        if durations is None:
            return Speech(audio, self.sample_rate, None)
        ids = out["text_inputs"].reshape(-1).tolist()
        frames = durations.reshape(-1).detach().cpu().numpy().astype(np.int64).tolist()
        chars = model.tokenizer.characters
        separators = set(chars.punctuations) | {" ", chars.bos, chars.eos}
        kinds: list[bool | None] = []
        for i in ids:
            ch = chars.id_to_char(i)
            kinds.append(None if ch in (chars.blank, chars.pad) else ch not in separators)
        hop = int(self._config.audio["hop_length"])
        samples = [f * hop for f in frames]
        scale = len(audio) / max(1, sum(samples))
        groups = groups_from_units(kinds, samples, self.sample_rate)
        spans = tuple((float(s * scale), float(e * scale), n) for s, e, n in groups)
        return Speech(audio, self.sample_rate, spans or None)

    def close(self) -> None:
        self._latents.clear()
        model, self._model = self._model, None
        del model
        gc.collect()
        if self.device.startswith("cuda") and self._torch.cuda.is_available():
            self._torch.cuda.empty_cache()
