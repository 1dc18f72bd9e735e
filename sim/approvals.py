"""Human approvers as a simpy resource: a queue, service times, approval expiry and fatigue.

A request that needs approval joins the approvers' queue. When an approver picks it up it
takes a review time (exponential with the scenario's mean ``service_time`` by default, so a
single approver with Poisson arrivals is an M/M/1 queue). A request not decided within
``expiry`` of joining expires: if it is still queued it leaves the queue; if it is under
review the approver stops at the deadline. Benign requests are approved. A malicious one is
approved by mistake with a probability that grows with the queue the approver sees when
starting the review (approval fatigue, OWASP ASI09 / MAS threat T10):
``min(max_miss_rate, base_miss_rate + per_queued * waiting)``.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any, Literal, NamedTuple

import simpy

from engine.model import Approvers, Fatigue


class ApprovalResult(NamedTuple):
    """How one approval request ended."""

    approved: bool
    expired: bool
    waited: float
    """Seconds from joining the queue to the resolution (queue plus review)."""
    queued: float
    """Seconds spent waiting for an approver to pick the request up."""
    queue: int
    """Requests waiting (this one included) right after it joined."""
    fatigue_miss: bool
    """A malicious request approved by mistake."""


def miss_rate(fatigue: Fatigue, waiting: int) -> float:
    """The chance of approving a malicious request with ``waiting`` requests in the queue."""
    return min(fatigue.max_miss_rate, fatigue.base_miss_rate + fatigue.per_queued * waiting)


class ApproverPool:
    """A pool of human approvers shared by every agent of a run.

    Args:
        env: The simulation environment.
        config: Approver count, mean service time, expiry and fatigue from the scenario.
        rng: This pool's own generator (review times and fatigue misses draw from it).
        service: ``exponential`` review times with mean ``service_time`` (default), or
            ``fixed`` review times of exactly ``service_time``.
    """

    def __init__(self, env: simpy.Environment, config: Approvers, rng: random.Random, *,
                 service: Literal["exponential", "fixed"] = "exponential") -> None:
        self.env = env
        self.config = config
        self.rng = rng
        self.service = service
        self.resource = simpy.Resource(env, capacity=config.count)
        self.requested = 0
        self.resolved = 0

    @property
    def waiting(self) -> int:
        """Requests queued and not yet picked up."""
        return len(self.resource.queue)

    def _review_time(self) -> float:
        mean = self.config.service_time
        if self.service == "fixed":
            return mean
        return self.rng.expovariate(1.0 / mean)

    def review(self, malicious: bool) -> Generator[simpy.Event, Any, ApprovalResult]:
        """A simpy process body: queue, get reviewed, return the result.

        Args:
            malicious: The request belongs to an attacker's goal (an incident).
        """
        env = self.env
        start = env.now
        expiry = self.config.expiry
        deadline = start + expiry
        self.requested += 1
        req = self.resource.request()
        queue = len(self.resource.queue)
        if not req.triggered:
            yield req | env.timeout(expiry)
            if not req.triggered:
                req.cancel()
                self.resolved += 1
                return ApprovalResult(False, True, env.now - start, env.now - start, queue,
                                      False)
        picked = env.now
        # Load as the approver sees it when starting the review: who is still waiting.
        seen = len(self.resource.queue)
        review = self._review_time()
        try:
            if picked + review > deadline:
                yield env.timeout(deadline - picked)
                self.resolved += 1
                return ApprovalResult(False, True, env.now - start, picked - start, queue,
                                      False)
            yield env.timeout(review)
        finally:
            self.resource.release(req)
        approved = True
        miss = False
        if malicious:
            miss = self.rng.random() < miss_rate(self.config.fatigue, seen)
            approved = miss
        self.resolved += 1
        return ApprovalResult(approved, False, env.now - start, picked - start, queue, miss)
