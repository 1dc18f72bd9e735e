"""The decision step: a tool step becomes a verified request, a decision and its event.

The hot path runs once per tool step, inlined in the task loop
(:meth:`sim.task_runs.TaskRuns._task`: a call per step was ~1,400 instructions of a static
tool call's): it verifies the run's token, builds the request (sharing the ``time`` namespace
among the requests of one simulated instant), asks the
engine, emits the ``decision`` event (a tuple referring to the request and the decision:
nothing is rendered until a sink reads it) and folds it into the run's collector. This part
holds what that path calls only sometimes: the outcome of a denial (:meth:`_refused`), the
detector for a step that could be flagged (:meth:`_watch`), and a ``require_approval`` step's
wait for the approvers (:meth:`_approval`), whose answer is checked against the token again.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from engine.policy import Request
from engine.policy.decision import Decision, Effect, Reason
from sim.approvals import ApprovalResult
from sim.events import EventKind, Outcome
from sim.state import PlanItem, SimulationState, TaskRun
from sim.wakes import waiting
from sim.wallet import Credential

_DENY = Effect.DENY
_EXECUTED, _BLOCKED = Outcome.EXECUTED, Outcome.BLOCKED
_EXPIRED, _REVOKED = Outcome.EXPIRED, Outcome.REVOKED
_INVALID = Reason.INVALID_TOKEN

QUIET_KEPT = 4096
"""Quiet decisions remembered (the engine shares one Decision between the requests it can)."""


class DecisionStep(SimulationState):
    """The part of a simulation that decides tool steps and waits for approvals."""

    # Its state (_bulk, _quiet, _time_at, _time_ns) is declared in SimulationState: the task
    # loop reads it too.

    # --- one request (the rest is inlined in the task loop) -----------------------------------

    def _refused(self, request: Request, decision: Decision, token_reason: str
                 ) -> tuple[Outcome, str | None]:
        """A denied step's outcome, and the rule that would also deny one the token refused."""
        if decision.reason is not _INVALID:
            return _BLOCKED, None
        outcome = (_REVOKED if token_reason == "revoked" else
                   _EXPIRED if token_reason == "expired" else _BLOCKED)
        # Refused by the token: name the rule that would have denied it too.
        verdict = self.engine.rules_verdict(request)
        return outcome, (verdict.rule if verdict.effect is _DENY else None)

    def _watch(self, now: float, agent: str, tool_id: str, decision: Decision,
               token_reason: str, outcome: Outcome, records: int, seq: int,
               incident: str | None) -> None:
        """Hand a decided step to the detector, unless nothing in it could be flagged.

        An executed step under the detector's bulk threshold is flagged only when its
        decision completes a sequence or a shadow rule matched. Both are read through
        forwarding properties (~600 instructions each) and the engine hands one Decision to
        many requests, so a decision found quiet is remembered (by id: the entry keeps it
        alive, so the id stays its own); the task loop skips this call for those.
        """
        if outcome is _EXECUTED and records < self._bulk \
                and not decision.sequences and not decision.shadow:
            quiet = self._quiet
            if len(quiet) >= QUIET_KEPT:
                quiet.clear()
            quiet[id(decision)] = decision
            return
        alerts = self.detector.decision(now, agent, tool_id, decision, token_reason,
                                        records if outcome is _EXECUTED else None)
        if alerts:
            ist = self.incidents.get(incident) if incident is not None else None
            self._raise(alerts, agent, seq, ist)

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
