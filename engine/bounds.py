"""The limits that keep every run finite and small, shared by validation and the run budget.

Validation (``agentrange validate``, loading a scenario) refuses a scenario whose expected
run would cross them; the simulator stops a run cleanly when it does cross one anyway. The
defaults sit far above any built-in scenario (the largest emits under 8,000 events) and can be
raised per run from the command line.
"""

from __future__ import annotations

DEFAULT_MAX_EVENTS = 5_000_000
"""Events one run may emit before it is stopped (and the most a scenario may expect)."""

DEFAULT_MAX_MEMORY_MB = 400
"""Resident memory, in MiB, a run may add to its process before it is stopped (its growth
from the process's size when the run was made, see :mod:`sim.budget`): with the interpreter
and a loaded scenario (about 55 MB) a command-line run stays below the 500 MB that issue 23
allows any input to cost, and no built-in run grows by more than 15 MB."""

# --- what validation refuses before a run starts (engine.bounds_check; docs: README
# "Validation bounds"). Each sits about a hundredfold beyond the busiest built-in.

MIN_ARRIVAL_INTERVAL = 1.0
"""Seconds: the shortest fixed arrival interval and incident repeat interval (built-ins: 100 s
and 10 min at their shortest)."""

MAX_ARRIVAL_RATE = 1.0
"""Arrivals per second of one task's Poisson process (built-ins: 36 per hour at most)."""

MAX_DURATION = 365 * 86400.0
"""Seconds of simulated time in one scenario (built-ins: 24 h at most)."""

MAX_CYCLE_DEPTH = 32
"""The deepest delegation limit (``delegation.max_depth``) that counts as ending a delegation
cycle: each arrival into the cycle nests that many runs before the limit denies one
(built-ins: 1 or 2)."""
