"""The doctor's findings as frozen data: what each stage will run on, what the machine has, and
each problem with the command that fixes it. Plain data, JSON-ready through ``to_dict()``."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from engine.models.device import CudaSupport, DeviceInfo

#: error: a configured backend cannot run (exit 1); warning: it runs, but slower or degraded than
#: this machine allows; info: worth knowing, nothing to fix.
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    severity: str  # one of SEVERITIES
    check: str  # what was checked: "llama.cpp", "torch", "vram", "ffmpeg", "nvenc", "espeak-ng", ...
    message: str
    fix: str | None  # the exact command (or the one step) that fixes it
    #: loudness within a severity: lower comes first ("llama.cpp without GPU on a CUDA card" is 0)
    rank: int = 50

    def line(self) -> str:
        return f"{self.message} — run {self.fix}" if self.fix else self.message


@dataclass(frozen=True)
class ModelRow:
    """One installed model a stage will use."""

    name: str
    kind: str
    path: str
    size_bytes: int
    sha256: str | None  # as recorded in models/manifest.json; None when found by scanning
    found_by: str  # manifest | scan
    vram_need_bytes: int  # engine.models.vram_estimate

    @property
    def checksum(self) -> str:
        if self.sha256:
            return f"sha256 {self.sha256[:12]}… recorded in models/manifest.json"
        return "no checksum recorded (found by scanning, not in models/manifest.json)"


@dataclass(frozen=True)
class StageRow:
    stage: str  # script | images | narration | video
    backend: str
    device: str
    real_weights: bool
    why: str
    models: tuple[ModelRow, ...] = ()
    fix: str | None = None  # what fetches the real model, when the stage runs its embedded default


@dataclass(frozen=True)
class LlamaInfo:
    installed: bool | None  # None: not asked (the start-up check on a machine without a card)
    version: str | None
    gpu_offload: bool | None  # None: not installed or not asked


@dataclass(frozen=True)
class DiskRow:
    label: str  # data | videos
    path: str
    free_bytes: int


@dataclass(frozen=True)
class Facts:
    """What the machine has. Gathered by engine.doctor.probes; fields left None were not asked
    (the start-up check imports no torch and encodes nothing)."""

    nvidia_gpus: tuple[str, ...]  # from the driver, without torch
    llama: LlamaInfo
    cuda: CudaSupport | None
    device: DeviceInfo | None  # where torch models run (after the compute-capability check)
    ffmpeg: str | None
    ffmpeg_error: str | None
    nvenc: bool | None
    espeak: str | None
    disks: tuple[DiskRow, ...]
    platform: str  # sys.platform
    #: languages XTTS v2 cannot read for a missing package (engine.narration.voice_packs.XTTS_NEEDS)
    xtts_missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemoryRow:
    device: DeviceInfo
    need_bytes: int  # all real models together (keep-warm's estimate)
    sdxl_placement: str | None  # engine.images.placement.choose_placement(...).describe()
    keep_warm: bool
    keep_warm_note: str


def _order(f: Finding) -> tuple[int, int]:
    return SEVERITIES.index(f.severity), f.rank


@dataclass(frozen=True)
class DoctorReport:
    models_dir: str
    stages: tuple[StageRow, ...]
    facts: Facts
    memory: MemoryRow | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """The configured backends can run (no error; warnings may remain)."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def ordered(self) -> tuple[Finding, ...]:
        return tuple(sorted(self.findings, key=_order))

    def warnings(self) -> tuple[str, ...]:
        """Errors and warnings, loudest first, each with its fix: what /health lists."""
        return warning_lines(self.findings)

    def to_dict(self) -> dict[str, Any]:
        cuda = self.facts.cuda
        facts = asdict(self.facts)
        facts["cuda"] = cuda.to_dict() if cuda is not None else None
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "models_dir": self.models_dir,
            "stages": [
                {**asdict(s), "models": [{**asdict(m), "checksum": m.checksum} for m in s.models]}
                for s in self.stages
            ],
            "machine": facts,
            "memory": asdict(self.memory) if self.memory is not None else None,
            "warnings": list(self.warnings()),
            "findings": [asdict(f) for f in self.ordered()],
        }


def warning_lines(findings: tuple[Finding, ...] | list[Finding]) -> tuple[str, ...]:
    return tuple(f.line() for f in sorted(findings, key=_order) if f.severity != "info")
