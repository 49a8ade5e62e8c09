"""The garbage collector's young threshold for the length of one run.

A run is many small objects made and dropped per probe (requests, replies, records) beside a few
large long-lived ones (the data set, the libraries, the systems). CPython collects the young
generation every 700 new objects; the requests in flight outlive it, so they are promoted and make the
older collections come often, each walking the long-lived objects again. Measured on a HaluMem run of
5,760 LLM calls at 64 connections (issue 17, BENCHMARKS.md): with the default threshold, 1,640 young,
148 middle and 12 full collections took 1.15 s of the process, and the calls kept the endpoint 0.91
busy; with a young threshold of 50,000 during the run, a handful of collections ran in it and the
calls reached 0.94, as with the collector off. Cyclic garbage then waits for at most 50,000 new objects (a few
MB). Freezing the loaded objects (``gc.freeze``) measured the same on top of this, and would have to
be undone with ``gc.unfreeze``, which would also thaw whatever the caller had frozen: not done.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: new objects between young collections during a run (CPython's default is 700).
YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
#: runs in progress in this process (``api.run`` in several threads), and the setting before the first.
_runs = 0
_before: tuple[int, int, int] = (0, 0, 0)


@contextmanager
def run_collector() -> Iterator[None]:
    """Young collections at most every ``YOUNG_THRESHOLD`` objects while any run is in progress; the
    caller's setting once the last one ends. A caller that collects less often already, or not at all
    (threshold 0), keeps its setting."""
    global _runs, _before
    with _lock:
        if _runs == 0:
            _before = gc.get_threshold()
            young, *older = _before
            if 0 < young < YOUNG_THRESHOLD:
                gc.set_threshold(YOUNG_THRESHOLD, *older)
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.set_threshold(*_before)
