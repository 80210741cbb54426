"""scripts/download_models.py loaded as a module for the downloader tests (it is a script, not a
package module). Holds no tests itself."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "download_models.py"


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("download_models_under_test", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


dl = _load()
