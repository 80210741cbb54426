"""GPU residency: at most one large model on the card at a time, unless there is room to keep
models warm between jobs.

Stages ask the lane for their model instead of loading it themselves::

    llm = lane.acquire("llm:" + m.name, lambda: Llama(model_path=str(m.path), ...),
                       size_hint=vram_estimate(m))

Before the loader runs, the lane releases what is resident (LLM before SDXL, SDXL before the
voice): it calls the model's ``close()`` (or the ``unload`` given to ``acquire``), drops its own
reference, collects garbage and empties torch's CUDA/MPS cache. With ``keep_warm`` it releases
least recently used models only until the device reports enough free memory. A stage must not
keep its own reference to a model past the job, or the memory cannot come back (the lane logs a
warning when a released model is still referenced elsewhere).
"""
from __future__ import annotations

import gc
import logging
import sys
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from engine.errors import ModelFailed
from engine.models.device import DeviceInfo, device_info

log = logging.getLogger(__name__)

T = TypeVar("T")
GIB = 1 << 30


@dataclass(frozen=True)
class _Slot:
    model: Any
    size_hint: int
    unload: Callable[[Any], None] | None


def empty_torch_cache() -> None:
    """Return cached blocks to the driver, if torch was imported (never imports it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available() and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def _close(name: str, model: Any, unload: Callable[[Any], None] | None) -> None:
    """Call ``unload(model)`` or ``model.close()``. A separate frame, so no bound method outlives it."""
    try:
        if unload is not None:
            unload(model)
        else:
            close = getattr(model, "close", None)
            if callable(close):
                close()
    except Exception as exc:  # freeing must not fail the job; the memory check still runs
        log.warning("closing %s raised %s: %s", name, type(exc).__name__, exc)


class ModelLane:
    """Holds the loaded large models of one GPU. Thread-safe; meant for the single GPU worker."""

    def __init__(self, *, keep_warm: bool = False, device: Callable[[], DeviceInfo] = device_info,
                 headroom_bytes: int = GIB, empty_cache: Callable[[], None] = empty_torch_cache) -> None:
        self.keep_warm = keep_warm
        self._device = device
        self._headroom = headroom_bytes
        self._empty_cache = empty_cache
        self._held: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.RLock()
        self._snapshot: tuple[tuple[str, int], ...] = ()

    @property
    def resident(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._snapshot)

    def status(self) -> dict[str, Any]:
        return {"keep_warm": self.keep_warm,
                "resident": [{"name": n, "size_hint": s} for n, s in self._snapshot]}

    def acquire(self, name: str, loader: Callable[[], T], *, size_hint: int = 0,
                unload: Callable[[T], None] | None = None) -> T:
        """The model called ``name``: the resident one, or ``loader()`` after making room."""
        with self._lock:
            slot = self._held.get(name)
            if slot is not None:
                self._held.move_to_end(name)
                self._publish()
                return slot.model  # type: ignore[no-any-return]
            self._make_room(size_hint)
            t0 = time.monotonic()
            try:
                model = loader()
            except Exception as exc:
                if _is_oom(exc):
                    raise ModelFailed(
                        f"out of GPU memory loading {name} (needs about {size_hint / GIB:.1f} GiB): use a "
                        "smaller model (scripts/download_models.py --profile lite) or close other GPU "
                        "programs"
                    ) from exc
                raise
            self._held[name] = _Slot(model, size_hint, unload)
            self._publish()
            log.info("loaded %s in %.1f s (resident: %s)", name, time.monotonic() - t0, ", ".join(self._held))
            return model

    def release(self, name: str) -> bool:
        """Unload ``name`` if it is resident; True when something was released."""
        with self._lock:
            if name not in self._held:
                return False
            # no local name for the slot: _unload must hold the last reference the lane has
            self._unload(name, self._held.pop(name))
            return True

    def release_all(self) -> None:
        with self._lock:
            while self._held:
                self.release(next(iter(self._held)))

    def _make_room(self, size_hint: int) -> None:
        if not self._held:
            return
        if not self.keep_warm:
            self.release_all()
            return
        while self._held:
            dev = self._device()
            if dev.free_bytes - self._headroom >= size_hint:
                return
            oldest = next(iter(self._held))
            log.info("releasing %s: %s has %.1f GiB free, next model needs about %.1f GiB", oldest, dev.kind,
                     dev.free_bytes / GIB, size_hint / GIB)
            self.release(oldest)

    def _unload(self, name: str, slot: _Slot) -> None:
        self._publish()
        model = slot.model
        _close(name, model, slot.unload)
        try:
            ref: Callable[[], Any] | None = weakref.ref(model)
        except TypeError:
            ref = None
        del model, slot
        gc.collect()
        self._empty_cache()
        if ref is not None and ref() is not None:
            log.warning("%s was released but is still referenced elsewhere; its memory stays in use until "
                        "that reference is dropped", name)
        else:
            log.info("released %s", name)

    def _publish(self) -> None:
        self._snapshot = tuple((n, s.size_hint) for n, s in self._held.items())
