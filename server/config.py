"""One frozen Config. CLI flags and environment variables are derived from its fields."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from engine.backends import KEEP_WARM_CHOICES, STAGE_CHOICES, keep_warm_mode
from server.workerproto import LaneSpec

DEFAULT_CORS_ORIGINS: tuple[str, ...] = (
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:3000",
    "http://127.0.0.1:3000",
)
LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
ENV_PREFIX = "STORYREEL_"

if TYPE_CHECKING:
    from engine.doctor import Setup


@dataclass(frozen=True)
class Config:
    host: str = field(default="localhost", metadata={"help": "interface to listen on"})
    port: int = field(default=5000, metadata={"help": "TCP port"})
    data_dir: Path = field(default=Path("data"), metadata={"help": "jobs database, job folders, uploads"})
    videos_dir: Path = field(default=Path("videos"), metadata={"help": "finished MP4s"})
    models_dir: Path = field(
        default=Path("models"), metadata={"help": "model weights (see scripts/download_models.py)"}
    )
    stock_dir: Path | None = field(
        default=None, metadata={"help": "offline stock image library (default MODELS_DIR/stock)"}
    )
    cors_origins: tuple[str, ...] = field(
        default=DEFAULT_CORS_ORIGINS, metadata={"help": "allowed browser origin (repeatable)", "repeat": True}
    )
    allowed_hosts: tuple[str, ...] = field(
        default=(),
        metadata={"help": "extra Host names accepted besides loopback (repeatable)", "repeat": True},
    )
    image_roots: tuple[Path, ...] = field(
        default=(),
        metadata={"help": "folders manual images may come from (default: home + uploads)", "repeat": True},
    )
    script_backend: str = field(
        default="auto", metadata={"help": "script writer", "choices": STAGE_CHOICES["script"]}
    )
    images_backend: str = field(
        default="auto", metadata={"help": "image source", "choices": STAGE_CHOICES["images"]}
    )
    narration_backend: str = field(
        default="auto", metadata={"help": "narrator", "choices": STAGE_CHOICES["narration"]}
    )
    keep_warm: str = field(
        default="auto",
        metadata={
            "help": "keep models loaded between jobs: auto = when they all fit on the GPU; "
            "on = whenever memory allows (true/false still mean on/off)",
            "choices": KEEP_WARM_CHOICES,
            "normalise": keep_warm_mode,
            "bare": "on",  # --keep-warm alone; --no-keep-warm means off
            "negated": "off",
        },
    )
    lanes: int = field(
        default=1, metadata={"help": "jobs run at once, each in a worker process of its own (--gpus sets it)"}
    )
    gpus: tuple[str, ...] = field(
        default=(),
        metadata={"help": "one lane per listed GPU, pinned with CUDA_VISIBLE_DEVICES (e.g. 0,1; repeatable)",
                  "repeat": True},
    )
    worker_stall_seconds: int = field(
        default=120, metadata={"help": "seconds a worker may go without a heartbeat before it is restarted"}
    )
    max_body_bytes: int = field(default=1024 * 1024, metadata={"help": "largest JSON body accepted"})
    max_upload_bytes: int = field(
        default=50 * 1024 * 1024, metadata={"help": "largest image upload accepted"}
    )
    keep_work_days: int = field(
        default=14,
        metadata={"help": "days a finished job's work folder is kept for reruns and edits, then swept "
                  "(0: at the next hourly sweep; the video itself is never swept)"},
    )

    @property
    def lane_specs(self) -> tuple[LaneSpec, ...]:
        """One lane per GPU in ``gpus``; otherwise ``lanes`` lanes sharing the default device."""
        if self.gpus:
            return tuple(LaneSpec(i, gpu) for i, gpu in enumerate(self.gpus))
        return tuple(LaneSpec(i, None) for i in range(max(1, self.lanes)))

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def stock_path(self) -> Path:
        return self.stock_dir if self.stock_dir is not None else self.models_dir / "stock"

    @property
    def manual_roots(self) -> tuple[Path, ...]:
        return self.image_roots or (Path.home(), self.upload_dir)

    @property
    def host_names(self) -> frozenset[str]:
        """Host header names we answer to (DNS-rebinding guard)."""
        names = set(LOOPBACK_HOSTS) | {h.lower() for h in self.allowed_hosts}
        if self.host not in ("0.0.0.0", "::", ""):
            names.add(self.host.lower())
        return frozenset(names)


def doctor_setup(config: Config) -> "Setup":
    """What the doctor checks: the folders and backends this configuration will use."""
    from engine.doctor import Setup

    return Setup(models_dir=config.models_dir, stock_dir=config.stock_path, manual_roots=config.manual_roots,
                 data_dir=config.data_dir, videos_dir=config.videos_dir, script=config.script_backend,
                 images=config.images_backend, narration=config.narration_backend, keep_warm=config.keep_warm)


def _flag(f: Any) -> str:
    """--data-dir for data_dir; repeatable fields take the singular (--cors-origin)."""
    name = f.name.removesuffix("s") if f.metadata.get("repeat") else f.name
    return "--" + name.replace("_", "-")


def _convert(kind: Any, raw: str) -> Any:
    text = str(kind)
    if "bool" in text:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if "int" in text:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
    if "Path" in text:
        return Path(raw).expanduser()
    return raw


def _item_kind(f: Any) -> str:
    return "Path" if "Path" in str(f.type) else "str"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m server",
        description="StoryReel backend. Every flag can also be set by an environment variable "
        f"{ENV_PREFIX}<FLAG_NAME> (repeatable flags: comma-separated).",
    )
    for f in fields(Config):
        choices = f.metadata.get("choices")
        allowed = f": {' | '.join(choices)}" if choices else ""
        help_text = f"{f.metadata.get('help', '')}{allowed} (env {ENV_PREFIX}{f.name.upper()})"
        if f.metadata.get("repeat"):
            p.add_argument(_flag(f), dest=f.name, action="append", help=help_text)
        elif f.type in ("bool",) or str(f.type) == "bool":
            p.add_argument(
                _flag(f), dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif "bare" in f.metadata:
            p.add_argument(_flag(f), dest=f.name, nargs="?", const=f.metadata["bare"], default=None,
                           help=help_text)
            p.add_argument(_flag(f).replace("--", "--no-", 1), dest=f.name, action="store_const",
                           const=f.metadata["negated"], help=argparse.SUPPRESS)
        else:
            p.add_argument(_flag(f), dest=f.name, default=None, help=help_text)
    p.add_argument("--doctor", action="store_true",
                   help="check this machine (backends, GPU, llama.cpp, ffmpeg, disk), print a table and "
                   "exit: "
                   "0 when the configured backends can run, 1 otherwise")
    p.add_argument("--json", action="store_true", help="with --doctor: print the report as JSON")
    return p


@dataclass(frozen=True)
class Command:
    """What ``python -m server`` was asked to do: serve with ``config``, or run the doctor."""

    config: Config
    doctor: bool = False
    json: bool = False


def command_from(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Command:
    """The Config (defaults, then environment variables, then flags) and the action flags."""
    env = os.environ if env is None else env
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    if args["json"] and not args["doctor"]:
        parser.error("--json goes with --doctor (python -m server --doctor --json)")
    try:
        return Command(_merge(args, env), doctor=bool(args["doctor"]), json=bool(args["json"]))
    except ValueError as exc:
        parser.error(str(exc))  # exits with usage, naming the bad value
        raise  # unreachable; keeps type checkers content


def config_from(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Defaults, then environment variables, then command-line flags."""
    return command_from(argv, env).config


def _merge(args: Mapping[str, Any], env: Mapping[str, str]) -> Config:
    values: dict[str, Any] = {}
    for f in fields(Config):
        raw_env = env.get(ENV_PREFIX + f.name.upper())
        if f.metadata.get("repeat"):
            items = args[f.name] or ([s for s in raw_env.split(",") if s.strip()] if raw_env else None)
            if items:
                values[f.name] = tuple(_convert(_item_kind(f), s.strip()) for s in items)
        else:
            raw = args[f.name]
            if raw is None and raw_env is not None:
                raw = raw_env
            if raw is not None:
                values[f.name] = raw if isinstance(raw, bool) else _convert(f.type, str(raw))
            if "normalise" in f.metadata and f.name in values:
                values[f.name] = f.metadata["normalise"](values[f.name])
            choices = f.metadata.get("choices")
            if choices and f.name in values and values[f.name] not in choices:
                raise ValueError(f"{_flag(f)} (or {ENV_PREFIX}{f.name.upper()}) must be one of "
                                 f"{', '.join(choices)}; got {values[f.name]!r}")
    return replace(Config(), **values)
