"""One grammar-constrained answer from a loaded llama.cpp model, token by token, on the native path.

The chat messages become a prompt through llama-cpp-python's own chat formatter (the GGUF's
template or the configured chat format), exactly as its chat path would build it. The prompt is
evaluated once (the part it shares with what is already in the KV cache is kept, as
llama-cpp-python does); then each token is drawn by ``ConstrainedSampler`` (llama.cpp's sampler
chain, the grammar checking the draw), turned into text by its cached piece with incremental UTF-8
decoding (never by re-detokenizing the answer), and decoded with ``llama_decode`` directly. The
Llama object's token record (``input_ids``/``n_tokens``) is kept in step, so its own calls still
see what the cache holds.

``Answer.stats`` says where the time went: native decode and sampling against the whole loop, which
is how scripts/bench_script.py reports Python milliseconds per token."""

from __future__ import annotations

import codecs
import ctypes
import inspect
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from engine.errors import ModelFailed
from engine.script.grammar_sampler import ConstrainedSampler, Sampling


@dataclass(frozen=True)
class ChatPrompt:
    tokens: tuple[int, ...]
    #: Text that ends the answer (the chat format's turn separator); the EOG token ends it too.
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenStats:
    """Where one answer's time went (seconds)."""

    tokens: int
    prompt_tokens: int
    reused_tokens: int  # prompt tokens already in the KV cache
    prompt_s: float
    loop_s: float  # generation: from the first draw to the last token
    decode_s: float  # inside llama_decode, generated tokens
    sample_s: float  # inside the native chain (llama_sampler_sample; a repeat penalty)
    grammar_s: float  # inside the native grammar (checking draws, advancing)
    rejected: int  # draws the grammar refused (resampled)
    full_checks: int  # resamples that had to check the whole vocabulary
    resample_s: float  # in those resamples (numpy bands + the grammar over them); part of python_s

    @property
    def python_s(self) -> float:
        """Loop time outside llama.cpp's decode and samplers: numpy, ctypes glue, pieces, callbacks."""
        return max(0.0, self.loop_s - self.decode_s - self.sample_s - self.grammar_s)


@dataclass(frozen=True)
class Answer:
    text: str
    finish: str  # "stop" (EOG or a stop string) or "length"
    stats: GenStats


def chat_formatter(llm: Any) -> Callable[..., Any]:
    """llama-cpp-python's chat formatter for ``llm.chat_format`` (or the GGUF's template)."""
    from llama_cpp import llama_chat_format

    name = llm.chat_format
    handler = (
        llm.chat_handler
        or getattr(llm, "_chat_handlers", {}).get(name)
        or llama_chat_format.get_chat_completion_handler(name)
    )
    try:
        formatter = inspect.getclosurevars(handler).nonlocals.get("chat_formatter")
    except TypeError:
        formatter = None
    if not callable(formatter):
        raise ModelFailed(
            f"The chat format '{name}' has no plain prompt template the script writer can use; set "
            "chat_format for this model to a template-based one (e.g. llama-3, chatml, gemma,"
            " mistral-instruct)."
        )
    return formatter  # type: ignore[no-any-return]


def chat_prompt(llm: Any, messages: Sequence[dict[str, str]]) -> ChatPrompt:
    """The prompt tokens llama-cpp-python's chat path would evaluate for ``messages``."""
    result = chat_formatter(llm)(messages=list(messages))
    tokens = llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
    stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
    return ChatPrompt(tuple(tokens), tuple(s for s in stop if s))


class PieceDecoder:
    """Token ids -> text, one token at a time: each token's bytes once (cached), UTF-8 sequences that
    span tokens completed across calls."""

    def __init__(self, vocab: Any) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._vocab = vocab
        self._buf = ctypes.create_string_buffer(64)
        self._pieces: dict[int, bytes] = {}
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")

    def piece_bytes(self, token: int) -> bytes:
        cached = self._pieces.get(token)
        if cached is None:
            n = self._lib.llama_token_to_piece(self._vocab, token, self._buf, len(self._buf), 0, False)
            if n < 0:
                self._buf = ctypes.create_string_buffer(-n)
                n = self._lib.llama_token_to_piece(self._vocab, token, self._buf, len(self._buf), 0, False)
            cached = self._buf.raw[: max(0, n)]
            self._pieces[token] = cached
        return cached

    def text(self, token: int) -> str:
        return self._utf8.decode(self.piece_bytes(token))

    def flush(self) -> str:
        return self._utf8.decode(b"", final=True)


def _evaluate_prompt(llm: Any, tokens: Sequence[int]) -> int:
    """Evaluate ``tokens`` after what the KV cache already shares with them; returns the reused count."""
    import llama_cpp

    reuse = 0
    if llm.n_tokens > 0:
        for a, b in zip(llm.input_ids[: llm.n_tokens].tolist(), tokens):
            if a != b:
                break
            reuse += 1
        reuse = min(reuse, len(tokens) - 1)  # the last prompt token is evaluated again for its logits
        memory = llama_cpp.llama_get_memory(llm.ctx)
        if reuse > 0 and memory is not None and llama_cpp.llama_memory_seq_rm(memory, -1, reuse, -1):
            llm.n_tokens = reuse
        else:
            reuse = 0
            llm.reset()
    llm.eval(list(tokens[reuse:]))
    return reuse


def generate(
    llm: Any,
    prompt: ChatPrompt,
    schema: dict[str, Any] | None,
    *,
    sampling: Sampling,
    seed: int,
    max_tokens: int,
    on_piece: Callable[[str], None],
) -> Answer:
    """Up to ``max_tokens`` tokens that follow the JSON ``schema`` (None: unconstrained).
    ``on_piece`` sees each token's text as it arrives (may be "" mid-character) and may raise to
    stop generation (e.g. JobCancelled). llama.cpp failures raise RuntimeError (the caller words
    them)."""
    import llama_cpp

    n_ctx = int(llm.n_ctx())
    room = n_ctx - len(prompt.tokens)
    if room < 1:
        raise ModelFailed(f"The prompt takes {len(prompt.tokens)} tokens; the context holds {n_ctx}.")
    limit = max(1, min(max_tokens, room))
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    decoder = PieceDecoder(vocab)
    started = time.perf_counter()
    reused = _evaluate_prompt(llm, prompt.tokens)
    prompt_s = time.perf_counter() - started

    one = (llama_cpp.llama_token * 1)()
    batch = llama_cpp.llama_batch_get_one(one, 1)
    decode = llama_cpp.llama_decode
    is_eog = llama_cpp.llama_vocab_is_eog
    ctx = llm.ctx
    stop_tail = max((len(s) for s in prompt.stop), default=0)
    parts: list[str] = []
    finish = "length"
    generated = 0
    decode_s = 0.0
    clock = time.perf_counter
    with ConstrainedSampler(llm, schema, sampling=sampling, seed=seed) as sampler:
        loop_start = clock()
        for i in range(limit):
            token = sampler.sample()
            if is_eog(vocab, token):
                finish = "stop"
                break
            generated += 1
            piece = decoder.text(token)
            if piece:
                parts.append(piece)
            on_piece(piece)
            if stop_tail and piece and _stopped(parts, prompt.stop, stop_tail):
                finish = "stop"
                break
            if i + 1 == limit:
                break
            one[0] = token
            t0 = clock()
            rc = decode(ctx, batch)
            decode_s += clock() - t0
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            llm.input_ids[llm.n_tokens] = token
            llm.n_tokens += 1
        loop_s = clock() - loop_start
        stats = sampler.stats
    text = "".join(parts) + decoder.flush()
    if finish == "stop" and prompt.stop:
        cut = min((text.find(s) for s in prompt.stop if s in text), default=-1)
        text = text[:cut] if cut >= 0 else text
    return Answer(
        text,
        finish,
        GenStats(
            tokens=generated,
            prompt_tokens=len(prompt.tokens),
            reused_tokens=reused,
            prompt_s=prompt_s,
            loop_s=loop_s,
            decode_s=decode_s,
            sample_s=stats.sample_s,
            grammar_s=stats.grammar_s,
            rejected=stats.rejected,
            full_checks=stats.full_checks,
            resample_s=stats.resample_s,
        ),
    )


def _stopped(parts: list[str], stops: tuple[str, ...], tail: int) -> bool:
    recent, n = "", len(parts)
    while n > 0 and len(recent) < tail + 16:
        n -= 1
        recent = parts[n] + recent
    return any(s in recent for s in stops)
