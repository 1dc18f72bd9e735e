"""Human approvers as a simpy queue: approver count, service times, approval expiry and fatigue.

A request that needs approval joins the approvers' first-come-first-served queue. When an
approver picks it up it takes a review time (exponential with the scenario's mean
``service_time`` by default, so one approver with Poisson arrivals is an M/M/1 queue). A
request not decided within ``expiry`` of joining expires: if it is still queued it leaves
the queue at its deadline; if it is under review the approver stops at the deadline. Benign
requests are approved. A malicious one is approved by mistake with a probability that grows
with the queue the approver sees when starting the review (approval fatigue, OWASP ASI09 /
MAS threat T10): ``min(max_miss_rate, base_miss_rate + per_queued * waiting)``.

The pool is a few callbacks on simpy timeouts rather than a ``simpy.Resource`` with a
process per request: the same queueing discipline at a fraction of the events, which keeps
long theory checks and busy scenarios fast.
"""

from __future__ import annotations

import random
from collections import deque
from functools import partial
from typing import Literal, NamedTuple

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


class _Ticket:
    __slots__ = ("done", "malicious", "queue", "start", "state")

    def __init__(self, done: simpy.Event, start: float, malicious: bool, queue: int) -> None:
        self.done = done
        self.start = start
        self.malicious = malicious
        self.queue = queue
        self.state = "waiting"


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
        self.free = config.count
        self._queue: deque[_Ticket] = deque()
        self.waiting = 0
        """Requests queued and not yet picked up (expired ones excluded)."""
        self.requested = 0
        self.resolved = 0

    def submit(self, malicious: bool) -> simpy.Event:
        """Ask for approval; the returned event succeeds with an :class:`ApprovalResult`.

        Args:
            malicious: The request serves an attacker's goal (an incident).
        """
        env = self.env
        self.requested += 1
        ticket = _Ticket(env.event(), env.now, malicious, self.waiting + 1)
        if self.free > 0:
            self.free -= 1
            ticket.queue = 0
            self._serve(ticket)
        else:
            self._queue.append(ticket)
            self.waiting += 1
            env.timeout(self.config.expiry).callbacks.append(partial(self._lapse, ticket))
        return ticket.done

    def _review_time(self) -> float:
        mean = self.config.service_time
        if self.service == "fixed":
            return mean
        return self.rng.expovariate(1.0 / mean)

    def _serve(self, ticket: _Ticket) -> None:
        env = self.env
        ticket.state = "review"
        picked = env.now
        # Load as the approver sees it when starting the review: who is still waiting.
        seen = self.waiting
        review = self._review_time()
        deadline = ticket.start + self.config.expiry
        if picked + review > deadline:
            env.timeout(deadline - picked).callbacks.append(
                partial(self._finish, ticket, picked, None))
        else:
            env.timeout(review).callbacks.append(partial(self._finish, ticket, picked, seen))

    def _finish(self, ticket: _Ticket, picked: float, seen: int | None,
                _event: simpy.Event) -> None:
        now = self.env.now
        ticket.state = "done"
        self.resolved += 1
        if seen is None:
            result = ApprovalResult(False, True, now - ticket.start, picked - ticket.start,
                                    ticket.queue, False)
        else:
            approved = True
            miss = False
            if ticket.malicious:
                miss = self.rng.random() < miss_rate(self.config.fatigue, seen)
                approved = miss
            result = ApprovalResult(approved, False, now - ticket.start,
                                    picked - ticket.start, ticket.queue, miss)
        ticket.done.succeed(result)
        self._next()

    def _next(self) -> None:
        queue = self._queue
        while queue:
            ticket = queue.popleft()
            if ticket.state != "waiting":
                continue  # it expired while queued
            self.waiting -= 1
            self._serve(ticket)
            return
        self.free += 1

    def _lapse(self, ticket: _Ticket, _event: simpy.Event) -> None:
        """The deadline of a queued request: it leaves the queue unanswered."""
        if ticket.state != "waiting":
            return
        ticket.state = "expired"
        self.waiting -= 1
        self.resolved += 1
        waited = self.env.now - ticket.start
        ticket.done.succeed(ApprovalResult(False, True, waited, waited, ticket.queue, False))
