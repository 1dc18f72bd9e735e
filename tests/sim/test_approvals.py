from __future__ import annotations

import random
import statistics

import simpy

from engine.model import Approvers, Fatigue
from sim.approvals import ApprovalResult, ApproverPool, miss_rate


def _queue(n: int, lam: float, config: Approvers, seed: int,
           malicious: bool = False) -> list[ApprovalResult]:
    """Poisson arrivals of rate lam into an approver pool; every result, in arrival order."""
    env = simpy.Environment()
    pool = ApproverPool(env, config, random.Random(seed))
    results: list[ApprovalResult] = []

    def arrivals() -> object:
        rng = random.Random(seed + 1)
        for _ in range(n):
            yield env.timeout(rng.expovariate(lam))
            pool.submit(malicious).callbacks.append(lambda e: results.append(e.value))

    env.process(arrivals())
    env.run()
    assert pool.waiting == 0 and pool.free == config.count
    return results


def test_mm1_queue_reproduces_the_theoretical_mean_waits() -> None:
    # M/M/1 with lambda = 0.5/s and mu = 1/s: W = 1/(mu - lambda) = 2 s in the system,
    # Wq = rho/(mu - lambda) = 1 s in the queue.
    lam, mu = 0.5, 1.0
    results = _queue(100_000, lam, Approvers(count=1, service_time=1 / mu, expiry=1e9), 11)
    w = statistics.fmean(r.waited for r in results)
    wq = statistics.fmean(r.queued for r in results)
    assert abs(w - 1 / (mu - lam)) / (1 / (mu - lam)) < 0.05, w
    assert abs(wq - (lam / mu) / (mu - lam)) / ((lam / mu) / (mu - lam)) < 0.05, wq
    assert all(r.approved and not r.expired for r in results)


def test_requests_not_picked_up_before_expiry_expire_at_their_deadline() -> None:
    env = simpy.Environment()
    pool = ApproverPool(env, Approvers(count=1, service_time=100.0, expiry=30.0),
                        random.Random(0), service="fixed")
    first, second = pool.submit(False), pool.submit(False)
    env.run()
    assert first.value.expired and first.value.waited == 30.0  # reviewed past its deadline
    assert second.value.expired and second.value.waited == 30.0 and second.value.queue == 1
    assert not second.value.approved


def test_a_free_approver_reviews_at_once_for_the_service_time() -> None:
    env = simpy.Environment()
    pool = ApproverPool(env, Approvers(count=2, service_time=60.0, expiry=600.0),
                        random.Random(0), service="fixed")
    a, b, c = pool.submit(False), pool.submit(False), pool.submit(False)
    env.run()
    assert (a.value.waited, b.value.waited, c.value.waited) == (60.0, 60.0, 120.0)
    assert c.value.queued == 60.0


def test_miss_rate_grows_with_the_queue_up_to_its_cap() -> None:
    fatigue = Fatigue(base_miss_rate=0.02, per_queued=0.1, max_miss_rate=0.5)
    assert miss_rate(fatigue, 0) == 0.02
    assert abs(miss_rate(fatigue, 3) - 0.32) < 1e-12
    assert miss_rate(fatigue, 30) == 0.5


def test_busy_approvers_let_more_malicious_requests_through() -> None:
    fatigue = Fatigue(base_miss_rate=0.02, per_queued=0.05, max_miss_rate=0.9)
    calm = _queue(4000, 0.2, Approvers(service_time=1.0, expiry=1e9, fatigue=fatigue), 3,
                  malicious=True)
    busy = _queue(4000, 0.95, Approvers(service_time=1.0, expiry=1e9, fatigue=fatigue), 3,
                  malicious=True)
    calm_rate = sum(r.approved for r in calm) / len(calm)
    busy_rate = sum(r.approved for r in busy) / len(busy)
    assert calm_rate < 0.06
    assert busy_rate > 3 * calm_rate
    assert all(r.fatigue_miss == r.approved for r in busy)
