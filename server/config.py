"""One frozen Config. CLI flags and environment variables are derived from its fields."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from engine.backends import STAGE_CHOICES

DEFAULT_CORS_ORIGINS: tuple[str, ...] = (
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:3000",
    "http://127.0.0.1:3000",
)
LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
ENV_PREFIX = "STORYREEL_"


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
    keep_warm: bool = field(
        default=False, metadata={"help": "keep models loaded between jobs when memory allows"}
    )
    max_body_bytes: int = field(default=1024 * 1024, metadata={"help": "largest JSON body accepted"})
    max_upload_bytes: int = field(
        default=50 * 1024 * 1024, metadata={"help": "largest image upload accepted"}
    )

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
        else:
            p.add_argument(_flag(f), dest=f.name, default=None, help=help_text)
    return p


def config_from(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Defaults, then environment variables, then command-line flags."""
    env = os.environ if env is None else env
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    try:
        return _merge(args, env)
    except ValueError as exc:
        parser.error(str(exc))  # exits with usage, naming the bad value
        raise  # unreachable; keeps type checkers content


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
            choices = f.metadata.get("choices")
            if choices and f.name in values and values[f.name] not in choices:
                raise ValueError(f"{_flag(f)} (or {ENV_PREFIX}{f.name.upper()}) must be one of "
                                 f"{', '.join(choices)}; got {values[f.name]!r}")
    return replace(Config(), **values)
