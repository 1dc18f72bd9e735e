"""A response's score: a fold over a run's events, the same for the debrief and for drills.

A score holds what a rehearsal is judged on: time to detect, time to contain, records exposed,
benign steps denied, and the live actions the responder took with their simulated times.
:class:`ScoreFold` reads nothing but events (fed live, or read back from an events file);
:func:`unanswered` plays the same run again with the same live injections and no response,
the baseline a response is measured against (see docs/drills.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from sim.collectors.metrics import MetricsCollector
from sim.events import Event, EventKind

LIVE_INCIDENT_PREFIX = "live-"
"""Incidents injected live get ids ``live-1``, ``live-2``... (see ``Simulation.inject``)."""


class Action(NamedTuple):
    """A live response the responder took: when, what, on what, and whether it applied."""

    time: float
    kind: str
    target: str
    applied: bool


class Injection(NamedTuple):
    """An incident injected live: when, which kind, into which agent."""

    time: float
    kind: str
    agent: str


@dataclass(frozen=True)
class Score:
    """What a run is scored on (times in simulated seconds; None: it never happened).

    Attributes:
        scenario: The scenario's name.
        profile: The profile played.
        seed: The seed played.
        time_to_detect: Longest time from an incident's start to its first alert.
        time_to_contain: Longest time from an incident's start to its containment.
        records_exposed: Records the compromises actually touched.
        benign_denied: Benign (approved-plan) steps the policy denied.
        actions: The live responses taken, in order.
        injections: The incidents injected live, in order.
    """

    scenario: str
    profile: str
    seed: int
    time_to_detect: float | None
    time_to_contain: float | None
    records_exposed: int
    benign_denied: int
    actions: tuple[Action, ...] = field(default=())
    injections: tuple[Injection, ...] = field(default=())

    @classmethod
    def of(cls, result: Mapping[str, Any], actions: Iterable[Action] = (),
           injections: Iterable[Injection] = ()) -> Score:
        """A score from a run's figures (``RunResult.to_dict()`` shape) and its live actions."""
        return cls(scenario=str(result.get("scenario", "")),
                   profile=str(result.get("profile", "")),
                   seed=int(result.get("seed", 0)),
                   time_to_detect=result.get("time_to_detect"),
                   time_to_contain=result.get("time_to_contain"),
                   records_exposed=int((result.get("blast_radius") or {}).get("records") or 0),
                   benign_denied=int((result.get("delivery") or {}).get("benign_denied") or 0),
                   actions=tuple(actions), injections=tuple(injections))

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form with a stable key order."""
        return {
            "scenario": self.scenario, "profile": self.profile, "seed": self.seed,
            "time_to_detect": self.time_to_detect, "time_to_contain": self.time_to_contain,
            "records_exposed": self.records_exposed, "benign_denied": self.benign_denied,
            "actions": [a._asdict() for a in self.actions],
            "injections": [i._asdict() for i in self.injections],
        }


class ActionFold:
    """Folds the live actions and live injections out of a run's events."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.injections: list[Injection] = []

    def __call__(self, event: Event) -> None:
        """Fold one event (decisions are skipped at once: most events are decisions)."""
        kind = event.kind
        if kind is EventKind.DECISION:
            return
        data = event.data
        if kind is EventKind.RESPONSE and data.get("trigger") == "live":
            self.actions.append(Action(event.time, str(data["kind"]), str(data["target"]),
                                       bool(data.get("applied"))))
        elif kind is EventKind.INCIDENT and str(data.get("id", "")).startswith(
                LIVE_INCIDENT_PREFIX) and event.agent is not None:
            self.injections.append(Injection(event.time, str(data["kind"]), event.agent))


class ScoreFold:
    """Folds a run's events into its :class:`Score` (the run's figures plus its actions)."""

    def __init__(self) -> None:
        self.metrics = MetricsCollector(record_decisions=False)
        self.live = ActionFold()

    def __call__(self, event: Event) -> None:
        """Fold one event."""
        self.metrics(event)
        self.live(event)

    def score(self, now: float | None = None) -> Score:
        """The score so far (final once the run has ended)."""
        return Score.of(self.metrics.result(now).data, self.live.actions,
                        self.live.injections)


def score_events(events: Iterable[Event]) -> Score:
    """The score of a run's events."""
    fold = ScoreFold()
    for event in events:
        fold(event)
    return fold.score()


class Replayable(Protocol):
    """What :func:`unanswered` needs of a simulation."""

    def step_until(self, t: float) -> Any:
        """Advance to simulated time ``t``."""
        ...

    def inject(self, kind: str, agent: str) -> str:
        """Inject an incident now."""
        ...


def unanswered(sim: Replayable, end: float, injections: Iterable[Injection] = ()) -> None:
    """Play ``sim`` to ``end`` with the same live injections at their times and no response.

    Fed to a fresh simulation of the played scenario, profile and seed, this is the run the
    responder's actions are measured against: the same incident, nobody answering it.

    Args:
        sim: A fresh simulation (its sink receives the events).
        end: The run's end (simulated seconds).
        injections: The played run's live injections.
    """
    for injection in sorted(injections):
        sim.step_until(injection.time)
        sim.inject(injection.kind, injection.agent)
    sim.step_until(end)
