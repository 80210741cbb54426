"""A random-weight multi-speaker Coqui VITS, saved the way Coqui releases one (config.json,
model_file.pth, speaker_ids.json), for tests and benchmarks: no download, real loading code.

``size="tiny"`` is a few hundred thousand parameters (loads and speaks in well under a second on a
CPU); ``size="full"`` is the published VITS architecture (~36M parameters, as in the VCTK model),
so its timing stands in for the real model's. ``build_random_xtts`` makes a tiny XTTS v2 the same
way, for the voice-cloning path."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Sequence

_GRAPHEMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PUNCTUATIONS = "!'(),-.:;? "


def build_random_vits(folder: Path, speakers: Sequence[str] = ("p225", "p273", "p278"), *,
                      size: Literal["tiny", "full"] = "tiny", seed: int = 0,
                      foreign_paths: bool = True) -> Path:
    """Write the model into ``folder`` (created) and return it. With ``foreign_paths`` the config
    names its speakers file by a path from another machine, as released configs do."""
    import torch
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    folder.mkdir(parents=True, exist_ok=True)
    speakers_file = folder / "speaker_ids.json"
    speakers_file.write_text(json.dumps({name: i for i, name in enumerate(speakers)}), encoding="utf-8")
    common = dict(use_speaker_embedding=True, speakers_file=str(speakers_file), init_discriminator=False)
    if size == "tiny":
        args = VitsArgs(
            hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_heads_text_encoder=2,
            num_layers_text_encoder=1, num_layers_flow=1, num_layers_posterior_encoder=1,
            resblock_type_decoder="2",
            resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3]],
            upsample_rates_decoder=[8, 8, 4], upsample_initial_channel_decoder=32,
            upsample_kernel_sizes_decoder=[16, 16, 8], speaker_embedding_channels=8, use_sdp=False, **common)
    else:
        args = VitsArgs(speaker_embedding_channels=256, use_sdp=True, **common)  # VITS defaults = the paper's
    characters = CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters", pad="<PAD>", eos="<EOS>", bos="<BOS>",
        blank="<BLNK>", characters=_GRAPHEMES, punctuations=_PUNCTUATIONS, phonemes=None)
    config = VitsConfig(model_args=args, use_phonemes=False, text_cleaner="english_cleaners",
                        characters=characters, add_blank=True, use_speaker_embedding=True,
                        speakers_file=str(speakers_file))
    torch.manual_seed(seed)
    model = Vits(config)
    torch.save({"model": model.state_dict()}, folder / "model_file.pth")
    if foreign_paths:
        config.speakers_file = config.model_args.speakers_file = "/trained/elsewhere/speaker_ids.json"
    config.save_json(str(folder / "config.json"))
    return folder


def build_random_xtts(folder: Path, *, seed: int = 0, max_audio_tokens: int = 4) -> Path:
    """A tiny random-weight XTTS v2 saved as released (config.json, model.pth, vocab.json), loaded by
    the real ``Xtts.load_checkpoint``: a one-layer 64-wide GPT with the perceiver conditioning of v2
    and a character vocabulary; the HiFi-GAN decoder and the speaker encoder keep the sizes XTTS fixes
    (~24M parameters in all). Random weights never say stop, so every sentence runs to
    ``max_audio_tokens`` - 3 codes (1024 samples of noise each at 22050 Hz)."""
    import torch
    from tokenizers import Tokenizer, models
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts, XttsArgs

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[en]"]
    symbols = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-:;\"()")
    tokenizer = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(specials + symbols)}, merges=[],
                                     unk_token="[UNK]"))
    tokenizer.add_special_tokens(specials)
    tokenizer.save(str(folder / "vocab.json"))
    args = XttsArgs(gpt_layers=1, gpt_n_model_channels=64, gpt_n_heads=2, decoder_input_dim=64,
                    gpt_max_audio_tokens=max_audio_tokens, gpt_use_perceiver_resampler=True)
    config = XttsConfig(model_args=args)
    torch.manual_seed(seed)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(folder / "vocab.json"))
    model.init_models()  # the GPT's text embedding is sized by the vocabulary
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder
