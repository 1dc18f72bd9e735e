"""Task runs: arrivals, plans, a run step by step, delegated runs, and the runs' credentials.

Each arrival of a task starts a top-level run. A run resolves its plan (the agent's own, the
incident's under a rogue agent, or its own followed by a poisoned memory's steps), obtains its
credential (the agent's static token, renewed when due; or a JIT token minted for the task,
narrowed to the delegator's token on a delegated run) and walks the plan: a tool step goes to
the decision step (:mod:`sim.decision_step`, its hot path inlined in :meth:`TaskRuns._task`)
and takes its duration when executed; a delegation starts the delegate's run and waits for
it. A run stops at its first step that is not executed, and its end is an event (completed or
failed, with why).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL

from engine.identity.scope import Scope
from engine.model import DelegateStep, Incident, Task, ToolStep
from engine.policy.decision import Effect
from engine.policy.request import chain_attributes, make_request
from sim.arrivals import arrival_times
from sim.events import DecisionData, Event, EventKind, Outcome
from sim.incidents import IncidentState, retired
from sim.state import AgentState, PlanItem, SimulationState, TaskRun
from sim.wakes import Wake, drive, waiting
from sim.wallet import Credential
from sim.world import EPOCH, WEEK_OFFSET

_BLOCKED, _AWAITING, _EXPIRED = Outcome.BLOCKED, Outcome.AWAITING_APPROVAL, Outcome.EXPIRED
_EXECUTED = Outcome.EXECUTED
_ALLOW, _DENY = Effect.ALLOW, Effect.DENY
_DECISION = EventKind.DECISION
_new_event = tuple.__new__
_TASK_STARTED, _TASK_COMPLETED = EventKind.TASK_STARTED, EventKind.TASK_COMPLETED
_TASK_FAILED = EventKind.TASK_FAILED
_new = object.__new__


class TaskRuns(SimulationState):
    """The part of a simulation that starts and runs tasks and obtains their credentials."""

    _plans: dict[tuple[str, str], tuple[PlanItem, ...]]
    """Benign plans resolved once per (agent, task)."""

    # --- runs ---------------------------------------------------------------------------------

    def _start_arrivals(self, state: AgentState, task: Task) -> None:
        """Start the arrivals of ``task`` (driven without a Process: see :mod:`sim.wakes`)."""
        wakeup: list[Any] = []
        drive(self.env, self._arrivals(state, task, wakeup), wakeup)

    def _arrivals(self, state: AgentState, task: Task, wakeup: list[Any]
                  ) -> Generator[simpy.Event, Any, None]:
        yield None  # type: ignore[misc]  # started here (see sim.wakes.drive)
        env = self.env
        assert task.arrival is not None
        stream = self.rng(f"arrivals/{state.name}/{task.id}")
        normal = env.normal
        pending = env.pending
        eids = env._eid
        start = self._start_top_run
        prefix = f"{state.name}/{task.id}#"
        wake = _new(Wake)  # one pending at a time: reused (see Wake)
        for n, t in enumerate(arrival_times(task.arrival, stream, self.end), 1):
            if t > env._now:
                # A timeout until the arrival, made lighter (see sim.wakes); its time is
                # computed as simpy's (now + delay), which may differ from t in the last bit.
                now = env._now
                at = now + (t - now)
                wake.callbacks = wakeup
                slot = normal.get(at)
                if slot is None:  # Agenda.open, inlined
                    slot = normal[at] = deque()
                    heappush(pending, (at, NORMAL, slot))
                slot.append((at, next(eids), wake))
                yield wake  # type: ignore[misc]  # an event as simpy's loop sees one
            start(state, task, f"{prefix}{n}", t)

    def _start_top_run(self, state: AgentState, task: Task, run_id: str,
                       arrival: float) -> None:
        if retired(state.model, arrival):  # scenarios (issue 22): a retired agent starts nothing
            return
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
        wakeup: list[Any] = []
        run.wakeup = wakeup  # nobody waits for a top-level run: driven without a Process
        drive(self.env, self._task(run), wakeup)

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
                       principal=state.principal, task_id=task.id, intent=task.intent)

    def _task(self, run: TaskRun) -> Generator[simpy.Event, Any, bool]:
        wakeup = run.wakeup
        if wakeup is not None:
            yield None  # type: ignore[misc]  # started here (see sim.wakes.drive)
        env = self.env
        state = run.agent
        name = state.name
        self._emit(_TASK_STARTED, name, {
            "task": run.task_id, "run": run.id, "chain": run.actors,
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
        renewing = self.renewing and (not jit or run.own_cred)
        attacker = run.attacker
        verifiers = self.wallet.verifiers
        engine = self.engine
        decided = self._decided
        bulk = self._bulk
        quiet = self._quiet
        principal = run.principal or state.principal
        run_id = run.id
        normal = env.normal
        pending = env.pending
        eids = env._eid
        wake = _new(Wake)  # one pending at a time: reused (see Wake)
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
                if not (yield waiting(wakeup, env.process(self._task(child)))):
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
            if jit and env._now >= cred.exp:
                cred = self._reissue_expired(run, cred, ist)
            # The decision step (see sim.decision_step), inlined: a call per step cost more
            # than the rest of this loop. Locals and plain increments on purpose.
            now = env._now
            wall = EPOCH + now
            # Verified with the token.* attributes in one positional call (the same checks).
            verification, token_ns = verifiers[spec.environment].verify_attributes(
                cred.token, wall, spec.tool_id, spec.data_class, run.presenter)
            time_ns = self._time_ns
            last = self._time_at
            if now != last or type(now) is not type(last):
                # A new instant: its time namespace, made here (where arrivals are
                # continuous, nearly every request opens an instant: a call each cost more).
                clock = now + WEEK_OFFSET
                time_ns = self._time_ns = {"now": now, "hour": int(clock // 3600) % 24,
                                           "weekday": int(clock // 86400) % 7}
                self._time_at = now
            seq = self._seq
            task_id = run.task_id
            approved = item.approved
            request = make_request(
                principal, spec.action, spec.tool_ns, token_ns,
                spec.resource_ns, spec.request_ns,
                {"id": task_id, "intent": run.intent, "approved": approved, "step": number,
                 "run": run_id},
                run.session_ns, run.chain_ns, time_ns, seq, run.hops)
            decision = engine.decide(request)
            effect = decision.effect
            token_reason = verification.reason
            also: str | None = None
            if effect is _ALLOW:
                outcome = _EXECUTED
            elif effect is _DENY:
                outcome, also = self._refused(request, decision, token_reason)
            else:
                outcome = _AWAITING
            incident = item.incident
            records = spec.records
            tool_id = spec.tool_id
            holder = None if cred.shared else cred.holder
            self._seq = seq + 1
            # The event refers to the request and the decision; what a sink reads of them is
            # rendered when it reads it (see DecisionData).
            event = _new_event(Event, (seq, now, _DECISION, name, _new_event(DecisionData, (
                run_id, run.actors, task_id, number, tool_id, spec.action, spec.resource,
                spec.data_class, spec.system, records, spec.amount, spec.destination,
                cred.jti, holder, token_reason, request, decision, outcome, incident,
                attacker, approved, also))))
            # The run's collector folds it from the values held here (what it would read).
            decided(event, name, decision, outcome, incident, attacker, approved, holder,
                    task_id, run_id, number, tool_id)
            sink = self._sink
            if sink is not None:
                sink(event)
            if outcome is not _EXECUTED or records >= bulk or id(decision) not in quiet:
                self._watch(now, name, tool_id, decision, token_reason, outcome, records, seq,
                            incident)
            if outcome is _EXECUTED:
                # The step takes its duration: a timeout, made lighter (see sim.wakes),
                # appended to its instant's slot (see sim.agenda).
                wake.callbacks = [] if wakeup is None else wakeup
                at = env._now + spec.duration
                slot = normal.get(at)
                if slot is None:  # Agenda.open, inlined
                    slot = normal[at] = deque()
                    heappush(pending, (at, NORMAL, slot))
                slot.append((at, next(eids), wake))
                yield wake  # type: ignore[misc]  # an event as simpy's loop sees one
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
        latency = env._now - run.arrival
        if ok:
            self._emit(_TASK_COMPLETED, name, {
                "task": run.task_id, "run": run.id, "chain": run.actors,
                "latency": latency, "steps": steps, "incident": run.incident})
        else:
            self._emit(_TASK_FAILED, name, {
                "task": run.task_id, "run": run.id, "chain": run.actors,
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

    # --- credentials -------------------------------------------------------------------------

    def _mint_static(self) -> None:
        groups: dict[tuple[str, str], list[AgentState]] = {}
        isolated = bool(self.world.environment_domains)
        for state in self.agents.values():
            # Isolated environments: a secret named across them is one per trust domain.
            domain = self.wallet.domain[state.name] if isolated else ""
            groups.setdefault((state.model.credential or state.name, domain), []).append(state)
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
        if cred is None or not self.renewing:  # nothing is renewed without renew_before
            return cred
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
