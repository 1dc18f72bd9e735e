"""What the parts of a simulation share: agents and runs, the run's state, and one way out.

:class:`sim.runner.Simulation` is one object assembled from parts, each a mixin over
:class:`SimulationState`: task runs (:mod:`sim.task_runs`), the decision step
(:mod:`sim.decision_step`), incidents in play (:mod:`sim.incident_play`) and responses
(:mod:`sim.responses`); the driver (:mod:`sim.runner`) builds the state and runs the clock.
This base declares the state they share and the methods one part calls on another, so each
part type-checks alone and no part imports another.

Mixins rather than parts holding a reference to each other: the task loop calls
``self._watch`` and reads ``self.env`` as it did when this was one class (one attribute
lookup, no forwarding), which matters on the hot path, one decision per tool step.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import simpy

from engine.blast import Estate
from engine.model import (
    Agent,
    Credentials,
    DelegateStep,
    Incident,
    Profile,
    Scenario,
    Task,
    ToolStep,
)
from engine.policy import CompiledPolicy, Decision, PolicyEngine, Request
from sim.agenda import Agenda
from sim.approvals import ApproverPool
from sim.detection import AlertSpec, Detector
from sim.events import Event, EventKind, Outcome, Sink
from sim.incidents import IncidentState
from sim.wallet import Credential, Wallet
from sim.world import StepSpec, World

_new_event = tuple.__new__


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One step of a run's plan, resolved.

    Slots rather than a named tuple: the decision step reads three fields per tool call, and
    a named tuple's field is read through a descriptor call (~10x a slot's); plans are made
    once per agent and task, so the frozen constructor's cost is not on the hot path.
    """

    spec: StepSpec | None
    """The tool step, or None for a delegation."""
    delegate: DelegateStep | None
    approved: bool
    """The step is part of the approved plan (plan conformance)."""
    incident: str | None
    """The incident whose goal this step serves (None: the agent's own work)."""


@dataclass(eq=False)
class AgentState:
    """What the simulation knows about one agent while it runs."""

    name: str
    model: Agent
    principal: Mapping[str, Any]
    accountable: bool = False
    """It has a security owner, so its decisions are attributable to someone."""
    quarantined: bool = False
    static: Credential | None = None
    rogue: str | None = None
    poisoned: list[str] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class TaskRun:
    """One run of a task (or an attacker's pass), with its namespaces and credential."""

    id: str
    agent: AgentState
    task: Task
    plan: tuple[PlanItem, ...]
    actors: tuple[str, ...]
    root: str
    session_ns: Mapping[str, Any]
    chain_ns: Mapping[str, Any]
    hops: tuple[Mapping[str, Any], ...] | None
    arrival: float
    top: bool
    incident: str | None = None
    parent: TaskRun | None = None
    cred: Credential | None = None
    own_cred: bool = False
    presenter: str | None = None
    attacker: bool = False
    principal: Mapping[str, Any] | None = None
    task_id: str = ""
    """``task.id``, read once: an attribute of a pydantic model costs ~20x a slot's."""
    intent: str = ""
    """``task.intent``, likewise."""
    wakeup: list[Any] | None = None
    """The callbacks of the run's wakes when simpy's loop resumes it directly (a top-level
    run, see :mod:`sim.wakes`); None for a run under a Process."""


class SimulationState(ABC):
    """The state every part of a simulation reads, and what one part asks of another.

    The attributes are set by :class:`sim.runner.Simulation`'s constructor; state that only
    one part keeps is declared in that part. The abstract methods are provided by the part
    named in each docstring.
    """

    scenario: Scenario
    profile: Profile
    seed: int
    end: float
    """The simulated time the run stops at."""
    policy: CompiledPolicy
    engine: PolicyEngine
    env: Agenda
    world: World
    creds: Credentials
    """The profile's credential settings."""
    jit: bool
    """Tokens are minted per task (else one static token per agent or shared group)."""
    renewing: bool
    """Tokens are renewed ahead of their expiry (the profile sets ``renew_before``); read
    once: a pydantic field read costs ~20x a plain attribute's, and runs ask at each start."""
    estate: Estate
    wallet: Wallet
    approvers: ApproverPool
    detector: Detector
    agents: dict[str, AgentState]
    incidents: dict[str, IncidentState]
    _fold: Sink
    """The run's own collector, which every event reaches first."""
    _decided: Callable[..., None]
    """The same collector's fold of a decision event from the values the simulator holds
    (:meth:`sim.collectors.metrics.MetricsCollector.decided`)."""
    _sink: Sink | None
    """Every other sink (an audit log, the caller's) as one; None when there is none."""
    _seq: int
    """The number of the next event."""

    def rng(self, stream: str) -> random.Random:
        """An independent generator for a named stream, derived from the run's seed."""
        return random.Random(f"agentrange:{self.seed}:{stream}")

    def _emit(self, kind: EventKind, agent: str | None, data: dict[str, Any]) -> int:
        seq = self._seq
        self._seq = seq + 1
        event = _new_event(Event, (seq, self.env._now, kind, agent, data))
        self._fold(event)
        sink = self._sink
        if sink is not None:
            sink(event)
        return seq

    # --- task runs (sim.task_runs) ----------------------------------------------------------

    @abstractmethod
    def _task(self, run: TaskRun) -> Generator[simpy.Event, Any, bool]:
        """Run ``run``'s plan step by step; True when it completed."""

    @abstractmethod
    def _new_run(self, state: AgentState, task: Task, run_id: str,
                 plan: tuple[PlanItem, ...], *, arrival: float, incident: str | None = None,
                 parent: TaskRun | None = None, cred: Credential | None = None,
                 actors: tuple[str, ...] | None = None) -> TaskRun:
        """A run of ``task`` by ``state`` with its namespaces (not started)."""

    @abstractmethod
    def _items(self, agent: str, task: Task | None, steps: Iterable[ToolStep | DelegateStep],
               incident: str | None) -> tuple[PlanItem, ...]:
        """``steps`` resolved into a plan, each marked approved or not."""

    @abstractmethod
    def _incident_plan(self, agent: str, task: Task, incident: Incident
                       ) -> tuple[PlanItem, ...]:
        """The incident's plan for ``agent``, as if part of ``task``."""

    @abstractmethod
    def _reissue_expired(self, run: TaskRun, cred: Credential,
                         ist: IncidentState | None) -> Credential:
        """The run's token, or a fresh one when its own JIT task token has expired."""

    # --- the decision step (sim.decision_step) ----------------------------------------------

    _bulk: int
    """Records at or above which an executed step may be flagged (the detector's)."""
    _quiet: dict[int, Decision]
    """Decisions that complete no sequence and match no shadow rule, by id."""
    _time_at: float | None
    _time_ns: Mapping[str, Any]
    """The ``time`` namespace of the current simulated instant, shared by its requests."""

    @abstractmethod
    def _refused(self, request: Request, decision: Decision, token_reason: str
                 ) -> tuple[Outcome, str | None]:
        """A denied step's outcome, and the rule that would also deny one the token refused."""

    @abstractmethod
    def _watch(self, now: float, agent: str, tool_id: str, decision: Decision,
               token_reason: str, outcome: Outcome, records: int, seq: int,
               incident: str | None) -> None:
        """Hand a decided step to the detector, unless nothing in it could be flagged."""

    @abstractmethod
    def _approval(self, run: TaskRun, item: PlanItem, number: int, cred: Credential,
                  request: Request, seq: int) -> Generator[simpy.Event, Any, Outcome]:
        """Send a step to the approvers and, if approved, execute it."""

    # --- incidents in play (sim.incident_play) ----------------------------------------------

    @abstractmethod
    def _hold(self, ist: IncidentState, cred: Credential, *, begins: bool = False) -> None:
        """The incident now holds ``cred`` (its reach is announced once)."""

    @abstractmethod
    def _contain(self, ist: IncidentState, how: str) -> None:
        """Mark the incident contained (once) and emit it."""

    @abstractmethod
    def _raise(self, alerts: list[AlertSpec], agent: str, seq: int,
               ist: IncidentState | None) -> None:
        """Emit ``alerts`` raised by decision ``seq``; the first detects the incident."""

    # --- responses (sim.responses) ----------------------------------------------------------

    @abstractmethod
    def _on_detection(self, ist: IncidentState) -> None:
        """Schedule the detection-triggered responses that apply to a detected incident."""
