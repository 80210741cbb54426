"""ModelLane: one large model resident at a time, keep-warm when the device has room."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from engine.errors import ModelFailed
from engine.models import DeviceInfo, ModelLane

GIB = 1 << 30


class FakeModel:
    def __init__(self, name: str, events: list[str]) -> None:
        self.name, self.events = name, events

    def close(self) -> None:
        self.events.append(f"close {self.name}")


class FakeCard:
    """A device whose free memory goes down with every resident model."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used: dict[str, int] = {}

    def info(self) -> DeviceInfo:
        return DeviceInfo("cuda", "fake card", self.total, self.total - sum(self.used.values()))


def _loader(name: str, events: list[str], card: FakeCard | None = None, size: int = 0) -> Any:
    def load() -> FakeModel:
        events.append(f"load {name}")
        if card is not None:
            card.used[name] = size
        return FakeModel(name, events)
    return load


def test_the_previous_model_is_released_before_the_next_loads() -> None:
    events: list[str] = []
    cache_clears: list[int] = []
    lane = ModelLane(empty_cache=lambda: cache_clears.append(1))
    llm = lane.acquire("llm", _loader("llm", events), size_hint=5 * GIB)
    assert isinstance(llm, FakeModel) and lane.resident == ("llm",)
    assert lane.acquire("llm", _loader("llm", events)) is llm  # resident: no second load
    del llm
    lane.acquire("sdxl", _loader("sdxl", events), size_hint=8 * GIB)
    lane.acquire("voice", _loader("voice", events), size_hint=GIB)
    assert events == ["load llm", "close llm", "load sdxl", "close sdxl", "load voice"]
    assert lane.resident == ("voice",) and len(cache_clears) == 2
    assert lane.status() == {"keep_warm": False, "resident": [{"name": "voice", "size_hint": GIB}]}
    assert lane.release("voice") and not lane.release("voice")
    assert events[-1] == "close voice" and lane.resident == ()


def test_keep_warm_keeps_models_while_the_card_has_room() -> None:
    events: list[str] = []
    card = FakeCard(24 * GIB)

    def free_on_close(model: FakeModel) -> None:
        events.append(f"close {model.name}")
        card.used.pop(model.name)

    lane = ModelLane(keep_warm=True, device=card.info, headroom_bytes=GIB, empty_cache=lambda: None)
    lane.acquire("llm", _loader("llm", events, card, 6 * GIB), size_hint=6 * GIB, unload=free_on_close)
    lane.acquire("sdxl", _loader("sdxl", events, card, 9 * GIB), size_hint=9 * GIB, unload=free_on_close)
    assert lane.resident == ("llm", "sdxl") and "close llm" not in events  # 24 - 6 - 1 >= 9
    lane.acquire("llm", _loader("llm", events, card, 6 * GIB), size_hint=6 * GIB)  # warm hit, now most recent
    lane.acquire("xtts", _loader("xtts", events, card, 8 * GIB), size_hint=8 * GIB, unload=free_on_close)
    # 24 - 15 - 1 = 8 >= 8: still fits
    assert lane.resident == ("sdxl", "llm", "xtts")
    lane.acquire("big", _loader("big", events, card, 12 * GIB), size_hint=12 * GIB, unload=free_on_close)
    # least recently used go first (sdxl, then llm) until 12 GiB + headroom is free
    assert events[-3:] == ["close sdxl", "close llm", "load big"]
    assert lane.resident == ("xtts", "big")
    lane.release_all()
    assert lane.resident == () and card.used == {}


def test_a_failed_load_leaves_nothing_resident() -> None:
    events: list[str] = []
    lane = ModelLane(empty_cache=lambda: None)
    lane.acquire("llm", _loader("llm", events))

    class OutOfMemoryError(RuntimeError):  # the name torch.cuda uses
        pass

    def oom() -> Any:
        raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(ModelFailed, match=r"out of GPU memory loading sdxl.*--profile lite"):
        lane.acquire("sdxl", oom, size_hint=8 * GIB)
    assert events == ["load llm", "close llm"] and lane.resident == ()

    def broken() -> Any:
        raise ValueError("bad file")

    with pytest.raises(ValueError):
        lane.acquire("x", broken)


def test_a_model_still_referenced_elsewhere_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    events: list[str] = []
    lane = ModelLane(empty_cache=lambda: None)
    kept = lane.acquire("llm", _loader("llm", events))
    with caplog.at_level(logging.INFO, logger="engine.models.lane"):
        lane.release("llm")
    assert "still referenced elsewhere" in caplog.text
    del kept
    caplog.clear()
    lane.acquire("sdxl", _loader("sdxl", events))
    with caplog.at_level(logging.INFO, logger="engine.models.lane"):
        lane.release("sdxl")
    assert "still referenced" not in caplog.text and "released sdxl" in caplog.text


def test_a_close_that_raises_does_not_stop_the_next_load(caplog: pytest.LogCaptureFixture) -> None:
    class Stubborn:
        def close(self) -> None:
            raise RuntimeError("driver said no")

    lane = ModelLane(empty_cache=lambda: None)
    lane.acquire("a", Stubborn)
    assert lane.acquire("b", lambda: "model b") == "model b"
    assert lane.resident == ("b",) and "driver said no" in caplog.text
