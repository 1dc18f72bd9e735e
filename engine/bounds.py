"""The limits that keep every run finite and small, shared by validation and the run budget.

Validation (``agentrange validate``, loading a scenario) refuses a scenario whose expected
run would cross them; the simulator stops a run cleanly when it does cross one anyway. The
defaults sit far above any built-in scenario (the largest emits under 8,000 events) and can be
raised per run from the command line.
"""

from __future__ import annotations

DEFAULT_MAX_EVENTS = 5_000_000
"""Events one run may emit before it is stopped (and the most a scenario may expect)."""

DEFAULT_MAX_MEMORY_MB = 1024
"""Resident memory, in MiB, a run may grow to before it is stopped."""
