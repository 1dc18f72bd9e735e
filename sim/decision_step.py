"""The decision step: a tool step becomes a verified request, a decision and its event.

The hot path: :meth:`DecisionStep._decide` runs once per tool step. It verifies the run's
token, builds the request (sharing the ``time`` namespace among the requests of one simulated
instant), asks the engine, emits the ``decision`` event (a tuple referring to the request and
the decision: nothing is rendered until a sink reads it), and hands the step to the detector
only when it could be flagged. A ``require_approval`` step then waits for the approvers
(:meth:`DecisionStep._approval`), whose answer is checked against the token again.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import simpy

from engine.policy import Effect, Request
from engine.policy.decision import Decision, Reason
from engine.policy.request import make_request
from sim.approvals import ApprovalResult
from sim.events import DecisionData, Event, EventKind, Outcome
from sim.state import PlanItem, SimulationState, TaskRun
from sim.wakes import waiting
from sim.wallet import Credential
from sim.world import EPOCH, WEEK_OFFSET

_ALLOW, _DENY = Effect.ALLOW, Effect.DENY
_EXECUTED, _BLOCKED, _AWAITING = Outcome.EXECUTED, Outcome.BLOCKED, Outcome.AWAITING_APPROVAL
_EXPIRED, _REVOKED = Outcome.EXPIRED, Outcome.REVOKED
_INVALID = Reason.INVALID_TOKEN
_DECISION = EventKind.DECISION
_new_event = tuple.__new__

QUIET_KEPT = 4096
"""Quiet decisions remembered (the engine shares one Decision between the requests it can)."""


class DecisionStep(SimulationState):
    """The part of a simulation that decides tool steps and waits for approvals."""

    _bulk: int
    _quiet: dict[int, Decision]
    """Decisions that complete no sequence and match no shadow rule, by id."""
    """Records at or above which an executed step may be flagged (the detector's)."""
    _time_at: float | None
    _time_ns: Mapping[str, Any]
    """The ``time`` namespace of the current simulated instant, shared by its requests."""

    # --- one request -------------------------------------------------------------------------

    def _decide(self, run: TaskRun, item: PlanItem, number: int, cred: Credential
                ) -> tuple[Outcome, Request, int]:
        # The hot path: one call per tool step. Locals and plain increments on purpose (and
        # simpy's clock read directly: its ``now`` is a property).
        now = self.env._now
        wall = EPOCH + now
        spec = item.spec
        assert spec is not None
        verification = self.wallet.verifiers[spec.environment].verify(
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
        task_id = run.task_id
        approved = item.approved
        request = make_request(
            principal, spec.action, spec.tool_ns, verification.attributes(wall),
            spec.resource_ns, spec.request_ns,
            {"id": task_id, "intent": run.intent, "approved": approved, "step": number,
             "run": run.id},
            run.session_ns, run.chain_ns, time_ns, seq, run.hops)
        decision = self.engine.decide(request)
        effect = decision.effect
        token_reason = verification.reason
        also: str | None = None
        if effect is _ALLOW:
            outcome = _EXECUTED
        elif effect is _DENY:
            outcome = _BLOCKED
            if decision.reason is _INVALID:
                if token_reason == "revoked":
                    outcome = _REVOKED
                elif token_reason == "expired":
                    outcome = _EXPIRED
                # Refused by the token: name the rule that would have denied it too.
                verdict = self.engine.rules_verdict(request)
                if verdict.effect is _DENY and verdict.rule is not None:
                    also = verdict.rule
        else:
            outcome = _AWAITING
        agent = state.name
        incident = item.incident
        attacker = run.attacker
        records = spec.records
        run_id = run.id
        tool_id = spec.tool_id
        holder = None if cred.shared else cred.holder
        self._seq = seq + 1
        # The event refers to the request and the decision; what a sink reads of them is
        # rendered when it reads it (see DecisionData).
        event = _new_event(Event, (seq, now, _DECISION, agent, _new_event(DecisionData, (
            run_id, run.actors, task_id, number, tool_id, spec.action, spec.resource,
            spec.data_class, spec.system, records, spec.amount, spec.destination, cred.jti,
            holder, token_reason, request, decision, outcome, incident, attacker, approved,
            also))))
        # The run's collector folds it from the values held here (what it would read back).
        self._decided(event, agent, decision, outcome, incident, attacker, approved, holder,
                      task_id, run_id, number, tool_id)
        sink = self._sink
        if sink is not None:
            sink(event)
        ist = self.incidents.get(incident) if incident is not None else None
        if outcome is _EXECUTED and records < self._bulk:
            # Nothing a detector would flag unless the decision completes a sequence or a
            # shadow rule matched. Both are read through forwarding properties (~600
            # instructions each) and the engine hands one Decision to many requests, so a
            # decision found quiet is remembered (by id: the entry keeps it alive, so the id
            # stays its own).
            quiet = self._quiet
            if id(decision) in quiet:
                return outcome, request, seq
            if not decision.sequences and not decision.shadow:
                if len(quiet) >= QUIET_KEPT:
                    quiet.clear()
                quiet[id(decision)] = decision
                return outcome, request, seq
        alerts = self.detector.decision(now, agent, tool_id, decision, token_reason,
                                        records if outcome is _EXECUTED else None)
        if alerts:
            self._raise(alerts, agent, seq, ist)
        return outcome, request, seq

    def _approval(self, run: TaskRun, item: PlanItem, number: int, cred: Credential,
                  request: Request, seq: int) -> Generator[simpy.Event, Any, Outcome]:
        env = self.env
        spec = item.spec
        assert spec is not None
        agent = run.agent.name
        malicious = item.incident is not None or run.attacker
        pending = self.approvers.submit(malicious)
        self._emit(EventKind.APPROVAL_REQUESTED, agent, {
            "run": run.id, "task": run.task_id, "step": number, "tool": spec.tool_id,
            "queue": self.approvers.waiting, "decision": seq, "incident": item.incident})
        result: ApprovalResult = yield waiting(run.wakeup, pending)
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
                check = self.wallet.verify(cred, spec.tool_id, spec.data_class, run.presenter,
                                           spec.environment)
                if not check.ok and str(check.reason) == "expired" and self.jit:
                    ist = (self.incidents.get(item.incident) if item.incident is not None
                           else None)
                    fresh = self._reissue_expired(run, cred, ist)
                    if fresh is not cred:
                        cred = fresh
                        check = self.wallet.verify(cred, spec.tool_id, spec.data_class,
                                                   run.presenter, spec.environment)
                if not check.ok:
                    reason = str(check.reason)
                    outcome = (_REVOKED if reason == "revoked" else
                               _EXPIRED if reason == "expired" else _BLOCKED)
        self._emit(EventKind.APPROVAL_RESOLVED, agent, {
            "run": run.id, "task": run.task_id, "step": number, "tool": spec.tool_id,
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
        yield waiting(run.wakeup, env.timeout(spec.duration))
        return _EXECUTED
