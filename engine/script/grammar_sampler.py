"""Grammar-constrained sampling on llama.cpp's native sampler chain, checking only what it must.

llama.cpp's own chain (top-k, top-p, temperature, then a seeded draw, all native) picks a token
from the context's logits. The JSON grammar (``llama_sampler_init_grammar`` on the GBNF that
llama-cpp-python builds from a JSON schema) then checks that one token. Only when the grammar
rejects it are more candidates checked: the 64 most likely, then 1024, 16384, 65536, then the whole
vocabulary, stopping at the first set that holds an allowed token; the chain then samples among
the allowed ones. This is the order llama.cpp's own ``common_sampler`` uses (sample first,
resample with the grammar on rejection), with a widening search in place of a whole-vocabulary
grammar pass, which costs tens of milliseconds on a 262k vocabulary. The answer obeys the grammar
exactly as ``grammar=`` would.

A repeat penalty, when configured, is applied natively (``llama_sampler_init_penalties``) to the
logits of the recently accepted tokens only, before the chain sees them, and learns only the
tokens that were accepted (never a rejected draw)."""

from __future__ import annotations

import ctypes
import json
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from engine.errors import ModelFailed

_TOKEN_DATA: Final = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
#: After a rejected draw the grammar checks the most likely 64 tokens, then 1024, ..., then the
#: whole vocabulary; each set is looked for among the tokens within BANDS logits of the best (one
#: cheap pass over the logits) before a full partial sort.
WIDENINGS: Final = (64, 1024, 16384, 65536)
BANDS: Final = (12.0, 24.0)
#: Recent tokens the repeat penalty looks back on (llama-cpp-python's default).
PENALTY_LAST_N: Final = 64


@dataclass(frozen=True)
class Sampling:
    """How the next token is drawn (the manifest's llama settings). ``temperature`` 0 is greedy."""

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0

    def __post_init__(self) -> None:
        if self.temperature < 0 or self.top_k < 0 or not 0 < self.top_p <= 1 or not 0 <= self.min_p < 1:
            raise ValueError(f"sampling settings out of range: {self}")
        if self.repeat_penalty <= 0:
            raise ValueError(f"repeat_penalty must be positive: {self.repeat_penalty}")

    @property
    def penalised(self) -> bool:
        return self.repeat_penalty != 1.0 or self.frequency_penalty != 0.0 or self.presence_penalty != 0.0


@dataclass
class SamplerStats:
    """What the constraint cost: draws the grammar rejected, whole-vocabulary checks, and seconds
    inside the native samplers."""

    tokens: int = 0
    rejected: int = 0
    full_checks: int = 0
    sample_s: float = 0.0  # native: the chain (and the repeat penalty)
    grammar_s: float = 0.0  # native: the grammar's checks and advances
    resample_s: float = 0.0  # all of the resamples, numpy and native


class ConstrainedSampler:
    """Draws tokens from a llama.cpp context under a JSON ``schema`` (None: the chain alone, for
    comparison); close() it after the answer."""

    def __init__(self, llm: Any, schema: dict[str, Any] | None, *, sampling: Sampling, seed: int) -> None:
        import llama_cpp
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        self._lib = llama_cpp
        self._ctx = llm.ctx
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self.sampling = sampling
        self.stats = SamplerStats()
        self._chain: Any = None
        self._grammar: Any = None
        self._penalties: Any = None
        if schema is not None:
            gbnf = json_schema_to_gbnf(json.dumps(schema))
            self._grammar = llama_cpp.llama_sampler_init_grammar(self._vocab, gbnf.encode("utf-8"), b"root")
        if schema is not None and not self._grammar:
            raise ModelFailed("llama.cpp could not build the answer grammar from the script schema.")
        self._chain = self._build_chain(seed)
        if sampling.penalised:
            s = sampling
            args = (PENALTY_LAST_N, s.repeat_penalty, s.frequency_penalty, s.presence_penalty)
            try:  # builds differ: some take the vocabulary size first (ctypes refuses too few arguments)
                self._penalties = llama_cpp.llama_sampler_init_penalties(*args)
            except TypeError:
                self._penalties = llama_cpp.llama_sampler_init_penalties(self.n_vocab, *args)
        self._recent: deque[int] = deque(maxlen=PENALTY_LAST_N)
        # one reusable single-token array for checking a draw, and one buffer for penalties
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(
            data=self._one, size=1, selected=-1, sorted=False
        )
        self._one_ref = ctypes.byref(self._one_array)
        self._small = np.zeros(PENALTY_LAST_N, dtype=_TOKEN_DATA)

    def _build_chain(self, seed: int) -> Any:
        lib, s = self._lib, self.sampling
        params = lib.llama_sampler_chain_default_params()
        params.no_perf = True
        chain = lib.llama_sampler_chain_init(params)
        if s.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        if s.top_k > 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(s.top_k))
        if s.top_p < 1.0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(s.top_p, 1))
        if s.min_p > 0.0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_min_p(s.min_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(s.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def chain_names(self) -> list[str]:
        """The native samplers in order (penalties first when configured), for checks and logs."""
        lib = self._lib
        names = ["penalties"] if self._penalties else []
        for i in range(int(lib.llama_sampler_chain_n(self._chain))):
            names.append(lib.llama_sampler_name(lib.llama_sampler_chain_get(self._chain, i)).decode())
        return names

    # -- one token -----------------------------------------------------------------------------
    def sample(self) -> int:
        """The next token for the context's last logits, allowed by the grammar, accepted by it."""
        lib, stats, clock = self._lib, self.stats, time.perf_counter
        if self._penalties is not None and self._recent:
            self._penalise()
        t0 = clock()
        token = int(lib.llama_sampler_sample(self._chain, self._ctx, -1))  # accepts into the chain
        stats.sample_s += clock() - t0
        if self._grammar is not None:
            if not self._allows(token):
                stats.rejected += 1
                token = self._resample()
                lib.llama_sampler_accept(self._chain, token)
            t0 = clock()
            lib.llama_sampler_accept(self._grammar, token)
            stats.grammar_s += clock() - t0
        if self._penalties is not None:
            lib.llama_sampler_accept(self._penalties, token)
            self._recent.append(token)
        stats.tokens += 1
        return token

    def _allows(self, token: int) -> bool:
        one: Any = self._one[0]  # a llama_token_data (its stub types id as c_int32)
        one.id, one.logit, one.p = token, 0.0, 0.0
        self._one_array.size, self._one_array.selected = 1, -1
        t0 = time.perf_counter()
        self._lib.llama_sampler_apply(self._grammar, self._one_ref)
        self.stats.grammar_s += time.perf_counter() - t0
        return math.isfinite(one.logit)

    def _logits(self) -> np.ndarray:
        ptr = self._lib.llama_get_logits_ith(self._ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def _penalise(self) -> None:
        """The native penalty on the recent tokens' logits, written back into the context."""
        logits = self._logits()
        ids = np.fromiter(dict.fromkeys(self._recent), dtype=np.intc)
        data = self._small[: ids.size]
        data["id"], data["logit"], data["p"] = ids, logits[ids], 0.0
        t0 = time.perf_counter()
        self._apply(self._penalties, data)
        self.stats.sample_s += time.perf_counter() - t0
        logits[data["id"]] = data["logit"]

    def _apply(self, sampler: Any, data: np.ndarray) -> int:
        """Run ``sampler`` over ``data`` (in place); the selected token id, or -1 when none."""
        lib = self._lib
        array = lib.llama_token_data_array(
            data=data.ctypes.data_as(ctypes.POINTER(lib.llama_token_data)),
            size=data.size,
            selected=-1,
            sorted=False,
        )
        lib.llama_sampler_apply(sampler, ctypes.byref(array))
        return int(array.data[array.selected].id) if 0 <= array.selected < array.size else -1

    def _best(self, logits: np.ndarray, top: float, k: int) -> np.ndarray:
        """The ``k`` most likely token ids, found among those within a few logits of the best
        (cheap), or by one pass over the whole vocabulary when that band is too small."""
        for band in BANDS:
            near = np.flatnonzero(logits >= top - band)
            if near.size >= k:
                return near[np.argpartition(logits[near], near.size - k)[near.size - k:]]
        n = self.n_vocab
        return np.argpartition(logits, n - k)[n - k:]

    def _resample(self) -> int:
        """Widen the candidates until the grammar allows one; the chain samples among those."""
        clock = time.perf_counter
        t0 = clock()
        logits = self._logits()
        top = float(logits.max())
        allowed = np.empty(0, dtype=_TOKEN_DATA)
        for k in (*WIDENINGS, self.n_vocab):
            if k >= self.n_vocab:
                self.stats.full_checks += 1
                ids = np.arange(self.n_vocab, dtype=np.intc)
            else:
                ids = self._best(logits, top, k).astype(np.intc)
            data = np.zeros(ids.size, dtype=_TOKEN_DATA)
            data["id"], data["logit"] = ids, logits[ids]
            t1 = clock()
            self._apply(self._grammar, data)
            self.stats.grammar_s += clock() - t1
            allowed = data[np.isfinite(data["logit"])]
            if allowed.size or k >= self.n_vocab:
                break
        if allowed.size == 0:
            raise ModelFailed(
                "The answer grammar allows no next token; the schema and the model's vocabulary do not fit "
                "together."
            )
        allowed = np.ascontiguousarray(allowed)
        best = int(allowed["id"][int(np.argmax(allowed["logit"]))])
        t1 = clock()
        chosen = self._apply(self._chain, allowed)
        self.stats.sample_s += clock() - t1
        self.stats.resample_s += clock() - t0
        return chosen if chosen >= 0 else best  # a chain always selects; else the likeliest

    def close(self) -> None:
        lib = self._lib
        for name in ("_chain", "_grammar", "_penalties"):
            sampler = getattr(self, name)
            if sampler:
                lib.llama_sampler_free(sampler)
                setattr(self, name, None)

    def __enter__(self) -> "ConstrainedSampler":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
