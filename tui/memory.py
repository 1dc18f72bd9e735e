"""Memory policy of the dashboard process: who runs the cyclic collector's full passes, and when.

The simulator runs in a worker thread and shares the interpreter lock with the UI, so a full
(oldest-generation) pass of the cyclic garbage collector stops the screen for as long as it
walks the heap, whichever thread starts it: 30-80 ms on a 2-core machine with a live run's heap
(the simulator's token-verification cache, the panels' buffers and render caches: about 55,000
objects). Left to the collector, a full pass starts inside whatever allocation crosses its
threshold, in the worker mid-step or in the UI thread mid-paint, and a pass on top of a paint
made the dashboard's longest stalls (over 100 ms). So while the app runs it owns full passes
(:class:`FullPasses`): it raises the oldest generation's threshold out of reach (young passes
stay automatic and short) and runs a full collection itself, on the UI thread, when the
collector's own rule says one is due and the event loop has just been idle. Start-up objects
and a new run's simulation are frozen out of full passes once built (:func:`settle_memory`,
which a run's screen calls itself). A run's later growth is not frozen: Textual's rendered
strips reference themselves from their caches, so freezing the heap as it grows keeps every
repainted line alive (measured: over a thousand objects a second, even at normal speed). When
the app ends it restores the thresholds it found and unfreezes what it froze.
"""

from __future__ import annotations

import gc
import time

FULL_PASSES_OFF = 1_000_000
"""Oldest-generation threshold while the app runs: the collector never starts a full pass."""

COLLECT_CHECK = 0.1
"""Wall seconds between the app's checks for a due full collection."""

IDLE_SLACK = 0.02
"""A check this late ran behind other work (a tick, a paint): the full pass waits."""

OVERDUE = 4
"""A full pass overdue by this many thresholds runs even if the event loop was busy."""


def settle_memory() -> None:
    """Collect everything once, then keep what is alive out of the collector's full passes.

    Modules, styles, the scenario and a new run's simulation live as long as the screen or
    the app; a full collection walks all of them and stalls a frame for tens of milliseconds
    each time. Called when a run's screen has built its simulations, and at start-up when the
    first screen is not a run's. Frozen objects are unfrozen first, so what earlier runs left
    is reclaimed here: Textual keeps a replaced run's screen reachable until the next run's
    worker has started, so each run is frozen once more with the next one and reclaimed
    after.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class FullPasses:
    """The app's hold on full collections while it runs (see the module docstring)."""

    def __init__(self) -> None:
        self.found = gc.get_threshold()
        """The collector's thresholds when the app took hold (restored on release)."""
        self._last_check = 0.0

    def take(self) -> None:
        """Raise the oldest generation's threshold out of reach; the app collects instead."""
        self.found = gc.get_threshold()
        self._last_check = time.monotonic()
        gc.set_threshold(*self.found[:2], FULL_PASSES_OFF)

    def collect_if_due(self) -> bool:
        """Run a full collection if one is due and the UI thread is free (every COLLECT_CHECK s).

        Due is the collector's own rule: more young-generation passes since the last full one
        than the oldest generation's threshold the app found. Free is a check that ran on
        time, so nothing long ran just before it on the event loop; a pass long overdue runs
        regardless. Returns whether it ran one.
        """
        now = time.monotonic()
        late = now - self._last_check - COLLECT_CHECK
        self._last_check = now
        due = gc.get_count()[2] - self.found[2]
        if not gc.isenabled() or due <= 0 or (late > IDLE_SLACK and
                                               due <= OVERDUE * max(1, self.found[2])):
            return False
        gc.collect()
        self._last_check = time.monotonic()
        return True

    def release(self) -> None:
        """Leave the collector as it was found, and unfreeze what was frozen."""
        gc.set_threshold(*self.found)
        gc.unfreeze()
