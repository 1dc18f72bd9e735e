"""The cyclic collector while a simulation runs: fewer young passes, on the main thread only."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_GC_THRESHOLD = 100_000
"""Container allocations between young-generation collections during
:meth:`sim.runner.Simulation.run`."""


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """On the main thread, raise the collector's young-generation threshold for a block.

    A tool call allocates a few dozen short-lived containers (namespaces, the request, the
    event) that reference counting frees, and the simulator makes no reference cycles on its
    hot path; with the default threshold (700) a long run spends microseconds per tool call
    in collector passes that free nothing. Garbage cycles made elsewhere (a sink) are still
    collected, a little later. The setting is process-wide, so only the main thread changes
    it (a headless run): a run in a worker thread (the dashboard's) leaves it alone, and no
    two threads can restore each other's values out of order. Nested uses restore the outer
    setting.
    """
    before = gc.get_threshold()
    if threading.current_thread() is not threading.main_thread() or not before[0] \
            or before[0] >= YOUNG_GC_THRESHOLD:
        yield
        return
    gc.set_threshold(YOUNG_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
