from __future__ import annotations

import itertools
import random
import statistics

from engine.model import FixedArrival, PoissonArrival, ScriptedArrival
from sim.arrivals import arrival_times, poisson_times


def test_fixed_arrivals_start_at_start_and_repeat_every_interval() -> None:
    arrival = FixedArrival(kind="fixed", interval=600.0, start=60.0)
    assert list(arrival_times(arrival, random.Random(0), 2000.0)) == [60.0, 660.0, 1260.0,
                                                                      1860.0]


def test_fixed_arrivals_stop_after_count() -> None:
    arrival = FixedArrival(kind="fixed", interval=10.0, count=3)
    assert list(arrival_times(arrival, random.Random(0), 1e6)) == [0.0, 10.0, 20.0]


def test_scripted_arrivals_are_sorted_and_end_before_until() -> None:
    arrival = ScriptedArrival(kind="scripted", at=(300.0, 100.0, 5000.0))
    assert list(arrival_times(arrival, random.Random(0), 1000.0)) == [100.0, 300.0]


def test_poisson_arrivals_have_the_configured_rate() -> None:
    arrival = PoissonArrival(kind="poisson", rate=30.0, per=3600.0)
    times = list(arrival_times(arrival, random.Random(5), 3600.0 * 400))
    assert abs(len(times) / 400 - 30.0) / 30.0 < 0.03
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert abs(statistics.fmean(gaps) - 120.0) / 120.0 < 0.03
    assert times == sorted(times)


def test_poisson_arrivals_are_determined_by_the_generator() -> None:
    first = list(poisson_times(0.1, random.Random(42), 1000.0))
    again = list(poisson_times(0.1, random.Random(42), 1000.0))
    other = list(poisson_times(0.1, random.Random(43), 1000.0))
    assert first == again
    assert first != other
