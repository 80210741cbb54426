"""Grammar-constrained sampling that checks the likely tokens first.

llama-cpp-python applies a grammar to the whole vocabulary at every token, which costs tens of
milliseconds per token on a 128k-262k vocabulary (more than the GPU spends on the token itself)
and dominates generation on a CPU. This logits processor does what llama.cpp's own samplers do
instead: it takes the ``top_k`` most likely tokens, asks the grammar which of them are allowed,
samples among those (temperature, top-p), and only when none is allowed widens the search (2048,
then 32768 most likely tokens) before checking the full vocabulary. It then masks every other
token, so the model's own sampler can only take the chosen one, and advances the grammar with it.
The result obeys the grammar exactly like ``grammar=``.

The grammar is llama.cpp's own sampler (``llama_sampler_init_grammar``) from the GBNF that
llama-cpp-python builds from a JSON schema."""

from __future__ import annotations

import ctypes
import json
from typing import Any

import numpy as np

from engine.errors import ModelFailed

_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class GrammarFirst:
    """A llama-cpp-python logits processor enforcing ``schema``; close() it after the answer."""

    def __init__(
        self,
        llm: Any,
        schema: dict[str, Any],
        *,
        seed: int,
        temperature: float = 0.8,
        top_k: int = 40,
        top_p: float = 0.95,
    ) -> None:
        import llama_cpp
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        self._lib = llama_cpp
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        gbnf = json_schema_to_gbnf(json.dumps(schema))
        self._sampler = llama_cpp.llama_sampler_init_grammar(self._vocab, gbnf.encode("utf-8"), b"root")
        if not self._sampler:
            raise ModelFailed("llama.cpp could not build the answer grammar from the script schema.")
        self._rng = np.random.default_rng(seed)
        self._temperature = temperature
        self._top_k = top_k
        self._top_p = top_p
        self.full_checks = 0  # how often the whole vocabulary had to be checked (for benchmarks)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        logits = np.asarray(scores, dtype=np.float32)
        allowed = np.empty(0, dtype=np.intc)
        for k in (self._top_k, 2048, 32768):  # widen step by step before checking every token
            k = min(k, logits.size)
            likely = np.argpartition(-logits, k - 1)[:k].astype(np.intc)
            allowed = self._allowed(likely, logits[likely])
            if allowed.size or k == logits.size:
                break
        if allowed.size == 0:
            self.full_checks += 1
            allowed = self._allowed(np.arange(logits.size, dtype=np.intc), logits)
        if allowed.size == 0:
            raise ModelFailed(
                "The answer grammar allows no next token; the schema and the model's vocabulary "
                "do not fit together."
            )
        token = self._choose(allowed, logits[allowed])
        self._lib.llama_sampler_accept(self._sampler, int(token))
        out = np.full_like(logits, -np.inf)
        out[token] = 0.0
        return out

    def _allowed(self, ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        data = np.zeros(ids.size, dtype=_TOKEN_DATA)
        data["id"] = ids
        data["logit"] = logits
        array = self._lib.llama_token_data_array(
            data=data.ctypes.data_as(ctypes.POINTER(self._lib.llama_token_data)),
            size=ids.size,
            selected=-1,
            sorted=False,
        )
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(array))
        return ids[np.isfinite(data["logit"])]

    def _choose(self, ids: np.ndarray, logits: np.ndarray) -> int:
        if ids.size == 1 or self._temperature <= 0:
            return int(ids[int(np.argmax(logits))])
        order = np.argsort(-logits)[: self._top_k]
        ids, logits = ids[order], logits[order].astype(np.float64) / self._temperature
        p = np.exp(logits - logits.max())
        p /= p.sum()
        keep = int(np.searchsorted(np.cumsum(p), self._top_p)) + 1
        p = p[:keep] / p[:keep].sum()
        return int(ids[self._rng.choice(keep, p=p)])

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None

    def __enter__(self) -> "GrammarFirst":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
