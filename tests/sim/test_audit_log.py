"""What the simulator writes to the audit log: every event of a run, read back as one stream."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from engine.audit.signing import derive_signing_key
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter
from sim.audit_sink import read_events
from sim.collectors.metrics import MetricsCollector
from sim.events import Event
from sim.runner import Simulation
from tests.sim.support import base, policy, scenario

APPROVE_MAIL = {"policy": "mail", "rules": [
    {"id": "reads", "envelope": "security", "effect": "allow", "target": {"actions": ["read"]}},
    {"id": "mail-approval", "envelope": "security", "effect": "require_approval",
     "target": {"tools": ["mail.out"]}}]}


def with_mail(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["agents"][0]["tasks"][0]["steps"].append(
        {"tool": "mail.out", "records": 1, "destination": "external", "duration": "5s"})
    return data


def logged_run(tmp_path: Path, data: dict[str, Any], until: float | None = None
               ) -> tuple[Simulation, list[Event], list[Event]]:
    s = scenario(data)
    events: list[Event] = []
    log = tmp_path / "run.audit.jsonl"
    with AuditWriter(log, derive_signing_key(1), run_id="t") as audit:
        sim = Simulation(s, "static", policy=policy(s, APPROVE_MAIL), sink=events.append,
                         audit=audit, until=until)
        sim.run()
    assert verify_log(log).ok
    return sim, events, list(read_events(log))


def test_the_log_holds_the_stream_and_reads_back_as_the_same_events(tmp_path: Path) -> None:
    data = with_mail(base(approvers={"count": 1, "service_time": "2m", "expiry": "30m"}))
    sim, events, logged = logged_run(tmp_path, data)
    assert [e.to_json() for e in logged] == [e.to_json() for e in events]
    assert MetricsCollector.of(logged, audited=True).result().to_dict() == \
        sim.result().to_dict()
    assert sim.result().metric("audit.logged") == sim.result().metric("decisions.total")


def test_a_decision_held_for_approval_is_followed_by_the_approvers_verdict(
        tmp_path: Path) -> None:
    data = with_mail(base(approvers={"count": 1, "service_time": "2m", "expiry": "30m"}))
    _, _, logged = logged_run(tmp_path, data)
    held = [e for e in logged if e.kind == "decision"
            and e.data["decision"]["effect"] == "require_approval"]
    resolved = {e.data["decision"]: e for e in logged if e.kind == "approval_resolved"}
    assert held and all(e.seq in resolved for e in held)
    for event in held:
        assert event.data["outcome"] == "awaiting_approval"
        assert resolved[event.seq].time > event.time  # the decision's own time is kept
    request = held[0].data["request"]
    assert request["tool"]["id"] == "mail.out" and request["token"]["valid"] is True


def test_approvals_still_pending_when_the_run_ends_have_no_verdict(tmp_path: Path) -> None:
    data = with_mail(base(approvers={"count": 1, "service_time": "3h", "expiry": "5h"}))
    sim, _, logged = logged_run(tmp_path, data, until=3600.0)
    waiting = {e.seq for e in logged if e.kind == "decision"
               and e.data["outcome"] == "awaiting_approval"}
    resolved = {e.data["decision"] for e in logged if e.kind == "approval_resolved"}
    assert waiting - resolved
    assert logged[-1].kind == "run_ended"
    assert sim.result().metric("approvals.requested") == len(resolved)
