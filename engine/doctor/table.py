"""The doctor's report as a plain-text table (the caller prints it)."""
from __future__ import annotations

import textwrap

from engine.doctor.report import DoctorReport, StageRow

GIB = 1 << 30
WIDTH = 100


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def _wrap(text: str, indent: int) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=" " * indent, subsequent_indent=" " * indent,
                         break_on_hyphens=False, break_long_words=False) or [" " * indent]


def _yes(value: bool | None, unknown: str = "not checked") -> str:
    return unknown if value is None else ("yes" if value else "no")


def _machine(report: DoctorReport) -> list[tuple[str, str]]:
    f = report.facts
    llama = ("not checked" if f.llama.installed is None else "not installed" if not f.llama.installed
             else f"{f.llama.version or '?'}, GPU offload compiled in: {_yes(f.llama.gpu_offload)}")
    rows = [("NVIDIA card", ", ".join(f.nvidia_gpus) or "none found"), ("llama.cpp", llama)]
    c = f.cuda
    if c is None:
        rows.append(("torch", "not checked"))
    elif c.torch_version is None:
        rows.append(("torch", c.error or "not installed"))
    else:
        rows.append(("torch", f"{c.torch_version} (CUDA build: {c.cuda_build or 'none, CPU-only'}); "
                              f"CUDA available: {_yes(c.available)}"))
        if c.available:
            rows.append(("card", f"{c.name}, compute capability {c.capability_text}; kernels in this torch: "
                                 f"{_yes(c.kernels)} ({', '.join(c.arch_list)})"))
    m = report.memory
    if m is not None:
        d = m.device
        rows.append(("device", f"{d.kind} {d.name}: {_gib(d.free_bytes)} free of {_gib(d.total_bytes)}"))
        if m.need_bytes:
            rows.append(("models need", f"{_gib(m.need_bytes)} together (estimate)"))
        if m.sdxl_placement and any(s.stage == "images" and s.real_weights for s in report.stages):
            rows.append(("SDXL placement", m.sdxl_placement))
        rows.append(("keep-warm", m.keep_warm_note))
    rows.append(("ffmpeg", f.ffmpeg or "not found"))
    rows.append(("NVENC", "not probed" if f.nvenc is None else "usable" if f.nvenc
                 else "not usable (libx264 on the CPU)"))
    rows.append(("espeak-ng", f.espeak or "not installed"))
    rows.append(("disk", "; ".join(f"{d.label} {_gib(d.free_bytes)} free ({d.path})" for d in f.disks)))
    return rows


def _stage(lines: list[str], s: StageRow) -> None:
    lines.append(f"{s.stage:<10} {s.backend}")
    lines += _wrap(f"device: {s.device}", 11)
    if s.real_weights:
        for mdl in s.models:
            lines += _wrap(f"weights: {mdl.name} at {mdl.path}", 11)
            lines += _wrap(f"{mdl.checksum}; needs ~{_gib(mdl.vram_need_bytes)} while it works", 20)
    else:
        lines += _wrap(f"why: {s.why.split('; to get it:')[0]}", 11)
    if s.fix:
        lines += _wrap(f"fix: {s.fix}", 11)


def render_table(report: DoctorReport) -> str:
    lines = [f"StoryReel doctor — models in {report.models_dir}", "", f"{'STAGE':<10} BACKEND"]
    for s in report.stages:
        _stage(lines, s)
    lines += ["", "MACHINE"]
    for key, value in _machine(report):
        wrapped = _wrap(value, 17)
        lines.append(f"  {key:<14} {wrapped[0].lstrip()}")
        lines += wrapped[1:]
    lines += ["", "PROBLEMS" if any(f.severity != "info" for f in report.findings) else "NOTES"]
    ordered = report.ordered()
    if not ordered:
        lines.append("  none")
    for f in ordered:
        lines += _wrap(f"{f.severity.upper():<8} {f.message}", 2)
        if f.fix:
            lines += _wrap(f"fix: {f.fix}", 11)
    lines += ["", f"{'ready' if report.ok else 'NOT READY'}: exit {report.exit_code}"]
    return "\n".join(lines)
