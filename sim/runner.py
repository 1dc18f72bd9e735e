"""The simulator: a scenario, a profile and a seed become a simpy run that drives the engine.

Agents run their task plans on their arrival processes. Each tool step is one request to the
policy engine, made with the agent's current token (verified on every request); a step can
delegate to another agent, which runs its task under a delegated token carrying ``act``.
Executed tool calls take their duration in simulated time; ``require_approval`` sends the
request to the human approvers. Incidents fire on schedule or live, alerts follow from
decisions, and responses (scheduled, detection-triggered or live) act at once in simulated
time. Every step emits an immutable :class:`~sim.events.Event` into the injected sink.

This module drives: it builds a run's state, runs the clock and takes live controls. The
rest of :class:`Simulation` is its parts, mixins over :class:`sim.state.SimulationState`:
task runs (:mod:`sim.task_runs`), the decision step (:mod:`sim.decision_step`), incidents
in play (:mod:`sim.incident_play`) and responses (:mod:`sim.responses`).

Driving: :meth:`Simulation.step_until` advances to a time (so a UI can pause and step) and
:meth:`Simulation.run` runs to the end. Events at exactly the target time are processed by
the next call, so ``step_until(t)`` followed by a control acts "at t" before anything else
happening at t.

Budget: every :data:`sim.budget.CHECK_EVERY` simpy steps the driving loop checks the run's
event count, its memory at most every :data:`sim.budget.MEMORY_EVERY` wall seconds
(:class:`sim.budget.BudgetWatch`), and whether it was asked to stop
(:meth:`Simulation.interrupt`). A run over its budget or interrupted stops where
it is: ``step_until`` raises :class:`~sim.budget.RunStopped` once, and the run is over
(:attr:`Simulation.stopped` says why; :meth:`Simulation.result` gives the figures so far).

Thread-safety: one thread drives the simulation (``step_until`` / ``run``). The live
controls (:meth:`~Simulation.revoke`, :meth:`~Simulation.quarantine`,
:meth:`~Simulation.inject`, :meth:`~Simulation.tighten`) may be called from any other thread:
they validate their arguments at once (raising :class:`SimulationError`) and enqueue a
command; the driving thread applies queued commands at the start of its next ``step_until``,
at the current simulated time, before any further event.

Randomness: the run's seed is the only source. Independent named streams are derived from
it (one per task's arrivals, one for the approvers), so that a different decision under
another profile never shifts when work arrives: the same seed gives the same arrivals under
every profile, which is what lets comparisons line up request by request.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from heapq import heappop
from typing import TYPE_CHECKING, Any

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import URGENT, EventPriority
from simpy.events import Event as SimpyEvent

from engine.blast import Estate
from engine.errors import AgentrangeError
from engine.model import Incident, Scenario, Task
from engine.policy import CompiledPolicy, PolicyEngine, load_profile_policy
from sim.agenda import Agenda
from sim.approvals import ApproverPool
from sim.budget import CHECK_EVERY, BudgetWatch, RunBudget, RunStopped
from sim.collectors.metrics import MetricsCollector
from sim.decision_step import DecisionStep
from sim.detection import DetectionConfig, Detector
from sim.events import EventKind, Sink, tee
from sim.gc_passes import fewer_gc_passes
from sim.incident_play import IncidentPlay
from sim.incidents import KINDS, default_plan
from sim.responses import Responses
from sim.result import RunResult
from sim.state import AgentState
from sim.task_runs import TaskRuns
from sim.wakes import Wake, failed_run
from sim.wallet import Wallet
from sim.world import EPOCH, World

if TYPE_CHECKING:  # imported where used: a run without an audit log or Cedar needs neither
    from engine.audit.writer import AuditWriter
    from engine.cedar.profile import EngineFactory


class SimulationError(AgentrangeError):
    """A simulation was asked for something the scenario does not have (profile, agent...)."""


def rule_facts(policy: CompiledPolicy) -> dict[str, dict[str, Any]]:
    """What views say of each rule and sequence: the ``rules`` of ``run_started``."""
    return {rule_id: facts.to_dict() for rule_id, facts in policy.facts.items()}


class Simulation(TaskRuns, DecisionStep, IncidentPlay, Responses):
    """One run of a scenario under one profile.

    Args:
        scenario: The loaded scenario.
        profile_id: The profile to run (the scenario's default when None).
        seed: The run's seed (the scenario's when None).
        sink: Receives every event (discarded when None).
        policy: A compiled policy to use instead of loading the profile's policy file.
        until: Stop at this simulated time instead of the scenario's duration.
        audit: An open audit log to write every event to (hash-chained; see
            :class:`sim.audit_sink.AuditSink`).
        detection: Alert thresholds (defaults when None).
        record_decisions: Keep every decision's key and effect for comparisons (turn off
            for very long runs).
        max_events: Events the run may emit before it is stopped (None:
            :data:`engine.bounds.DEFAULT_MAX_EVENTS`).
        max_memory_mb: Resident memory, in MiB, the run may add to its process (counted from
            the process's size now) before it is stopped (None:
            :data:`engine.bounds.DEFAULT_MAX_MEMORY_MB`).
        progress: Called every :data:`sim.budget.CHECK_EVERY` simpy steps while the run is
            driven (a progress display; it must be quick and must not raise).
        engine: Builds the decision point from the compiled policy (``--engine cedar``:
            :func:`engine.cedar.profile.engine_for`); default the profile's own.

    Raises:
        SimulationError: for an unknown profile.
        BudgetError: for a budget that is not a positive whole number.
        LoadError: when the profile's policy file is bad.
    """

    def __init__(self, scenario: Scenario, profile_id: str | None = None, *,
                 seed: int | None = None, sink: Sink | None = None,
                 policy: CompiledPolicy | None = None, until: float | None = None,
                 audit: AuditWriter | None = None, detection: DetectionConfig | None = None,
                 record_decisions: bool = True, max_events: int | None = None,
                 max_memory_mb: int | None = None,
                 progress: Callable[[], None] | None = None,
                 engine: EngineFactory | None = None) -> None:
        self.watch = BudgetWatch(RunBudget.of(max_events, max_memory_mb), progress)
        """The run's budget and what it has seen (see :mod:`sim.budget`)."""
        self.stopped: RunStopped | None = None
        """Why the run stopped before its end (None while it runs, and when it ended)."""
        self.scenario = scenario
        pid = profile_id or scenario.default_profile_id
        try:
            self.profile = scenario.profile(pid)
        except KeyError:
            known = ", ".join(p.id for p in scenario.profiles)
            raise SimulationError(f"scenario {scenario.name} has no profile {pid!r} "
                                  f"(profiles: {known})") from None
        self.seed = scenario.seed if seed is None else seed
        self.end = scenario.duration if until is None else max(0.0, min(until,
                                                                        scenario.duration))
        if policy is None:
            policy = load_profile_policy(scenario, self.profile.id)
        if engine is None and self.profile.cedar is not None:
            # A profile written in Cedar: the Cedar room is imported only for one.
            from engine.cedar.profile import profile_engine

            engine = profile_engine(scenario, self.profile.id)
        self.engine = PolicyEngine(policy) if engine is None else engine(policy)
        self.policy = self.engine.policy
        self.env = Agenda(initial_time=0.0)  # event times are floats, even at 0
        self.world = World(scenario, self.profile)
        self.creds = self.profile.credentials
        self.jit = self.creds.mode == "jit"
        self.renewing = self.creds.renew_before is not None
        self.estate = Estate.of(scenario)
        self.collector = MetricsCollector(record_decisions=record_decisions,
                                          audited=audit is not None)
        """Folds this run's events into its figures (:meth:`result`, :meth:`blast_radius`)."""
        self._fold = tee(self.collector)
        self._decided = self.collector.decided
        sinks: list[Sink] = []
        if audit is not None:
            from sim.audit_sink import AuditSink

            sinks.append(AuditSink(audit))
        if sink is not None:
            sinks.append(sink)
        # The collector is called first, then the others: tee's pair function between them
        # was a Python call per event.
        self._sink = tee(*sinks) if sinks else None
        self._seq = 0
        self.wallet = Wallet(self.env, scenario, self.creds, self.seed, self._emit,
                             self._credential_ended, self.end, self.world)
        self.approvers = ApproverPool(self.env, scenario.approvers, self.rng("approvers"))
        self.detector = Detector(detection)
        self.agents = {
            a.name: AgentState(a.name, a, self.world.principal_ns[a.name],
                               a.owners.security is not None)
            for a in scenario.agents}
        self.incidents = {}
        self._commands: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._live_incidents = 0
        self._started = False
        self._ended = False
        self._burst = 0  # top-level runs started since the last budget check
        # What one part keeps for itself (declared in that part).
        self._plans = {}  # task runs
        self._bulk = self.detector.config.bulk_records  # the decision step
        self._quiet = {}
        self._time_at = None
        self._time_ns = {}
        self._holding = {}  # incidents in play
        self._alerts = 0

    # --- driving ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The simulated clock (seconds since the start of the run)."""
        return float(self.env.now)

    @property
    def done(self) -> bool:
        """True once the run has reached its end, or stopped before it (see :attr:`stopped`)."""
        return self._ended

    @property
    def events(self) -> int:
        """Events emitted so far."""
        return self._seq

    def interrupt(self, why: str) -> None:
        """Stop the run at its next budget check, from a signal handler or any thread.

        The driving thread's ``step_until`` then raises :class:`~sim.budget.RunInterrupted`
        naming ``why`` (``SIGINT``, ``SIGTERM``...), within a few milliseconds.
        """
        self.watch.interrupt(why)

    def step_until(self, t: float) -> None:
        """Apply queued live controls, then advance the simulation to time ``t``.

        Events scheduled before ``t`` are processed; the clock stops at ``t`` (or at the
        run's end, whichever is earlier). Calling it with a time already passed only applies
        the queued controls.

        Raises:
            RunStopped: the run crossed its budget or was interrupted (once; the run is over
                and later calls do nothing).
        """
        if self._ended:
            return
        try:
            if not self._started:
                self._start()
            self._check()
            self._apply_commands()
            target = min(float(t), self.end)
            if target > self.env.now:
                self._advance(target)
        except RunStopped as stop:
            self._ended = True
            self.stopped = stop
            raise
        if self.env.now >= self.end:
            self._finish_run()

    def _advance(self, target: float) -> None:
        """``env.run(until=target)``, checking the budget every CHECK_EVERY steps.

        The stop event is made exactly as simpy's ``Environment.run`` makes it (urgent, so
        events at ``target`` itself wait for the next call), and the loop steps as it does:
        only the check between batches is added, so the run's events are the same.
        """
        env = self.env
        until = simpy.Event(env)
        until._ok = True
        until._value = None
        env.schedule(until, URGENT, target - env.now)
        until.callbacks.append(StopSimulation.callback)
        check = self._check
        batch = range(CHECK_EVERY)
        pending = env.pending
        slots = env.slots
        try:
            while True:
                # simpy's Environment.step, inlined (Agenda.pop too): one call fewer per
                # event, the same order.
                for _ in batch:
                    try:
                        time, priority, slot = pending[0]
                    except IndexError:
                        raise EmptySchedule from None
                    env._now, _, event = slot.popleft()
                    if not slot:
                        heappop(pending)
                        del slots[priority][time]
                    callbacks, event.callbacks = event.callbacks, None
                    try:
                        for callback in callbacks:
                            callback(event)
                    except StopIteration:
                        pass  # a generator resumed without a Process returned (sim.wakes)
                    except StopSimulation:
                        _stopped_in(env, event, callbacks, callback)
                        raise
                    except BaseException as error:
                        if type(event) is not Wake:
                            raise
                        failed_run(env, error)  # as a failed process: raised in its turn
                    # A Wake never fails (and its _ok, a class attribute, is a slow read).
                    if type(event) is not Wake and not event._ok:
                        _failed(event)
                check()
        except StopSimulation:
            if self.stopped is not None:  # by an arrival burst, in the last few steps
                raise self.stopped from None
        except RunStopped as stop:
            # Raised inside a process (an arrival burst), simpy hands on a copy: the original
            # carries the details.
            raise self.stopped or stop from None

    def _check(self, driver: tuple[str, str | None] | None = None) -> None:
        stop = self.stopped
        if stop is not None:
            raise stop
        burst = self._burst
        if driver is None:  # from the driving loop: count the arrivals afresh
            self._burst = 0
        try:
            self.watch.check(self._seq + burst, self.env.now, self.collector.last,
                             driver=driver, memory=driver is not None)
        except RunStopped as stop:
            self.stopped = stop
            raise

    def _start_top_run(self, state: AgentState, task: Task, run_id: str,
                       arrival: float) -> None:
        # Arrivals at one instant start their runs within one simpy step, so a rate that
        # leaves the clock standing (10**30 an hour) would never return to the driving loop.
        # Every BURST arrivals the budget is checked from here: each started run is at least
        # one event to come, and the agent and task driving the run are known exactly.
        burst = self._burst = self._burst + 1
        if not burst % BURST:
            self._check((state.name, task.id))
        TaskRuns._start_top_run(self, state, task, run_id, arrival)  # super(), lighter

    def run(self) -> RunResult:
        """Run to the end and return the result.

        Run on the main thread, the cyclic garbage collector's young generation is collected
        less often for the duration (see :func:`fewer_gc_passes`); its settings are restored
        after.
        """
        with fewer_gc_passes():
            self.step_until(self.end)
        return self.result()

    def _start(self) -> None:
        self._started = True
        scenario = self.scenario
        self._emit(EventKind.RUN_STARTED, None, {
            "scenario": scenario.name, "profile": self.profile.id, "seed": self.seed,
            "duration": self.end, "epoch": EPOCH,
            "credentials": self.creds.model_dump(mode="json"),
            "policy": self.policy.name,
            "rules": rule_facts(self.policy), "legal_owner": self.policy.legal_owner,
            "estate": self.estate.to_dict(),
            "owners": {o.id: o.name for o in scenario.owners},
            **({"environments": self.world.environment_domains}
               if self.world.environment_domains else {}),
            "agents": [{"name": a.name, "spiffe_id": str(self.world.identities[a.name]),
                        "kind": a.kind,
                        "owners": a.owners.model_dump(mode="json"), "vendor": a.vendor,
                        "roles": list(a.roles), "description": a.description}
                       for a in scenario.agents],
        })
        if not self.jit:
            self._mint_static()
        env = self.env
        for state in self.agents.values():
            for task in state.model.tasks:
                if task.arrival is not None:
                    self._start_arrivals(state, task)
        for incident in scenario.incidents:
            env.process(self._incident_at(incident))
        for state in self.agents.values():
            if state.model.retire_at is not None:
                env.process(self._retire_at(state))
        for response in scenario.responses:
            if response.trigger == "at":
                env.process(self._response_at(response))

    def _finish_run(self) -> None:
        self._ended = True
        self._emit(EventKind.RUN_ENDED, None, {"time": self.env.now, "events": self._seq + 1,
                                               "decisions": self.collector.total})

    # --- live controls -----------------------------------------------------------------------

    def _enqueue(self, command: Callable[[], None]) -> None:
        with self._lock:
            self._commands.append(command)

    def _apply_commands(self) -> None:
        while True:
            with self._lock:
                if not self._commands:
                    return
                command = self._commands.popleft()
            command()

    def revoke(self, target: str) -> None:
        """Revoke a token by jti, or every live token of an agent by name (live control)."""
        if target not in self.agents and target not in self.wallet.live:
            raise SimulationError(f"no agent or live token {target!r}")
        self._enqueue(lambda: self._respond("revoke_token", target, "live", None, "live"))

    def quarantine(self, agent: str) -> None:
        """Quarantine an agent: its tokens are revoked and it may start nothing more."""
        self._agent_or_error(agent)
        self._enqueue(lambda: self._respond("quarantine_agent", agent, "live", None, "live"))

    def tighten(self, rule_id: str) -> None:
        """Enforce a shadow rule or sequence of the profile's policy from now on."""
        if rule_id not in self.engine.policy.rule_ids():
            known = ", ".join(self.engine.policy.rule_ids()) or "none"
            raise SimulationError(f"policy {self.policy.name} has no rule {rule_id!r} "
                                  f"(rules: {known})")
        self._enqueue(lambda: self._respond("tighten_rule", rule_id, "live", None, "live"))

    def inject(self, kind: str, agent: str) -> str:
        """Inject an incident of ``kind`` into ``agent`` now; returns the incident id.

        The attacker's plan is the scenario's plan for that agent when it has one (see
        :func:`sim.incidents.default_plan`).
        """
        if kind not in KINDS:
            raise SimulationError(f"unknown incident kind {kind!r} (kinds: {', '.join(KINDS)})")
        self._agent_or_error(agent)
        with self._lock:
            self._live_incidents += 1
            number = self._live_incidents
        incident_id = f"live-{number}"
        plan = default_plan(self.scenario, self.world, agent, kind)
        template = next((i for i in self.scenario.incidents if i.kind == kind), None)

        def start() -> None:
            incident = Incident(
                id=incident_id, kind=kind, at=self.env.now, agent=agent,  # type: ignore[arg-type]
                description=f"{kind.replace('_', ' ')} injected live into {agent}",
                plan=plan, repeat_every=template.repeat_every if template else None,
                frameworks=template.frameworks if template else ())
            self._begin_incident(incident)

        self._enqueue(start)
        return incident_id

    def _agent_or_error(self, agent: str) -> None:
        if agent not in self.agents:
            known = ", ".join(self.agents)
            raise SimulationError(f"no agent {agent!r} (agents: {known})")

    # --- results ------------------------------------------------------------------------------

    def blast_radius(self) -> dict[str, Any]:
        """The blast radius so far (see :meth:`MetricsCollector.blast`)."""
        return self.collector.blast(self.now)

    def result(self) -> RunResult:
        """The run's figures so far (final once :attr:`done`), folded from its events."""
        return self.collector.result(self.now)


def _stopped_in(env: simpy.Environment, event: SimpyEvent, callbacks: list[Any],
                callback: Any) -> None:
    """As :meth:`simpy.Environment.step` on a stop: the event's other callbacks run later."""
    event.callbacks = callbacks[callbacks.index(callback) + 1:]
    env.schedule(event, EventPriority(-1))


def _failed(event: SimpyEvent) -> None:
    """As :meth:`simpy.Environment.step` for a failed event: raise a copy, unless defused."""
    if hasattr(event, "_defused"):
        return
    value = event._value
    exc = type(value)(*value.args)
    exc.__cause__ = value
    raise exc


BURST = 4096
"""Top-level runs started between two budget checks before one is made from the arrivals."""
