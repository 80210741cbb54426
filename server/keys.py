"""Every piece of typed application state. The keys are set in create_app (before the app is
frozen); the long-lived services inside Services are filled in by the startup cleanup context."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from server.workerproto import BackendSummary
from server.config import Config
from server.jobs import JobStore
from server.retention import Retention
from server.runner import JobRunner
from server.storyboards import StoryboardStore


@dataclass
class Services:
    """Created empty with the app; filled once at startup, emptied at cleanup."""

    _store: JobStore | None = field(default=None, repr=False)
    _runner: JobRunner | None = field(default=None, repr=False)
    _backends: BackendSummary | None = field(default=None, repr=False)
    _storyboards: StoryboardStore | None = field(default=None, repr=False)

    def start(self, store: JobStore, runner: JobRunner, backends: BackendSummary,
              storyboards: StoryboardStore) -> None:
        self._store, self._runner, self._backends = store, runner, backends
        self._storyboards = storyboards

    def stop(self) -> None:
        self._store = self._runner = self._backends = self._storyboards = None

    @property
    def storyboards(self) -> StoryboardStore:
        if self._storyboards is None:
            raise RuntimeError("the app has not started")
        return self._storyboards

    @property
    def store(self) -> JobStore:
        if self._store is None:
            raise RuntimeError("the app has not started")
        return self._store

    @property
    def runner(self) -> JobRunner:
        if self._runner is None:
            raise RuntimeError("the app has not started")
        return self._runner

    @property
    def backends(self) -> BackendSummary:
        if self._backends is None:
            raise RuntimeError("the app has not started")
        return self._backends


config_key = web.AppKey("config", Config)
services_key = web.AppKey("services", Services)
retention_key = web.AppKey("retention", Retention)
