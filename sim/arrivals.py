"""Arrival processes: when the runs of a task start (fixed interval, Poisson or scripted times).

Each function yields absolute simulated times in increasing order and stops at ``until``.
Randomness comes from the ``random.Random`` the caller passes, so each arrival stream can
own an independent generator derived from the run's seed (the same task then arrives at the
same times under every profile, which is what makes profile comparisons line up).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from engine.model import Arrival, FixedArrival, PoissonArrival, ScriptedArrival


def arrival_times(arrival: Arrival, rng: random.Random, until: float) -> Iterator[float]:
    """Absolute arrival times of a task, in order, strictly before ``until``.

    Args:
        arrival: The task's arrival process from the scenario.
        rng: The generator of this stream (only Poisson arrivals draw from it).
        until: The end of the run; no arrival at or after it is produced.
    """
    # The kind's own generator is returned, not delegated to: one generator resumed per
    # arrival, not two.
    if isinstance(arrival, FixedArrival):
        return _fixed(arrival.start, arrival.interval, arrival.count, until)
    if isinstance(arrival, PoissonArrival):
        return poisson_times(arrival.rate / arrival.per, rng, until,
                             start=arrival.start, count=arrival.count)
    if isinstance(arrival, ScriptedArrival):
        return (t for t in sorted(arrival.at) if t < until)
    raise TypeError(f"unknown arrival {arrival!r}")  # pragma: no cover - three kinds only


def _fixed(start: float, interval: float, count: int | None, until: float) -> Iterator[float]:
    # The model's fields read once: each read of a pydantic field costs ~20x a local's.
    n = 0
    while count is None or n < count:
        # Multiplying instead of accumulating keeps long runs free of float drift.
        t = start + n * interval
        if t >= until:
            return
        yield t
        n += 1


def poisson_times(rate: float, rng: random.Random, until: float, *, start: float = 0.0,
                  count: int | None = None) -> Iterator[float]:
    """Times of a Poisson process of ``rate`` arrivals per second, from ``start``.

    Args:
        rate: Mean arrivals per simulated second (> 0).
        rng: The stream's generator; inter-arrival gaps are ``rng.expovariate(rate)``.
        until: Stop before this time.
        start: The process starts here (the first arrival is one gap later).
        count: Stop after this many arrivals (None: no limit).
    """
    t = start
    n = 0
    expovariate = rng.expovariate
    while count is None or n < count:
        t += expovariate(rate)
        if t >= until:
            return
        yield t
        n += 1
