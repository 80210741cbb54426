"""How the compositor shares the CPU with the video encoder, which sets the pace.

On a workstation with many cores nothing here matters. On a small machine the encoder alone
keeps nearly every core busy, so every millisecond the compositor spends comes out of the
encoder's time unless it runs in the encoder's idle moments. So frame production and the
soundtrack run on threads of lower priority (Linux per-thread nice): the encoder gets the cores
first and the compositor fills the gaps while staying a few frames ahead of it. The threads are
created for one render and end with it, so the lowered priority never outlives the render; the
encoder process itself is started from a normal-priority thread and keeps normal priority.

A low-priority thread holding the interpreter lock while descheduled stalls every other Python
thread of its process; that is why the server's pipeline renders in a child process (child.py).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from typing import Final, Iterator

log = logging.getLogger(__name__)

#: How much lower than normal the compositor's threads run (nice increment, 0..19). The lowest
#: (19) measured best: frame production and the soundtrack then run almost only when the encoder
#: leaves a core idle, and the encoder pulls them along by waiting on its input when they fall
#: behind (scripts/bench_compose.py, 60 s full render: 1.14x of ffmpeg alone at 19, 1.17x at 10,
#: 1.23x at 0; SCHED_IDLE was no better and can starve outright on a busy machine).
BACKGROUND_NICE: Final = 19


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def yield_to_encoder() -> None:
    """Lower the calling thread's priority by BACKGROUND_NICE. Only for threads that end with
    the render: an unprivileged thread cannot raise its priority back. Linux only (elsewhere
    ``setpriority`` would act on the whole process); a no-op where it is not allowed."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE))
    except (OSError, AttributeError) as e:
        log.debug("could not lower the compositor thread's priority: %s", e)


@contextlib.contextmanager
def single_threaded_cv() -> Iterator[None]:
    """OpenCV on one thread while frames are composed: the encoder already keeps the cores
    busy, and OpenCV's own worker threads would only add hand-off overhead (about a fifth of
    the compositor's CPU time, measured). Restores the previous setting."""
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)
