"""llama-cpp-python glue: check a GGUF file before loading it, load it by local path (all layers
on the GPU when llama.cpp was built with GPU offload, unless configured; flash attention with
them), take the manifest's llama settings, pick the chat format, and stream one grammar-constrained
answer token by token (engine.script.llama_generate).

llama_cpp is imported inside functions, so ``import engine.script.llama`` works without it."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Final, Mapping

from engine.errors import ModelFailed, ModelMissing
from engine.script.grammar_sampler import Sampling
from engine.script.llama_generate import Answer, chat_prompt, generate

log = logging.getLogger(__name__)

FIX_DOWNLOAD: Final = "run scripts/download_models.py --llm"
_GGUF_MAGIC: Final = b"GGUF"
#: Fraction of the machine's RAM a CPU-only model file may take (the rest: KV cache, the app).
_RAM_SHARE: Final = 0.85
#: Said loudly (log, doctor, /health) when a CUDA card would sit idle under a CPU-only llama.cpp.
NO_GPU_BUILD: Final = "CUDA card present but llama.cpp was built without GPU support — run make gpu"


@dataclass(frozen=True)
class LlamaSettings:
    """A GGUF's settings from the manifest (``InstalledModel.settings``): where its layers go, its
    context, its chat format and how tokens are drawn. None: decided at load time."""

    n_gpu_layers: int | None = None
    n_ctx: int | None = None
    chat_format: str | None = None
    sampling: Sampling = field(default_factory=Sampling)

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> "LlamaSettings":
        """Read the manifest's mapping. A value of the wrong type or out of range is logged and
        left at its default (a typo in the manifest must not stop the server); unknown keys too."""
        names = {f.name for f in fields(Sampling)}
        sampling: dict[str, Any] = {}
        for key, value in settings.items():
            key = "temperature" if key == "temp" else key
            if key in names and value is not None:
                number = _number(key, value, int if key == "top_k" else float)
                if number is None:
                    continue
                try:
                    Sampling(**{key: number})
                except ValueError:
                    log.warning("llama setting %s=%r is out of range; using %r", key, value,
                                getattr(Sampling(), key))
                    continue
                sampling[key] = number
            elif key not in ("n_gpu_layers", "n_ctx", "chat_format") and value is not None:
                log.info("llama setting %r is not used by the script writer", key)
        layers, ctx, chat = settings.get("n_gpu_layers"), settings.get("n_ctx"), settings.get("chat_format")
        n_ctx = None if not ctx else _number("n_ctx", ctx, int)
        return cls(
            n_gpu_layers=None if layers is None else _number("n_gpu_layers", layers, int),
            n_ctx=n_ctx if n_ctx is None or n_ctx > 0 else None,
            chat_format=str(chat) if chat else None,
            sampling=Sampling(**sampling),
        )


def _number(key: str, value: Any, kind: type) -> Any:
    """``value`` as ``kind``, or None (logged) when it is not a number of that kind."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    if ok and kind is int:
        ok = float(value).is_integer()
    if not ok:
        log.warning("llama setting %s=%r in models/manifest.json is not a %snumber; ignored", key, value,
                    "whole " if kind is int else "")
        return None
    return kind(value)


@dataclass(frozen=True)
class Loaded:
    llm: Any  # llama_cpp.Llama
    n_ctx: int
    gpu_layers: int
    chat_format: str
    #: A line for the job's details when the chat format was not taken from the file.
    note: str = ""
    flash_attn: bool = False


def check_file(path: Path) -> None:
    """Raise ModelMissing when the GGUF is not there, ModelFailed when it is plainly not a GGUF."""
    if not path.exists():
        raise ModelMissing(
            f"Language model file not found: {path} — {FIX_DOWNLOAD} (or put a GGUF file there)."
        )
    if not path.is_file():
        raise ModelMissing(
            f"Language model path {path} is not a file — point it at a .gguf file or {FIX_DOWNLOAD}."
        )
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelFailed(
            f"Cannot read the language model {path}: {exc.strerror} — check its permissions."
        ) from exc
    if len(head) < 8 or head[:4] != _GGUF_MAGIC:
        raise ModelFailed(
            f"{path.name} is not a GGUF model file (it may be corrupt, incomplete or another "
            f"format) — delete it and {FIX_DOWNLOAD}."
        )


def machine_memory() -> int | None:
    """Total physical memory in bytes, when the platform says."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(path: Path, gpu_layers: int) -> None:
    """A CPU-only model bigger than the machine's memory would thrash or fail mid-job; say so now."""
    if gpu_layers != 0:
        return  # VRAM is llama.cpp's to check; its load error is reported by load()
    ram = machine_memory()
    size = path.stat().st_size
    if ram is not None and size > ram * _RAM_SHARE:
        raise ModelFailed(
            f"{path.name} is {size / 2**30:.1f} GB, too big for this machine's {ram / 2**30:.1f} GB of memory"
            " — choose a smaller model or quantization (for example a Q4_K_M GGUF of a 3B-8B model) and"
            f" {FIX_DOWNLOAD}, or run on a GPU."
        )


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelMissing(
            "llama-cpp-python is not installed, so the GGUF language model cannot run — "
            "pip install 'storyreel[llm]' (or use the draft script writer)."
        ) from exc
    return llama_cpp


def gpu_offload_supported() -> bool | None:
    """Whether the installed llama.cpp was built with GPU offload (CUDA, Metal, ...); None when
    llama-cpp-python is not importable. For the doctor, /health and the writer's warning."""
    try:
        import llama_cpp
    except ImportError:
        return None
    return bool(llama_cpp.llama_supports_gpu_offload())


def cuda_card_present() -> bool:
    """torch sees a usable CUDA device (False when torch is not installed). torch is imported only
    when a card is plausible: already imported, or the NVIDIA driver lists a card."""
    if "torch" not in sys.modules:
        from engine.models.device import nvidia_gpus

        if importlib.util.find_spec("torch") is None or not nvidia_gpus():
            return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except (ImportError, RuntimeError, OSError):
        return False


def gpu_layers(configured: int | None) -> int:
    """The configured layer count, or all layers (-1) when llama.cpp can offload to a GPU."""
    if configured is not None:
        return configured
    return -1 if gpu_offload_supported() else 0


def flash_attention(layers: int, offload: bool | None) -> bool:
    """Flash attention with layers on the GPU (llama-cpp-python turns it off unless asked);
    off on the CPU, where llama.cpp gains little from it."""
    return bool(offload) and layers != 0


def load(
    path: Path, *, n_ctx: int, n_gpu_layers: int | None, chat_format: str | None, n_threads: int | None = None
) -> Loaded:
    check_file(path)
    llama_cpp = import_llama_cpp()
    layers = gpu_layers(n_gpu_layers)
    check_fits(path, layers)
    flash = flash_attention(layers, gpu_offload_supported())
    # half the cores, as llama.cpp suggests: its threads spin-wait, and oversubscribed cores stall them
    threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
    try:
        llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_gpu_layers=layers,
            n_threads=threads,
            n_batch=min(512, n_ctx),
            flash_attn=flash,
            verbose=False,
        )
    except RuntimeError as exc:
        failed = _gpu_failure(exc)
        if failed is not None:
            raise failed from exc
        raise _load_failed(path, layers, exc) from exc
    except (ValueError, OSError, MemoryError) as exc:
        raise _load_failed(path, layers, exc) from exc

    note = ""
    if "tokenizer.chat_template" not in llm.metadata:
        if chat_format:
            llm.chat_format = chat_format
            note = f"{path.name} has no chat template; using the configured chat format '{chat_format}'"
        else:
            note = (
                f"{path.name} has no chat template and none is configured; llama.cpp guessed "
                f"'{llm.chat_format}' (set chat_format for this model if answers look wrong)"
            )
    log.info(
        "loaded %s: n_ctx=%d gpu_layers=%d flash_attn=%s threads=%d chat=%s",
        path.name,
        n_ctx,
        layers,
        flash,
        threads,
        llm.chat_format,
    )
    return Loaded(llm, n_ctx, layers, str(llm.chat_format), note, flash)


def _load_failed(path: Path, layers: int, exc: BaseException) -> ModelFailed:
    where = "GPU memory" if layers != 0 else "memory"
    return ModelFailed(
        f"llama.cpp could not load {path.name} ({exc}). The file may be corrupt or incomplete, or too big"
        f" for this machine's {where} — delete it and {FIX_DOWNLOAD}, or pick a smaller quantization"
        + (" or set n_gpu_layers lower" if layers != 0 else "")
        + "."
    )


def _gpu_failure(exc: RuntimeError) -> ModelFailed | None:
    """A CUDA error from llama.cpp in creator words (engine.models.cuda_errors), else None."""
    from engine.models.cuda_errors import cuda_failure

    return cuda_failure(exc, "The script model (llama.cpp)")


def release(loaded: Loaded) -> None:
    """Free the model now (its memory is needed by the next stage)."""
    close = getattr(loaded.llm, "close", None)
    if callable(close):
        close()


def prompt_tokens(loaded: Loaded, messages: list[dict[str, str]]) -> int:
    """Tokens the messages take in the model's chat format, exactly as they will be evaluated."""
    return len(chat_prompt(loaded.llm, messages).tokens)


def stream(
    loaded: Loaded,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    *,
    max_tokens: int,
    seed: int,
    on_piece: Callable[[str], None],
    sampling: Sampling = Sampling(),
) -> Answer:
    """Generate one answer that follows the JSON ``schema``, token by token. ``on_piece`` sees
    each token's text as it arrives (and may raise, e.g. JobCancelled, which stops generation)."""
    try:
        return generate(
            loaded.llm,
            chat_prompt(loaded.llm, messages),
            schema,
            sampling=sampling,
            seed=seed,
            max_tokens=max_tokens,
            on_piece=on_piece,
        )
    except RuntimeError as exc:  # llama_decode failures: out of memory, context overflow, CUDA errors
        failed = _gpu_failure(exc)
        if failed is not None:
            raise failed from exc
        raise ModelFailed(
            f"llama.cpp failed while generating with {loaded.llm.model_path}: {exc} — try a "
            "smaller model or fewer scenes per job."
        ) from exc
