"""The simulator: a scenario, a profile and a seed become a simpy run that drives the engine.

Agents run their task plans on their arrival processes. Each tool step is one request to the
policy engine, made with the agent's current token (verified on every request); a step can
delegate to another agent, which runs its task under a delegated token carrying ``act``.
Executed tool calls take their duration in simulated time; ``require_approval`` sends the
request to the human approvers. Incidents fire on schedule or live, alerts follow from
decisions, and responses (scheduled, detection-triggered or live) act at once in simulated
time. Every step emits an immutable :class:`~sim.events.Event` into the injected sink.

Driving: :meth:`Simulation.step_until` advances to a time (so a UI can pause and step) and
:meth:`Simulation.run` runs to the end. Events at exactly the target time are processed by
the next call, so ``step_until(t)`` followed by a control acts "at t" before anything else
happening at t.

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

import gc
import random
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import simpy

from engine.audit.writer import AuditWriter
from engine.blast import Estate, delegates_of, scope_reach
from engine.errors import AgentrangeError
from engine.identity.scope import EVERYTHING, Scope
from engine.loader import policy_source
from engine.model import (
    Agent,
    DelegateStep,
    Incident,
    Response,
    Scenario,
    Task,
    ToolStep,
)
from engine.policy import CompiledPolicy, Decision, Effect, PolicyEngine, Request, load_policy
from engine.policy.decision import Reason
from engine.policy.errors import UnknownRuleError
from engine.policy.request import chain_attributes
from sim.approvals import ApprovalResult, ApproverPool
from sim.arrivals import arrival_times
from sim.audit_sink import AuditSink
from sim.collectors.metrics import MetricsCollector
from sim.detection import AlertSpec, DetectionConfig, Detector
from sim.events import DecisionRecord, Event, EventKind, Outcome, Sink
from sim.incidents import (
    KINDS,
    RENEWABLE_UNDER_JIT,
    IncidentState,
    default_plan,
    frameworks_of,
)
from sim.result import RunResult
from sim.wallet import Credential, Wallet
from sim.world import EPOCH, WEEK_OFFSET, StepSpec, World

_ALLOW, _DENY, _APPROVAL = Effect.ALLOW, Effect.DENY, Effect.REQUIRE_APPROVAL
_EXECUTED, _BLOCKED, _AWAITING = Outcome.EXECUTED, Outcome.BLOCKED, Outcome.AWAITING_APPROVAL
_EXPIRED, _REVOKED = Outcome.EXPIRED, Outcome.REVOKED
_INVALID = Reason.INVALID_TOKEN
_DECISION = EventKind.DECISION
_new_event = tuple.__new__


class SimulationError(AgentrangeError):
    """A simulation was asked for something the scenario does not have (profile, agent...)."""


def _tee(*sinks: Sink) -> Sink:
    """One sink that hands each event to every one of ``sinks`` in order."""
    def tee(event: Event) -> None:
        for sink in sinks:
            sink(event)
    return tee


def rule_facts(policy: CompiledPolicy) -> dict[str, dict[str, Any]]:
    """What views say of each rule and sequence: the ``rules`` of ``run_started``."""
    return {rule_id: facts.to_dict() for rule_id, facts in policy.facts.items()}


class PlanItem(NamedTuple):
    """One step of a run's plan, resolved."""

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


class Simulation:
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

    Raises:
        SimulationError: for an unknown profile.
        LoadError: when the profile's policy file is bad.
    """

    def __init__(self, scenario: Scenario, profile_id: str | None = None, *,
                 seed: int | None = None, sink: Sink | None = None,
                 policy: CompiledPolicy | None = None, until: float | None = None,
                 audit: AuditWriter | None = None, detection: DetectionConfig | None = None,
                 record_decisions: bool = True) -> None:
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
        self.policy = policy
        self.engine = PolicyEngine(policy)
        self.env = simpy.Environment(initial_time=0.0)  # event times are floats, even at 0
        self.world = World(scenario)
        self.creds = self.profile.credentials
        self.jit = self.creds.mode == "jit"
        self.estate = Estate.of(scenario)
        self.collector = MetricsCollector(record_decisions=record_decisions,
                                          audited=audit is not None)
        """Folds this run's events into its figures (:meth:`result`, :meth:`blast_radius`)."""
        sinks: list[Sink] = [self.collector]
        if audit is not None:
            sinks.append(AuditSink(audit))
        if sink is not None:
            sinks.append(sink)
        self._sink: Sink = sinks[0] if len(sinks) == 1 else _tee(*sinks)
        self._seq = 0
        self.wallet = Wallet(self.env, scenario, self.creds, self.seed, self._emit,
                             self._credential_ended, self.end)
        self.approvers = ApproverPool(self.env, scenario.approvers, self.rng("approvers"))
        self.detector = Detector(detection)
        self._bulk = self.detector.config.bulk_records
        self._records: dict[int, DecisionRecord] = {}
        # The ``time`` namespace of the current simulated instant, shared by its requests.
        self._time_at: float | None = None
        self._time_ns: Mapping[str, Any] = {}
        self.agents: dict[str, AgentState] = {
            a.name: AgentState(a.name, a, self.world.principal_ns[a.name],
                               a.owners.security is not None)
            for a in scenario.agents}
        self.incidents: dict[str, IncidentState] = {}
        self._holding: dict[str, list[IncidentState]] = {}
        self._fired: set[str] = set()
        self._plans: dict[tuple[str, str], tuple[PlanItem, ...]] = {}
        self._commands: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._live_incidents = 0
        self._alerts = 0
        self._started = False
        self._ended = False

    # --- randomness -----------------------------------------------------------------------

    def rng(self, stream: str) -> random.Random:
        """An independent generator for a named stream, derived from the run's seed."""
        return random.Random(f"agentrange:{self.seed}:{stream}")

    # --- driving ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The simulated clock (seconds since the start of the run)."""
        return float(self.env.now)

    @property
    def done(self) -> bool:
        """True once the run has reached its end."""
        return self._ended

    def step_until(self, t: float) -> None:
        """Apply queued live controls, then advance the simulation to time ``t``.

        Events scheduled before ``t`` are processed; the clock stops at ``t`` (or at the
        run's end, whichever is earlier). Calling it with a time already passed only applies
        the queued controls.
        """
        if self._ended:
            return
        if not self._started:
            self._start()
        self._apply_commands()
        target = min(float(t), self.end)
        if target > self.env.now:
            self.env.run(until=target)
        if self.env.now >= self.end:
            self._finish_run()

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
            "agents": [{"name": a.name, "spiffe_id": str(a.spiffe_id), "kind": a.kind,
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
                    env.process(self._arrivals(state, task))
        for incident in scenario.incidents:
            env.process(self._incident_at(incident))
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

    # --- events ------------------------------------------------------------------------------

    def _emit(self, kind: EventKind, agent: str | None, data: dict[str, Any]) -> int:
        seq = self._seq
        self._seq = seq + 1
        self._sink(_new_event(Event, (seq, self.env.now, kind, agent, data)))
        return seq

    # --- credentials -------------------------------------------------------------------------

    def _mint_static(self) -> None:
        groups: dict[str, list[AgentState]] = {}
        for state in self.agents.values():
            groups.setdefault(state.model.credential or state.name, []).append(state)
        world = self.world
        for members in groups.values():
            holder = members[0]
            scope = Scope.union(world.profile_scope(m.model, self.creds.scope, None)
                                for m in members)
            cred = self.wallet.mint(holder.name, scope=scope, mode="static",
                                    shared_by=[m.name for m in members])
            if cred is None:
                continue
            for m in members:
                m.static = cred

    def _static_for(self, state: AgentState) -> Credential | None:
        cred = state.static
        if cred is None:
            return None
        renewed = self.wallet.renew_if_due(cred)
        if renewed is not cred:
            for other in self.agents.values():
                if other.static is cred:
                    other.static = renewed
        return renewed

    def _credential_for(self, run: TaskRun) -> Credential | None:
        if run.cred is not None:
            return run.cred
        state = run.agent
        if not self.jit:
            return self._static_for(state)
        world = self.world
        if run.parent is not None and run.parent.cred is not None:
            scope = run.parent.cred.scope.intersect(world.task_scope(state.name, run.task.id))
        else:
            scope = world.profile_scope(state.model, self.creds.scope, run.task.id)
        run.own_cred = True
        return self.wallet.mint(state.name, scope=scope, mode="jit", task=run.task.id,
                                run=run.id, chain=run.actors[1:])

    def _reissue_expired(self, run: TaskRun, cred: Credential,
                         ist: IncidentState | None) -> Credential:
        """The run's token, or a fresh one when its own JIT task token has expired.

        A workload whose task outlived its token (a long wait on a delegate or an approver)
        asks its broker again, as at the start of the task. Revoked tokens, attackers' runs
        and tokens an attacker minted are never renewed.
        """
        if not (run.own_cred and not run.attacker and cred.incident is None
                and cred.state != "revoked" and self.env.now >= cred.exp):
            return cred
        fresh = self.wallet.reissue(cred)
        if fresh is None:
            return cred
        run.cred = fresh
        if ist is not None:
            self._hold(ist, fresh)
        return fresh

    def _credential_ended(self, cred: Credential, how: str) -> None:
        for ist in self._holding.pop(cred.jti, ()):
            ist.held.discard(cred.jti)
            if not ist.held and not ist.renewable and not ist.contained:
                self._contain(ist, how)

    def _hold(self, ist: IncidentState, cred: Credential, *, begins: bool = False) -> None:
        if cred.jti in ist.held:
            return
        self._expose(ist, cred.jti, cred.scope, begins)
        if cred.live:
            ist.held.add(cred.jti)
            self._holding.setdefault(cred.jti, []).append(ist)

    def _expose(self, ist: IncidentState, key: str, scope: Scope, begins: bool = False
                ) -> None:
        """The incident now holds a credential: say what it reaches (once per credential)."""
        if key in ist.exposed and not begins:
            return
        ist.exposed.add(key)
        reach = scope_reach(self.estate, (scope,))
        self._emit(EventKind.EXPOSED, ist.incident.agent, {
            "incident": ist.id, "credential": key, "tools": sorted(reach.tools),
            "resources": sorted(reach.resources), "begins": begins})

    # --- runs ---------------------------------------------------------------------------------

    def _arrivals(self, state: AgentState, task: Task) -> Generator[simpy.Event, Any, None]:
        env = self.env
        assert task.arrival is not None
        stream = self.rng(f"arrivals/{state.name}/{task.id}")
        for n, t in enumerate(arrival_times(task.arrival, stream, self.end), 1):
            if t > env.now:
                yield env.timeout(t - env.now)
            self._start_top_run(state, task, f"{state.name}/{task.id}#{n}", t)

    def _start_top_run(self, state: AgentState, task: Task, run_id: str,
                       arrival: float) -> None:
        incident: str | None = None
        if state.rogue is not None and state.rogue in self.incidents:
            incident = state.rogue
            plan = self._incident_plan(state.name, task, self.incidents[incident].incident)
        else:
            plan = self._benign_plan(state.name, task)
            for pid in state.poisoned:
                inc = self.incidents[pid].incident
                plan = plan + self._incident_plan(state.name, task, inc)
                incident = pid
        run = self._new_run(state, task, run_id, plan, arrival=arrival, incident=incident)
        self.env.process(self._task(run))

    def _benign_plan(self, agent: str, task: Task) -> tuple[PlanItem, ...]:
        key = (agent, task.id)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._items(agent, task, task.steps, None)
        return plan

    def _incident_plan(self, agent: str, task: Task, incident: Incident
                       ) -> tuple[PlanItem, ...]:
        return self._items(agent, task, incident.plan, incident.id)

    def _items(self, agent: str, task: Task | None, steps: Iterable[ToolStep | DelegateStep],
               incident: str | None) -> tuple[PlanItem, ...]:
        world = self.world
        approved_pairs = (world.task_plan(agent, task.id)
                          if task is not None and (agent, task.id) in world.tasks
                          else world.agent_plans(agent))
        items = []
        for step in steps:
            if isinstance(step, ToolStep):
                spec = world.spec(step)
                items.append(PlanItem(spec, None, (spec.tool_id, spec.resource)
                                      in approved_pairs, incident))
            else:
                items.append(PlanItem(None, step, incident is None, incident))
        return tuple(items)

    def _new_run(self, state: AgentState, task: Task, run_id: str,
                 plan: tuple[PlanItem, ...], *, arrival: float, incident: str | None = None,
                 parent: TaskRun | None = None, cred: Credential | None = None,
                 actors: tuple[str, ...] | None = None) -> TaskRun:
        if actors is None:
            actors = (state.name,) if parent is None else (state.name, *parent.actors)
        root = run_id if parent is None else parent.root
        hops = (tuple(self.world.principal_ns[a] for a in actors[1:])
                if len(actors) > 1 else None)
        return TaskRun(run_id, state, task, plan, actors, root, {"id": run_id},
                       chain_attributes(root, actors), hops, arrival,
                       parent is None and incident is None, incident, parent, cred,
                       presenter=self.wallet.thumbprints[state.name],
                       principal=state.principal)

    def _task(self, run: TaskRun) -> Generator[simpy.Event, Any, bool]:
        env = self.env
        state = run.agent
        name = state.name
        self._emit(EventKind.TASK_STARTED, name, {
            "task": run.task.id, "run": run.id, "chain": run.actors,
            "delegated_by": run.parent.agent.name if run.parent is not None else None,
            "incident": run.incident, "attacker": run.attacker})
        ist = self.incidents.get(run.incident) if run.incident is not None else None
        if state.quarantined and not run.attacker:
            self._finish_task(run, False, "quarantined", 0, ist)
            return False
        cred = self._credential_for(run)
        if cred is None:
            self._finish_task(run, False, "no_credential", 0, ist)
            return False
        run.cred = cred
        if ist is not None:
            self._hold(ist, cred)
        done = 0
        reason = ""
        ok = True
        jit = self.jit
        renewing = self.creds.renew_before is not None and (not jit or run.own_cred)
        attacker = run.attacker
        decide = self._decide
        timeout = env.timeout
        for number, item in enumerate(run.plan, 1):
            if state.quarantined and not attacker:
                ok, reason = False, "quarantined"
                break
            if attacker and ist is not None and ist.contained and ist.how \
                    in ("quarantine", "distrusted"):
                ok, reason = False, "contained"
                break
            spec = item.spec
            if spec is None:
                assert item.delegate is not None
                child = self._delegated_run(run, item, number)
                if not (yield env.process(self._task(child))):
                    ok, reason = False, "delegate_failed"
                    break
                done += 1
                continue
            if renewing:
                renewed = (self._static_for(state) if not jit and not attacker
                           and run.cred is state.static else self.wallet.renew_if_due(cred))
                if renewed is not None and renewed is not cred:
                    cred = run.cred = renewed
                    if ist is not None:
                        self._hold(ist, cred)
            if jit and env.now >= cred.exp:
                cred = self._reissue_expired(run, cred, ist)
            outcome, request, seq = decide(run, item, number, cred)
            if outcome is _EXECUTED:
                yield timeout(spec.duration)
                done += 1
                continue
            if outcome is _AWAITING:
                outcome = yield from self._approval(run, item, number, cred, request, seq)
                cred = run.cred  # re-issued when it expired during the wait
                if outcome is _EXECUTED:
                    done += 1
                    continue
                reason = {_BLOCKED: "approval_rejected", _EXPIRED: "approval_expired"}.get(
                    outcome, "token")
            else:
                reason = "denied" if outcome is _BLOCKED else "token"
            ok = False
            break
        self._finish_task(run, ok, reason, done, ist)
        return ok

    def _delegated_run(self, parent: TaskRun, item: PlanItem, number: int) -> TaskRun:
        step = item.delegate
        assert step is not None
        state = self.agents[step.delegate]
        task = self.world.tasks[(step.delegate, step.task)]
        run_id = f"{parent.id}/{number}>{step.delegate}/{step.task}"
        incident = item.incident
        if incident is None:
            plan = self._benign_plan(state.name, task)
            for pid in state.poisoned:
                plan = plan + self._incident_plan(state.name, task, self.incidents[pid].incident)
                incident = pid
        else:
            # Work handed on by a compromised run serves the attacker's goal too.
            plan = tuple(PlanItem(i.spec, i.delegate, i.approved, incident)
                         for i in self._benign_plan(state.name, task))
        cred = None
        if not self.jit:
            cred = self._static_for(state)
        return self._new_run(state, task, run_id, plan, arrival=self.env.now,
                             incident=incident, parent=parent, cred=cred)

    def _finish_task(self, run: TaskRun, ok: bool, reason: str, steps: int,
                     ist: IncidentState | None) -> None:
        env = self.env
        name = run.agent.name
        latency = env.now - run.arrival
        if ok:
            self._emit(EventKind.TASK_COMPLETED, name, {
                "task": run.task.id, "run": run.id, "chain": run.actors,
                "latency": latency, "steps": steps, "incident": run.incident})
        else:
            self._emit(EventKind.TASK_FAILED, name, {
                "task": run.task.id, "run": run.id, "chain": run.actors,
                "reason": reason, "steps": steps, "incident": run.incident})
        if ist is not None and not ist.contained and not ist.renewable \
                and ist.incident.repeat_every is None and run.attacker is False \
                and ist.incident.kind in ("prompt_injection", "overbroad_delegated_admin") \
                and not ok and reason in ("denied", "token", "approval_rejected",
                                          "approval_expired"):
            # The attacker's goal was stopped and nothing will retry it.
            self._contain(ist, "blocked")
        cred = run.cred
        if run.own_cred and cred is not None and self.creds.revoke_on_completion:
            self.wallet.revoke(cred, "task_completed" if ok else "task_failed")
        self.engine.end_session(run.id)
        if run.parent is None:
            self.engine.end_chain(run.root)

    # --- one request -------------------------------------------------------------------------

    def _decide(self, run: TaskRun, item: PlanItem, number: int, cred: Credential
                ) -> tuple[Outcome, Request, int]:
        # The hot path: one call per tool step. Locals and plain increments on purpose.
        now = self.env.now
        wall = EPOCH + now
        spec = item.spec
        assert spec is not None
        verification = self.wallet.verifier.verify(
            cred.token, now=wall, tool=spec.tool_id, data_class=spec.data_class,
            presenter_thumbprint=run.presenter)
        time_ns = self._time_ns
        last = self._time_at
        if now != last or type(now) is not type(last):
            # Many requests share an instant (a fleet acts on the second): one namespace each.
            clock = now + WEEK_OFFSET
            time_ns = self._time_ns = {"now": now, "hour": int(clock // 3600) % 24,
                                       "weekday": int(clock // 86400) % 7}
            self._time_at = now
        seq = self._seq
        state = run.agent
        principal = run.principal or state.principal
        task = run.task
        approved = item.approved
        request = Request(
            principal, spec.action, spec.tool_ns, verification.attributes(wall),
            spec.resource_ns, spec.request_ns,
            {"id": task.id, "intent": task.intent, "approved": approved, "step": number,
             "run": run.id},
            run.session_ns, run.chain_ns, time_ns, seq, run.hops)
        decision = self.engine.decide(request)
        effect = decision.effect
        token_reason = verification.reason
        if effect is _ALLOW:
            outcome = _EXECUTED
        elif effect is _DENY:
            outcome = _BLOCKED
            if decision.reason is _INVALID:
                if token_reason == "revoked":
                    outcome = _REVOKED
                elif token_reason == "expired":
                    outcome = _EXPIRED
        else:
            outcome = _AWAITING
        agent = state.name
        incident = item.incident
        attacker = run.attacker
        records = spec.records
        record = self._records.get(id(decision))
        if record is None or record.decision is not decision:
            record = self._record(decision)
        self._seq = seq + 1
        self._sink(_new_event(Event, (seq, now, _DECISION, agent, {
            "run": run.id, "chain": run.actors, "task": task.id, "step": number,
            "tool": spec.tool_id, "action": spec.action, "resource": spec.resource,
            "data_class": spec.data_class, "system": spec.system, "records": records,
            "amount": spec.amount, "destination": spec.destination, "jti": cred.jti,
            "holder": None if cred.shared else cred.holder, "token_reason": token_reason,
            "request": request, "decision": record,
            "outcome": outcome, "incident": incident, "attacker": attacker,
            "approved": approved,
        })))
        ist = self.incidents.get(incident) if incident is not None else None
        if outcome is _EXECUTED:
            if records < self._bulk and not decision.sequences and not decision.shadow:
                return outcome, request, seq  # nothing a detector would flag
        alerts = self.detector.decision(now, agent, spec.tool_id, decision, token_reason,
                                        records if outcome is _EXECUTED else None)
        if alerts:
            self._raise(alerts, agent, seq, ist)
        return outcome, request, seq

    def _record(self, decision: Decision) -> DecisionRecord:
        # The engine hands out one shared Decision per distinct outcome, so one record
        # (and its rendered dict) serves every event carrying it.
        records = self._records
        record = records.get(id(decision))
        if record is None or record.decision is not decision:
            if len(records) >= 4096:
                records.clear()
            record = records[id(decision)] = DecisionRecord(decision)
        return record

    def _approval(self, run: TaskRun, item: PlanItem, number: int, cred: Credential,
                  request: Request, seq: int) -> Generator[simpy.Event, Any, Outcome]:
        env = self.env
        spec = item.spec
        assert spec is not None
        agent = run.agent.name
        malicious = item.incident is not None or run.attacker
        pending = self.approvers.submit(malicious)
        self._emit(EventKind.APPROVAL_REQUESTED, agent, {
            "run": run.id, "task": run.task.id, "step": number, "tool": spec.tool_id,
            "queue": self.approvers.waiting, "decision": seq, "incident": item.incident})
        result: ApprovalResult = yield pending
        if result.expired:
            outcome = _EXPIRED
        elif not result.approved:
            outcome = _BLOCKED
            ist = self.incidents.get(item.incident) if item.incident is not None else None
            self._raise(self.detector.rejected(agent, spec.tool_id), agent, seq, ist)
        else:
            outcome = _EXECUTED
            if run.agent.quarantined and not run.attacker:
                outcome = _BLOCKED
            else:
                # The token may have expired or been revoked during the wait.
                check = self.wallet.verify(cred, spec.tool_id, spec.data_class, run.presenter)
                if not check.ok and str(check.reason) == "expired" and self.jit:
                    ist = (self.incidents.get(item.incident) if item.incident is not None
                           else None)
                    fresh = self._reissue_expired(run, cred, ist)
                    if fresh is not cred:
                        cred = fresh
                        check = self.wallet.verify(cred, spec.tool_id, spec.data_class,
                                                   run.presenter)
                if not check.ok:
                    reason = str(check.reason)
                    outcome = (_REVOKED if reason == "revoked" else
                               _EXPIRED if reason == "expired" else _BLOCKED)
        self._emit(EventKind.APPROVAL_RESOLVED, agent, {
            "run": run.id, "task": run.task.id, "step": number, "tool": spec.tool_id,
            "approved": result.approved, "waited": result.waited, "expired": result.expired,
            "fatigue_miss": result.fatigue_miss, "outcome": outcome, "decision": seq,
            "incident": item.incident})
        if outcome is not _EXECUTED:
            return outcome
        self.engine.commit(request)
        ist = self.incidents.get(item.incident) if item.incident is not None else None
        alerts = self.detector.executed(agent, spec.tool_id, spec.records)
        if alerts:
            self._raise(alerts, agent, seq, ist)
        yield env.timeout(spec.duration)
        return _EXECUTED

    # --- alerts and detection -------------------------------------------------------------

    def _raise(self, alerts: list[AlertSpec], agent: str, seq: int,
               ist: IncidentState | None) -> None:
        for alert in alerts:
            self._alerts += 1
            self._emit(EventKind.ALERT, agent, {
                "id": f"alert-{self._alerts}", "severity": alert.severity,
                "reason": alert.reason, "rule": alert.rule,
                "incident": ist.id if ist is not None else None, "message": alert.message,
                "decision": seq})
        if ist is not None and not ist.detected:
            ist.detected = True
            self._on_detection(ist)

    def _on_detection(self, ist: IncidentState) -> None:
        for response in self.scenario.responses:
            if response.trigger != "detection" or response.id in ist.responded:
                continue
            if not self._response_applies(response, ist):
                continue
            ist.responded.add(response.id)
            self.env.process(self._response_after(response, ist))

    def _response_applies(self, response: Response, ist: IncidentState) -> bool:
        victim = ist.incident.agent
        if response.kind in ("quarantine_agent", "revoke_token"):
            return response.agent == victim
        if response.kind == "distrust_vendor":
            return response.vendor is not None and \
                self.scenario.agent(victim).vendor == response.vendor
        return True

    # --- responses ----------------------------------------------------------------------------

    def _response_at(self, response: Response) -> Generator[simpy.Event, Any, None]:
        assert response.at is not None
        if response.at > self.env.now:
            yield self.env.timeout(response.at - self.env.now)
        self._scheduled_response(response, "at", None)

    def _response_after(self, response: Response, ist: IncidentState
                        ) -> Generator[simpy.Event, Any, None]:
        if response.delay > 0:
            yield self.env.timeout(response.delay)
        if ist.contained and response.kind != "tighten_rule":
            # Contained before the responders acted (blocked, expired): nothing to do.
            return
        self._scheduled_response(response, "detection", ist.id)

    def _scheduled_response(self, response: Response, trigger: str,
                            incident: str | None) -> None:
        target = {"quarantine_agent": response.agent, "revoke_token": response.agent,
                  "tighten_rule": response.rule, "distrust_vendor": response.vendor
                  }[response.kind]
        assert target is not None
        self._respond(response.kind, target, trigger, incident, response.id)

    def _respond(self, kind: str, target: str, trigger: str, incident: str | None,
                 response_id: str) -> None:
        """Apply a response now and emit its event."""
        applied = True
        error: str | None = None
        if kind == "tighten_rule":
            try:
                self.engine.tighten(target)
            except UnknownRuleError as exc:
                applied, error = False, str(exc)
        elif kind == "revoke_token" and target not in self.agents \
                and target not in self.wallet.live:
            applied, error = False, f"no live token {target!r}"
        self._emit(EventKind.RESPONSE, self._response_agent(kind, target), {
            "id": response_id, "kind": kind, "target": target, "trigger": trigger,
            "incident": incident, "applied": applied, "error": error})
        if not applied:
            return
        reason = "live" if trigger == "live" else "response"
        if kind == "quarantine_agent":
            state = self.agents[target]
            state.quarantined = True
            for ist in self._open_incidents():
                if ist.incident.agent == target:
                    self._contain(ist, "quarantine")
            self.wallet.quarantine(target, incident)
        elif kind == "revoke_token":
            if target in self.agents:
                self.wallet.revoke_agent(target, reason, incident)
            else:
                self.wallet.revoke(self.wallet.live[target], reason, incident)
        elif kind == "distrust_vendor":
            vendor = self.scenario.vendor(target)
            for ist in self._open_incidents():
                if self.scenario.agent(ist.incident.agent).vendor == target:
                    self._contain(ist, "distrusted")
            self.wallet.distrust(vendor.trust_domain, incident)

    def _response_agent(self, kind: str, target: str) -> str | None:
        if kind in ("quarantine_agent", "revoke_token"):
            if target in self.agents:
                return target
            cred = self.wallet.live.get(target)
            return cred.holder if cred is not None else None
        return None

    def _open_incidents(self) -> list[IncidentState]:
        return [i for i in self.incidents.values() if not i.contained]

    def _contain(self, ist: IncidentState, how: str) -> None:
        if ist.contained:
            return
        ist.contained = True
        ist.how = how
        self._emit(EventKind.CONTAINED, ist.incident.agent, {"incident": ist.id, "how": how})

    # --- incidents ----------------------------------------------------------------------------

    def _incident_at(self, incident: Incident) -> Generator[simpy.Event, Any, None]:
        if incident.at >= self.end:
            return
        if incident.at > self.env.now:
            yield self.env.timeout(incident.at - self.env.now)
        self._begin_incident(incident)

    def _begin_incident(self, incident: Incident) -> None:
        env = self.env
        kind = incident.kind
        renewable = (kind in RENEWABLE_UNDER_JIT and self.jit) or kind == "vendor_compromise" \
            or (kind == "prompt_injection" and incident.repeat_every is not None and self.jit)
        ist = IncidentState(incident, renewable)
        self.incidents[incident.id] = ist
        self._emit(EventKind.INCIDENT, incident.agent, {
            "id": incident.id, "kind": kind, "description": incident.description,
            "frameworks": list(frameworks_of(incident)),
            "plan": [s.tool if isinstance(s, ToolStep) else f"delegate:{s.delegate}"
                     for s in incident.plan]})
        state = self.agents[incident.agent]
        if not self.jit and kind in ("prompt_injection", "rogue_agent", "memory_poisoning",
                                     "overbroad_delegated_admin"):
            # With static credentials the compromised agent can also reach whatever the
            # agents it delegates to hold.
            for other in delegates_of(self.scenario, incident.agent):
                cred = self.agents[other].static
                if cred is not None:
                    self._expose(ist, cred.jti, cred.scope)
        if state.quarantined:
            self._contain(ist, "quarantine")
            return
        if kind == "prompt_injection":
            env.process(self._hijacks(ist, state, None))
        elif kind == "rogue_agent":
            state.rogue = incident.id
            env.process(self._hijacks(ist, state, None))
        elif kind == "memory_poisoning":
            state.poisoned.append(incident.id)
            if not self.jit and state.static is not None:
                self._hold(ist, state.static)
        elif kind == "overbroad_delegated_admin":
            delegator = next((a.name for a in self.scenario.agents for t in a.tasks
                              for s in t.steps if isinstance(s, DelegateStep)
                              and s.delegate == incident.agent), None)
            chain = (delegator,) if delegator is not None else ()
            cred = self.wallet.mint(state.name, scope=EVERYTHING, mode=self.creds.mode,
                                    chain=chain, incident=incident.id)
            if cred is None:
                self._contain(ist, "quarantine")
                return
            env.process(self._hijacks(ist, state, cred))
        elif kind in ("credential_theft", "vendor_compromise"):
            env.process(self._attacker(ist, state))

    def _victim_task(self, state: AgentState, incident: Incident) -> Task:
        tasks = state.model.tasks
        scheduled = [t for t in tasks if t.arrival is not None]
        if scheduled:
            return scheduled[0]
        if tasks:
            return tasks[0]
        return Task(id=incident.id, intent=f"attacker goal ({incident.kind})",
                    steps=incident.plan)

    def _hijacks(self, ist: IncidentState, state: AgentState, cred: Credential | None
                 ) -> Generator[simpy.Event, Any, None]:
        incident = ist.incident
        env = self.env
        if not incident.plan:
            return
        task = self._victim_task(state, incident)
        while not ist.contained and not state.quarantined:
            ist.runs += 1
            plan = self._incident_plan(state.name, task, incident)
            actors = cred.chain if cred is not None else None
            run = self._new_run(state, task, f"{state.name}/{task.id}!{incident.id}#{ist.runs}",
                                plan, arrival=env.now, incident=incident.id, cred=cred,
                                actors=actors)
            if cred is not None:
                self._hold(ist, cred)
            env.process(self._task(run))
            if incident.repeat_every is None:
                return
            yield env.timeout(incident.repeat_every)

    def _attacker(self, ist: IncidentState, state: AgentState
                  ) -> Generator[simpy.Event, Any, None]:
        """Credential theft and vendor compromise: replay the plan from elsewhere."""
        incident = ist.incident
        env = self.env
        vendor = incident.kind == "vendor_compromise" and state.model.vendor is not None
        stolen: Credential | None = None
        begins = False
        if not vendor:
            stolen = state.static if not self.jit else self.wallet.latest(state.name)
            if stolen is None or not stolen.live:
                waiting = env.event()

                def grab(c: Credential) -> None:
                    if c.holder == state.name and c.incident is None \
                            and not waiting.triggered:
                        waiting.succeed(c)

                self.wallet.mint_listeners.append(grab)
                stolen = yield waiting
                self.wallet.mint_listeners.remove(grab)
                begins = True
            assert stolen is not None
            self._hold(ist, stolen, begins=begins)
            if stolen.cnf is not None:
                # Bound to the victim's key: replayed from elsewhere it never works.
                self._contain(ist, "sender_constrained")
        task = Task(id=incident.id, intent=f"attacker goal ({incident.kind})",
                    steps=incident.plan or state.model.tasks[0].steps)
        while True:
            if state.quarantined:
                self._contain(ist, "quarantine")
                return
            if vendor:
                if ist.contained:
                    return
                minted = self.wallet.mint(state.name, scope=EVERYTHING, mode="jit",
                                          incident=incident.id, bind=True)
                if minted is None:
                    self._contain(ist, "quarantine")
                    return
                cred = minted
                self._hold(ist, cred)
                presenter = self.wallet.thumbprints[state.name]
            else:
                assert stolen is not None
                cred = stolen
                presenter = self.wallet.attacker_thumbprint
            ist.runs += 1
            plan = self._items(state.name, None, task.steps, incident.id)
            run = self._new_run(state, task, f"{state.name}/{incident.id}!replay#{ist.runs}",
                                plan, arrival=env.now, incident=incident.id, cred=cred,
                                actors=cred.chain)
            run.attacker = True
            run.presenter = presenter
            yield env.process(self._task(run))
            if ist.contained or incident.repeat_every is None:
                return
            yield env.timeout(incident.repeat_every)

    # --- results ------------------------------------------------------------------------------

    def blast_radius(self) -> dict[str, Any]:
        """The blast radius so far (see :meth:`MetricsCollector.blast`)."""
        return self.collector.blast(self.now)

    def result(self) -> RunResult:
        """The run's figures so far (final once :attr:`done`), folded from its events."""
        return self.collector.result(self.now)


YOUNG_GC_THRESHOLD = 100_000
"""Container allocations between young-generation collections during :meth:`Simulation.run`."""


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """On the main thread, raise the collector's young-generation threshold for a block.

    A tool call allocates a few dozen short-lived containers (namespaces, the request, the
    event) that reference counting frees, and the simulator makes no reference cycles on its
    hot path; with the default threshold (700) a long run spends microseconds per tool call
    in collector passes that free nothing. Garbage cycles made elsewhere (a sink) are still
    collected, a little later. The setting is process-wide, so only the main thread changes
    it (a headless run): a run in a worker thread (the dashboard's) leaves it alone, and no
    two threads can restore each other's values out of order. Nested uses restore the outer
    setting.
    """
    before = gc.get_threshold()
    if threading.current_thread() is not threading.main_thread() or not before[0] \
            or before[0] >= YOUNG_GC_THRESHOLD:
        yield
        return
    gc.set_threshold(YOUNG_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def load_profile_policy(scenario: Scenario, profile_id: str) -> CompiledPolicy:
    """Load and compile the policy file of one of the scenario's profiles.

    Raises:
        SimulationError: when the scenario was not loaded from a file (no base directory).
        LoadError: when the policy file is bad.
    """
    profile = scenario.profile(profile_id)
    base = scenario.base
    if base is None:
        raise SimulationError(f"scenario {scenario.name} was not loaded from a file; pass a "
                              "compiled policy for profile " + profile_id)
    return load_policy(base / profile.policy, scenario,
                       source=policy_source(scenario, profile.policy))
