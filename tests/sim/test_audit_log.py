"""What the simulator writes to the audit log: one record per decision, with its final outcome."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from engine.audit.query import iter_records
from engine.audit.signing import derive_signing_key
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter
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
               ) -> tuple[Simulation, list[Event], list[dict[str, Any]]]:
    s = scenario(data)
    events: list[Event] = []
    log = tmp_path / "run.audit.jsonl"
    with AuditWriter(log, derive_signing_key(1), run_id="t") as audit:
        sim = Simulation(s, "static", policy=policy(s, APPROVE_MAIL), sink=events.append,
                         audit=audit, until=until)
        sim.run()
    assert verify_log(log).ok
    return sim, events, list(iter_records(log))


def test_a_decision_held_for_approval_is_logged_with_the_approvers_verdict(
        tmp_path: Path) -> None:
    data = with_mail(base(approvers={"count": 1, "service_time": "2m", "expiry": "30m"}))
    sim, events, records = logged_run(tmp_path, data)
    decisions = [e for e in events if e.kind == "decision"]
    assert len(records) == len(decisions) == sim.result().metric("audit.logged")
    held = [r for r in records if r["decision"]["effect"] == "require_approval"]
    resolved = {e.data["decision"]: e for e in events if e.kind == "approval_resolved"}
    assert held and all(r["event"] in resolved for r in held)
    for record in held:
        verdict = resolved[record["event"]]
        assert record["outcome"] == str(verdict.data["outcome"])
        assert record["approval"]["approved"] == verdict.data["approved"]
        assert record["approval"]["resolved"] == verdict.time
        assert record["time"] < verdict.time  # the decision's own time is kept
    plain = [r for r in records if r["decision"]["effect"] != "require_approval"]
    assert plain and all(r["approval"] is None for r in plain)
    assert all(r["approved"] is True and r["token_reason"] == "ok" for r in records)


def test_approvals_still_pending_when_the_run_ends_are_logged_as_awaiting(
        tmp_path: Path) -> None:
    data = with_mail(base(approvers={"count": 1, "service_time": "3h", "expiry": "5h"}))
    sim, events, records = logged_run(tmp_path, data, until=3600.0)
    decisions = [e for e in events if e.kind == "decision"]
    assert len(records) == len(decisions) == sim.result().metric("audit.logged")
    waiting = [r for r in records if r["outcome"] == "awaiting_approval"]
    assert waiting and all(r["approval"] is None for r in waiting)
