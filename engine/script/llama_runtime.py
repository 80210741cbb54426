"""llama-cpp-python glue: check a GGUF file before loading it, load it by local path (all layers
on the GPU when llama.cpp was built with GPU offload, unless configured), pick the chat format,
and stream one grammar-constrained chat completion token by token.

llama_cpp is imported inside functions, so ``import engine.script.llama`` works without it."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Final

from engine.errors import ModelFailed, ModelMissing

log = logging.getLogger(__name__)

FIX_DOWNLOAD: Final = "run scripts/download_models.py --llm"
_GGUF_MAGIC: Final = b"GGUF"
#: Fraction of the machine's RAM a CPU-only model file may take (the rest: KV cache, the app).
_RAM_SHARE: Final = 0.85


@dataclass(frozen=True)
class Loaded:
    llm: Any  # llama_cpp.Llama
    n_ctx: int
    gpu_layers: int
    chat_format: str
    #: A line for the job's details when the chat format was not taken from the file.
    note: str = ""


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


def gpu_layers(configured: int | None) -> int:
    """The configured layer count, or all layers (-1) when llama.cpp can offload to a GPU."""
    if configured is not None:
        return configured
    return -1 if bool(import_llama_cpp().llama_supports_gpu_offload()) else 0


def load(
    path: Path, *, n_ctx: int, n_gpu_layers: int | None, chat_format: str | None, n_threads: int | None = None
) -> Loaded:
    check_file(path)
    llama_cpp = import_llama_cpp()
    layers = gpu_layers(n_gpu_layers)
    check_fits(path, layers)
    # half the cores, as llama.cpp suggests: its threads spin-wait, and oversubscribed cores stall them
    threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
    try:
        llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_gpu_layers=layers,
            n_threads=threads,
            n_batch=min(512, n_ctx),
            verbose=False,
        )
    except (ValueError, RuntimeError, OSError, MemoryError) as exc:
        where = "GPU memory" if layers != 0 else "memory"
        raise ModelFailed(
            f"llama.cpp could not load {path.name} ({exc}). The file may be corrupt or incomplete, or too big"
            f" for this machine's {where} — delete it and {FIX_DOWNLOAD}, or pick a smaller quantization"
            + (" or set n_gpu_layers lower" if layers != 0 else "")
            + "."
        ) from exc
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
        "loaded %s: n_ctx=%d gpu_layers=%d threads=%d chat=%s",
        path.name,
        n_ctx,
        layers,
        threads,
        llm.chat_format,
    )
    return Loaded(llm, n_ctx, layers, str(llm.chat_format), note)


def release(loaded: Loaded) -> None:
    """Free the model now (its memory is needed by the next stage)."""
    close = getattr(loaded.llm, "close", None)
    if callable(close):
        close()


def prompt_tokens(loaded: Loaded, messages: list[dict[str, str]]) -> int:
    """Tokens the messages take, with a margin for the chat template's own markers."""
    text = "\n".join(m["content"] for m in messages)
    return len(loaded.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)) + 16 * len(messages)


def stream(
    loaded: Loaded,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    *,
    max_tokens: int,
    seed: int,
    on_piece: Callable[[str], None],
    temperature: float = 0.8,
) -> tuple[str, str | None]:
    """Generate one answer that follows the JSON ``schema``, token by token. ``on_piece`` sees
    each piece as it arrives (and may raise, e.g. JobCancelled, which stops generation).
    Returns (text, finish_reason)."""
    from llama_cpp import LogitsProcessorList

    from engine.script.grammar_sampler import GrammarFirst

    parts: list[str] = []
    finish: str | None = None
    with GrammarFirst(loaded.llm, schema, seed=seed, temperature=temperature) as constrain:
        chunks = loaded.llm.create_chat_completion(
            messages=messages,
            logits_processor=LogitsProcessorList([constrain]),
            stream=True,
            max_tokens=max_tokens,
            seed=seed,
            temperature=temperature,
        )
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                piece = choice.get("delta", {}).get("content") or ""
                if piece:
                    parts.append(piece)
                    on_piece(piece)
                finish = choice.get("finish_reason") or finish
        except RuntimeError as exc:  # llama_decode failures: out of memory, context overflow
            raise ModelFailed(
                f"llama.cpp failed while generating with {loaded.llm.model_path}: {exc} — try a "
                "smaller model or fewer scenes per job."
            ) from exc
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()
    return "".join(parts), finish
