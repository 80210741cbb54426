"""Environment that keeps every model library offline. Must run before they are imported."""
from __future__ import annotations

import logging
import os
import sys
from types import MappingProxyType
from typing import Mapping

log = logging.getLogger(__name__)

#: Set (only where unset) before huggingface_hub / transformers / diffusers / TTS are imported:
#: they read these once, at import time.
OFFLINE_ENV: Mapping[str, str] = MappingProxyType({
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DIFFUSERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DO_NOT_TRACK": "1",
    "COQUI_TOS_AGREED": "1",
    "TOKENIZERS_PARALLELISM": "false",
})

_LIBRARIES = ("huggingface_hub", "transformers", "diffusers", "TTS", "datasets")


def set_offline_env() -> None:
    """``os.environ.setdefault`` for every entry of OFFLINE_ENV; idempotent. Logs a warning when a
    model library was imported first (it may have read the old values already)."""
    unset = [k for k in OFFLINE_ENV if k not in os.environ]
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    early = [m for m in _LIBRARIES if m in sys.modules]
    if unset and early:
        log.warning("offline environment set after %s was imported; set it earlier (engine.models."
                    "set_offline_env() before any model library import)", ", ".join(early))
