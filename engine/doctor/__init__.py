"""The doctor: which backend each stage will run and on what device, what the machine has (llama.cpp
GPU offload, torch/CUDA and the card's compute capability, free VRAM, NVENC, ffmpeg, espeak-ng,
disk), and every problem with the command that fixes it. Pure checks returning frozen data; the
caller prints (``python -m server --doctor [--json]``)."""
from engine.doctor.diagnose import Setup, diagnose, startup_warnings
from engine.doctor.report import DoctorReport, Facts, Finding, LlamaInfo, StageRow
from engine.doctor.table import render_table

__all__ = ["Setup", "diagnose", "startup_warnings", "DoctorReport", "Facts", "Finding", "LlamaInfo",
           "StageRow", "render_table"]
