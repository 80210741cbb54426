"""What can be fetched: one entry per model, the exact files each needs, and the profiles.

Standard library only (and engine.languages, itself standard library only). Sizes are what the
listing shows before any network call; the exact size and the hub's own sha256 are read from the
hub (HEAD) before fetching. A ``sha256`` given
here is a pin: a file whose bytes (or whose hub checksum) differ is refused.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from engine.languages import LANGUAGES

KINDS = ("llm", "sdxl", "tts", "ip_adapter")
COMPONENTS = ("llm", "sdxl", "tts", "xtts", "ip_adapter")
HOSTS = ("hf", "github")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class CatalogError(ValueError):
    """A catalog (built in or from --catalog) is malformed; the message names the entry."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch. ``remote`` is the path inside the repo (hub) or after the repo (GitHub);
    ``local`` is where it goes, relative to the model's own path (a folder), or "" when the model
    is this single file."""

    repo: str
    remote: str
    local: str = ""
    size: int = 0
    sha256: str | None = None
    revision: str = "main"
    host: str = "hf"
    #: a .zip to unpack into the model folder (its single top-level folder is flattened)
    unpack: bool = False

    def url(self, hub_url: str, github_url: str) -> str:
        if self.host == "github":
            return f"{github_url.rstrip('/')}/{self.repo}/{self.remote}"
        return f"{hub_url.rstrip('/')}/{self.repo}/resolve/{self.revision}/{self.remote}"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # llm | sdxl | tts
    component: str  # llm | sdxl | tts | xtts  (the CLI flag that fetches it)
    title: str
    licence: str
    licence_url: str
    #: relative to the models dir: a file (llm/x.gguf) or a folder (sdxl/name)
    path: str
    files: tuple[RemoteFile, ...]
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: local path (relative to ``path``) of the file whose sha256 names the model; "" = the file itself
    main_file: str = ""
    notes: str = ""
    #: post-install fix-up: "coqui_paths" rewrites speaker file paths in config.json like Coqui does
    post: str = ""
    non_commercial: bool = False

    @property
    def approx_size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def is_folder(self) -> bool:
        return not (len(self.files) == 1 and self.files[0].local == "" and not self.files[0].unpack)


@dataclass(frozen=True)
class Catalog:
    entries: Mapping[str, ModelEntry]
    profiles: Mapping[str, Mapping[str, str]]  # profile -> component -> entry name
    profile_notes: Mapping[str, str]

    def entry(self, name: str) -> ModelEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise CatalogError(f"unknown model {name!r}; known: {', '.join(sorted(self.entries))}") from None

    def select(self, profile: str, components: tuple[str, ...] = ()) -> tuple[ModelEntry, ...]:
        """The entries to fetch: every component of ``profile``, or just ``components`` (a component
        the profile lacks, e.g. xtts in lite, falls back to the first catalog entry of that component)."""
        if profile not in self.profiles:
            raise CatalogError(f"unknown profile {profile!r}; known: {', '.join(self.profiles)}")
        chosen = self.profiles[profile]
        out = []
        for comp in components or tuple(chosen):
            fallback = (e.name for e in self.entries.values() if e.component == comp)
            name = chosen.get(comp) or next(fallback, None)
            if not name:
                raise CatalogError(f"no {comp} model in the catalog")
            out.append(self.entry(name))
        return tuple(out)


def _hf(repo: str, remote: str, local: str | None = None, size: int = 1_000, *, sha256: str | None = None,
        revision: str = "main") -> RemoteFile:
    return RemoteFile(repo, remote, remote if local is None else local, size, sha256, revision)


_SDXL_BASE = "stabilityai/stable-diffusion-xl-base-1.0"
_VAE_FIX = "madebyollin/sdxl-vae-fp16-fix"


def _sdxl_common() -> tuple[RemoteFile, ...]:
    """Text encoders, tokenizers, scheduler (fp16 variants only) and the fp16-safe VAE.
    The ".fp16" infix is dropped locally, so the folder loads with a plain
    ``from_pretrained(dir, torch_dtype=torch.float16)`` (no ``variant=``)."""
    tok = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
    tok_sizes = {"merges.txt": 525_000, "vocab.json": 1_060_000}
    files = [_hf(_SDXL_BASE, "scheduler/scheduler_config.json", size=500)]
    for enc, size in (("text_encoder", 246_144_152), ("text_encoder_2", 1_389_382_176)):
        files.append(_hf(_SDXL_BASE, f"{enc}/config.json", size=600))
        files.append(_hf(_SDXL_BASE, f"{enc}/model.fp16.safetensors", f"{enc}/model.safetensors", size))
    for folder in ("tokenizer", "tokenizer_2"):
        files.extend(_hf(_SDXL_BASE, f"{folder}/{t}", size=tok_sizes.get(t, 1_000)) for t in tok)
    files.append(_hf(_VAE_FIX, "config.json", "vae/config.json", 700))
    files.append(_hf(_VAE_FIX, "diffusion_pytorch_model.safetensors",
                     "vae/diffusion_pytorch_model.safetensors", 334_643_268))
    return tuple(files)


_UNET_FP16_SIZE = 5_135_149_760
_IP_ADAPTER = "h94/IP-Adapter"
#: h94/IP-Adapter at the commit whose LFS objects these sha256 name (checked against several
#: independent installs that pin the same files).
_IP_ADAPTER_REV = "018e402774aeeddd60609b4ecdb7e298259dc729"
_OPENRAIL = "CreativeML Open RAIL++-M"
#: Which languages the Llama GGUFs write well (Meta's supported languages) and which they do not.
_LLAMA_LANGUAGES = ("Writes English, Spanish, French, German, Italian, Portuguese and Hindi well; weaker in "
                    "Chinese, Japanese, Korean, Arabic and Russian (use qwen2.5-7b-instruct-q4_k_m)")
_LLAMA_PARAMS = {"n_ctx": 8192, "n_gpu_layers": -1, "temperature": 0.8, "top_p": 0.9, "repeat_penalty": 1.1}


def _entries() -> tuple[ModelEntry, ...]:
    sdxl_unet_cfg = _hf(_SDXL_BASE, "unet/config.json", size=1_700)
    # model_index.json goes last: its presence is what marks a diffusers folder as complete.
    model_index = _hf(_SDXL_BASE, "model_index.json", size=610)
    return (
        ModelEntry(
            name="llama-3.2-3b-instruct-q4_k_m", kind="llm", component="llm",
            title="Llama 3.2 3B Instruct, GGUF Q4_K_M (unsloth)",
            licence="Llama 3.2 Community License",
            licence_url="https://huggingface.co/meta-llama/Llama-3.2-3B-Instruct/blob/main/LICENSE.txt",
            path="llm/Llama-3.2-3B-Instruct-Q4_K_M.gguf",
            files=(RemoteFile("unsloth/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q4_K_M.gguf", "",
                              2_019_377_600,
                              "6c99cc00ae910f6a532a80022cb4bc1939094527a089c29294b841c0bd87f74d",
                              "e7d0997e49c9cb00d88b4c1a6a16aa894b0bbc31"),),
            settings=MappingProxyType({"chat_format": "llama-3", **_LLAMA_PARAMS}),
            notes="~2.5 GB of VRAM with all layers offloaded at n_ctx 8192. " + _LLAMA_LANGUAGES,
        ),
        ModelEntry(
            name="llama-3.1-8b-instruct-q4_k_m", kind="llm", component="llm",
            title="Llama 3.1 8B Instruct, GGUF Q4_K_M (unsloth)",
            licence="Llama 3.1 Community License",
            licence_url="https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/LICENSE",
            path="llm/Llama-3.1-8B-Instruct-Q4_K_M.gguf",
            files=(RemoteFile("unsloth/Llama-3.1-8B-Instruct-GGUF", "Llama-3.1-8B-Instruct-Q4_K_M.gguf", "",
                              4_920_739_200,
                              "b3bdbf23b47d7e6bb791c99b206deb169cd5a96362a9e3399028df2faacdc506",
                              "600b0020115fd6b17f0752848fe7b5a1be686bcd"),),
            settings=MappingProxyType({"chat_format": "llama-3", **_LLAMA_PARAMS}),
            notes="~6 GB of VRAM with all layers offloaded at n_ctx 8192. " + _LLAMA_LANGUAGES,
        ),
        ModelEntry(
            name="qwen2.5-7b-instruct-q4_k_m", kind="llm", component="llm",
            title="Qwen2.5 7B Instruct, GGUF Q4_K_M (bartowski)",
            licence="Apache-2.0",
            licence_url="https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/LICENSE",
            path="llm/Qwen2.5-7B-Instruct-Q4_K_M.gguf",
            files=(RemoteFile("bartowski/Qwen2.5-7B-Instruct-GGUF", "Qwen2.5-7B-Instruct-Q4_K_M.gguf", "",
                              4_683_074_240),),
            settings=MappingProxyType({"chat_format": "chatml", **_LLAMA_PARAMS}),
            notes="~6 GB of VRAM at n_ctx 8192. Writes Chinese, Japanese, Korean, Arabic and Russian well "
                  "besides English and the European languages (29+ languages): fetch it with --model "
                  "qwen2.5-7b-instruct-q4_k_m for stories in those languages (not in a profile)",
        ),
        ModelEntry(
            name="sdxl-lightning-4step", kind="sdxl", component="sdxl",
            title="SDXL-Lightning 4-step UNet (ByteDance) in an SDXL 1.0 pipeline, fp16, fp16-fix VAE",
            licence=_OPENRAIL,
            licence_url="https://huggingface.co/ByteDance/SDXL-Lightning/blob/main/LICENSE.md",
            path="sdxl/sdxl-lightning-4step",
            files=(
                *_sdxl_common(), sdxl_unet_cfg,
                _hf("ByteDance/SDXL-Lightning", "sdxl_lightning_4step_unet.safetensors",
                    "unet/diffusion_pytorch_model.safetensors", _UNET_FP16_SIZE),
                model_index,
            ),
            main_file="unet/diffusion_pytorch_model.safetensors",
            settings=MappingProxyType({
                "steps": 4, "guidance_scale": 0.0, "scheduler": "EulerDiscreteScheduler",
                "scheduler_kwargs": {"timestep_spacing": "trailing"}, "torch_dtype": "float16",
                "variant": None, "resolution": 1024, "negative_prompt": False,
            }),
            notes="4 steps, no CFG; fits 8 GB cards with model CPU offload",
        ),
        ModelEntry(
            name="sdxl-base-1.0", kind="sdxl", component="sdxl",
            title="Stable Diffusion XL base 1.0, fp16, fp16-fix VAE",
            licence=_OPENRAIL,
            licence_url=f"https://huggingface.co/{_SDXL_BASE}/blob/main/LICENSE.md",
            path="sdxl/sdxl-base-1.0",
            files=(
                *_sdxl_common(), sdxl_unet_cfg,
                _hf(_SDXL_BASE, "unet/diffusion_pytorch_model.fp16.safetensors",
                    "unet/diffusion_pytorch_model.safetensors", _UNET_FP16_SIZE),
                model_index,
            ),
            main_file="unet/diffusion_pytorch_model.safetensors",
            settings=MappingProxyType({
                "steps": 30, "guidance_scale": 6.5, "scheduler": "EulerDiscreteScheduler",
                "scheduler_kwargs": {}, "torch_dtype": "float16", "variant": None, "resolution": 1024,
                "negative_prompt": True,
            }),
            notes="~7 GB of VRAM in fp16 at 1024x1024",
        ),
        ModelEntry(
            name="ip-adapter-plus-face-sdxl-vit-h", kind="ip_adapter", component="ip_adapter",
            title="IP-Adapter Plus-Face SDXL (h94) with its CLIP ViT-H/14 image encoder",
            licence="Apache-2.0",
            licence_url=f"https://huggingface.co/{_IP_ADAPTER}",
            path="ip_adapter/ip-adapter-plus-face-sdxl-vit-h",
            files=(
                _hf(_IP_ADAPTER, "models/image_encoder/config.json", "image_encoder/config.json", 560,
                    revision=_IP_ADAPTER_REV),
                _hf(_IP_ADAPTER, "models/image_encoder/model.safetensors", "image_encoder/model.safetensors",
                    2_528_373_448, sha256="6ca9667da1ca9e0b0f75e46bb030f7e011f44f86cbfb8d5a36590fcd7507b030",
                    revision=_IP_ADAPTER_REV),
                # the weights last: with the encoder in place, their presence marks the folder complete
                _hf(_IP_ADAPTER, "sdxl_models/ip-adapter-plus-face_sdxl_vit-h.safetensors",
                    "ip-adapter-plus-face_sdxl_vit-h.safetensors", 847_517_512,
                    sha256="677ad8860204f7d0bfba12d29e6c31ded9beefdf3e4bbd102518357d31a292c1",
                    revision=_IP_ADAPTER_REV),
            ),
            main_file="ip-adapter-plus-face_sdxl_vit-h.safetensors",
            settings=MappingProxyType({"weight_name": "ip-adapter-plus-face_sdxl_vit-h.safetensors",
                                       "image_encoder_folder": "image_encoder", "for": "sdxl"}),
            notes="keeps characters' faces from scene to scene (SDXL); ~2.3 GB of VRAM in fp16 beside SDXL",
        ),
        ModelEntry(
            name="vctk-vits", kind="tts", component="tts",
            title="Coqui VITS, VCTK (109 English speakers)",
            licence="Apache-2.0",
            licence_url="https://github.com/coqui-ai/TTS/releases/tag/v0.6.1_models",
            path="tts/vctk-vits",
            files=(RemoteFile("coqui-ai/TTS",
                              "releases/download/v0.6.1_models/tts_models--en--vctk--vits.zip",
                              "", 147_691_678, None, "main", "github", unpack=True),),
            main_file="model_file.pth",
            post="coqui_paths",
            settings=MappingProxyType({
                "engine": "coqui", "model_file": "model_file.pth", "config_file": "config.json",
                "speakers_file": "speaker_ids.json", "sample_rate": 22050, "multi_speaker": True,
            }),
            notes="GitHub publishes no checksum for this archive: its sha256 is computed on download",
        ),
        ModelEntry(
            name="xtts-v2", kind="tts", component="xtts",
            title="Coqui XTTS v2 (multilingual, voice cloning)",
            licence="Coqui Public Model License 1.0.0 (non-commercial)",
            licence_url="https://coqui.ai/cpml",
            path="tts/xtts-v2",
            files=(
                _hf("coqui/XTTS-v2", "model.pth", size=1_867_929_118),
                _hf("coqui/XTTS-v2", "vocab.json", size=361_219),
                _hf("coqui/XTTS-v2", "speakers_xtts.pth", size=7_754_818),
                _hf("coqui/XTTS-v2", "config.json", size=4_368),
            ),
            main_file="model.pth",
            settings=MappingProxyType({
                "engine": "coqui-xtts", "model_file": "model.pth", "config_file": "config.json",
                "speakers_file": "speakers_xtts.pth", "sample_rate": 24000, "multi_speaker": True,
            }),
            non_commercial=True,
            notes="CPML: non-commercial use only; ~4 GB of VRAM",
        ),
    )


def builtin() -> Catalog:
    entries = {e.name: e for e in (*_entries(), *voice_entries())}
    lite = {"llm": "llama-3.2-3b-instruct-q4_k_m", "sdxl": "sdxl-lightning-4step", "tts": "vctk-vits"}
    standard = {"llm": "llama-3.1-8b-instruct-q4_k_m", "sdxl": "sdxl-base-1.0", "tts": "vctk-vits",
                "ip_adapter": "ip-adapter-plus-face-sdxl-vit-h"}
    profiles = {"lite": lite, "standard": standard, "quality": {**standard, "xtts": "xtts-v2"}}
    notes = {
        "lite": "8 GB cards: few-step SDXL, 3B LLM, VITS voices; characters kept alike by their "
                "descriptions in the prompt only (no IP-Adapter: --ip-adapter adds it)",
        "standard": "12-16 GB cards: SDXL base 1.0 fp16 with the IP-Adapter Plus-Face (same faces in "
                    "every scene), 8B LLM, VITS voices",
        "quality": "16 GB+ cards: standard plus XTTS v2 (non-commercial licence)",
    }
    cat = _frozen(entries, profiles, notes)
    validate(cat)
    return cat


def _frozen(entries: dict[str, ModelEntry], profiles: dict[str, dict[str, str]],
            notes: dict[str, str]) -> Catalog:
    return Catalog(MappingProxyType(entries),
                   MappingProxyType({k: MappingProxyType(v) for k, v in profiles.items()}),
                   MappingProxyType(notes))


def validate(cat: Catalog) -> None:
    for name, e in cat.entries.items():
        where = f"catalog entry {name!r}"
        if e.kind not in KINDS or e.component not in (*COMPONENTS, VOICE):
            raise CatalogError(f"{where}: kind {e.kind!r} / component {e.component!r} not known")
        if not e.files:
            raise CatalogError(f"{where}: no files")
        if Path(e.path).is_absolute() or ".." in Path(e.path).parts:
            raise CatalogError(f"{where}: path must be relative to the models dir, got {e.path!r}")
        locals_ = [f.local for f in e.files]
        if len(set(locals_)) != len(locals_):
            raise CatalogError(f"{where}: two files share a local path")
        for f in e.files:
            if f.host not in HOSTS:
                raise CatalogError(f"{where}: host {f.host!r} not one of {HOSTS}")
            if f.sha256 is not None and not _SHA256.match(f.sha256):
                raise CatalogError(f"{where}: sha256 of {f.remote!r} is not 64 lowercase hex digits")
            if ".." in Path(f.local).parts or Path(f.local).is_absolute():
                raise CatalogError(f"{where}: local path {f.local!r} escapes the model folder")
    for prof, comps in cat.profiles.items():
        for comp, name in comps.items():
            if name not in cat.entries:
                raise CatalogError(f"profile {prof!r}: {comp} model {name!r} is not in the catalog")


def _entry_from_json(d: Mapping[str, Any]) -> ModelEntry:
    try:
        files = tuple(RemoteFile(**f) for f in d["files"])
        rest = {k: v for k, v in d.items() if k not in ("files", "settings")}
        return ModelEntry(files=files, settings=MappingProxyType(dict(d.get("settings", {}))), **rest)
    except (KeyError, TypeError) as exc:
        raise CatalogError(f"catalog entry {d.get('name', '?')!r}: {exc}") from None


def extend(cat: Catalog, path: Path) -> Catalog:
    """Add (or replace) entries and profiles from a JSON file:
    ``{"entries": [{name, kind, component, title, licence, licence_url, path, files: [...]}],
    "profiles": {"name": {"llm": "entry", ...}}}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc}") from None
    entries = dict(cat.entries)
    for d in data.get("entries", ()):
        e = _entry_from_json(d)
        entries[e.name] = e
    profiles = {k: dict(v) for k, v in cat.profiles.items()}
    for k, v in data.get("profiles", {}).items():
        profiles[k] = dict(v)
    notes = {**cat.profile_notes, **data.get("profile_notes", {})}
    out = _frozen(entries, profiles, notes)
    validate(out)
    return out


# ---------------------------------------------------------------- voices per language (issue 17)

#: The component of the voices per language (fetched with --voices LANGS, not a profile flag).
VOICE = "voice"
#: engine/narration/voice_packs.json: the voice catalog the engine reads too (one list for both).
VOICE_PACKS = Path(__file__).resolve().parents[2] / "engine" / "narration" / "voice_packs.json"
#: The languages XTTS v2 speaks (engine.languages codes), fetched with --xtts for a language
#: that has no voice of its own in voice_packs.json: those engine.languages gives an XTTS code.
XTTS_LANGUAGES = tuple(code for code, lang in LANGUAGES.items() if lang.xtts)


def _voice_entry(d: Mapping[str, Any]) -> ModelEntry:
    if d["engine"] == "piper":
        files = tuple(RemoteFile(d["repo"], f["remote"], f["remote"].rsplit("/", 1)[-1], int(f["size"]),
                                 None, d.get("revision", "main")) for f in d["files"])
        main, post = files[0].local, ""
        settings = {"engine": "piper", "language": d["language"], "voice": d["id"],
                    "default": bool(d.get("default"))}
    else:  # a Coqui single-language VITS release archive on GitHub
        files = (RemoteFile(d["github"]["repo"], d["github"]["remote"], "", int(d.get("size", 0)), None,
                            "main", "github", unpack=True),)
        main, post = "model_file.pth", "coqui_paths"
        settings = {"engine": "coqui", "language": d["language"], "voice": d["id"],
                    "default": bool(d.get("default"))}
    commercial = d.get("commercial")
    return ModelEntry(
        name=d["model"], kind="tts", component=VOICE, title=d["description"], licence=d["licence"],
        licence_url=d["licence_url"], path=f"tts/{d['model']}", files=files,
        settings=MappingProxyType(settings), main_file=main, post=post,
        notes=f"{d['language']} voice {d['id']}"
        + ("" if commercial else "; check the licence before commercial use"),
        non_commercial=commercial is False)


def voice_entries(path: Path = VOICE_PACKS) -> tuple[ModelEntry, ...]:
    """The voices per language as catalog entries (models/tts/<model>/)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read the voice catalog {path}: {exc}") from None
    try:
        return tuple(_voice_entry(d) for d in data["voices"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"{path.name}: a voice entry is malformed ({exc})") from None


def voices_for(cat: Catalog, languages: str) -> tuple[ModelEntry, ...]:
    """What --voices es,fr,de fetches: each language's default voices; XTTS v2 (non-commercial)
    for a language with no voice of its own. An unknown code is a CatalogError listing them."""
    codes = [c.strip().lower() for c in languages.split(",") if c.strip()]
    own = [e for e in cat.entries.values() if e.component == VOICE]
    known = sorted({str(e.settings.get("language")) for e in own} | set(XTTS_LANGUAGES))
    out: list[ModelEntry] = []
    for code in codes:
        if code not in known:
            raise CatalogError(f"no voices for language {code!r}; languages: {', '.join(known)}")
        chosen = [e for e in own if e.settings.get("language") == code and e.settings.get("default")]
        if not chosen:  # English: the VCTK voices; others: XTTS v2
            fallback = "tts" if code == "en" else "xtts"
            chosen = [e for e in cat.entries.values() if e.component == fallback][:1]
        out.extend(e for e in chosen if e not in out)
    return tuple(out)
