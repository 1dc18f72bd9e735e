"""Runner behaviours on small scenarios built in Python: credentials, delegation, approvals."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sim.events import Event
from sim.runner import Simulation, SimulationError
from tests.sim.support import ALLOW_ALL, base, kinds, policy, run, scenario


def decisions(events: list[Event], **match: Any) -> list[Event]:
    return [e for e in kinds(events, "decision")
            if all(e.data.get(k) == v for k, v in match.items())]


def with_delegation(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["agents"][0]["tasks"][0]["steps"].append({"delegate": "helper", "task": "lookup"})
    return data


def test_each_tool_step_is_one_decision_and_takes_its_duration() -> None:
    sim, events = run(base(), "static")
    first = [e for e in decisions(events) if e.data["run"] == "worker/job#1"]
    assert [(e.time, e.data["tool"], e.data["outcome"]) for e in first] == [
        (0.0, "crm.read", "executed"), (10.0, "wiki.read", "executed")]
    done = [e for e in kinds(events, "task_completed") if e.data["run"] == "worker/job#1"]
    assert done[0].time == 15.0 and done[0].data["latency"] == 15.0
    assert sim.result().metric("delivery.tasks_completed") == 12  # every 10m for 2h


def test_static_profile_mints_one_long_lived_token_per_agent_at_start() -> None:
    _, events = run(base(), "static")
    issued = kinds(events, "token_issued")
    assert [(e.time, e.agent, e.data["mode"]) for e in issued] == [
        (0.0, "worker", "static"), (0.0, "helper", "static")]
    jtis = {e.data["jti"] for e in decisions(events) if e.agent == "worker"}
    assert jtis == {issued[0].data["jti"]}
    assert list(issued[0].data["scope"]) == ["tool:crm.export", "tool:crm.read", "tool:mail.out",
                                       "tool:wiki.read", "data:docs", "data:pii"]


def test_agents_naming_one_credential_share_one_unbound_token() -> None:
    data = base()
    for agent in data["agents"]:
        agent["credential"] = "shared-key"
    data["profiles"][0]["credentials"]["sender_constrained"] = True
    sim, events = run(with_delegation(data), "static")
    issued = kinds(events, "token_issued")
    assert len(issued) == 1
    assert issued[0].data["holders"] == ["helper", "worker"]
    assert issued[0].data["shared"] and not issued[0].data["sender_constrained"]
    assert {e.data["jti"] for e in decisions(events)} == {issued[0].data["jti"]}
    assert sim.result().metric("audit.attributable") == 0


def test_jit_profile_mints_a_task_scoped_token_per_run_and_revokes_it_at_the_end() -> None:
    _, events = run(base(), "jit")
    issued = [e for e in kinds(events, "token_issued") if e.data["run"] == "worker/job#1"]
    assert len(issued) == 1
    token = issued[0].data
    assert token["task"] == "job" and token["sender_constrained"] and token["ttl"] == 300
    assert list(token["scope"]) == ["tool:crm.read", "tool:wiki.read", "data:docs", "data:pii"]
    revoked = [e for e in kinds(events, "token_revoked") if e.data["jti"] == token["jti"]]
    assert revoked[0].time == 15.0 and revoked[0].data["reason"] == "task_completed"


def test_a_delegated_run_uses_a_token_carrying_the_delegator_as_act() -> None:
    _, events = run(with_delegation(base()), "jit")
    child = next(e for e in kinds(events, "task_started")
                 if e.data["delegated_by"] == "worker")
    assert child.agent == "helper" and child.data["chain"] == ("helper", "worker")
    token = next(e for e in kinds(events, "token_issued") if e.data["run"] == child.data["run"])
    assert token.data["sub"] == "spiffe://corp.example/agent/worker"
    assert token.data["actors"] == ["helper"]
    # The delegated scope is the delegate's task scope within the delegator's.
    assert list(token.data["scope"]) == ["tool:wiki.read", "data:docs"]
    step = decisions(events, run=child.data["run"])[0]
    assert step.data["chain"] == ("helper", "worker") and step.data["outcome"] == "executed"
    assert step.data["decision"]["chain"] == {"origin": "worker", "actors": ["helper", "worker"]}


def test_a_delegator_task_token_covers_the_tasks_it_delegates() -> None:
    data = with_delegation(base())
    data["agents"][0]["tasks"][0]["steps"] = [{"delegate": "helper", "task": "lookup"}]
    _, events = run(data, "jit")
    token = next(e for e in kinds(events, "token_issued") if e.data["run"] == "worker/job#1")
    assert list(token.data["scope"]) == ["tool:wiki.read", "data:docs"]


def test_tokens_expire_as_simulated_time_events_and_then_fail() -> None:
    data = base()
    data["profiles"][0]["credentials"]["ttl"] = "25m"
    sim, events = run(data, "static")
    expired = kinds(events, "token_expired")
    assert [e.time for e in expired] == [1500.0, 1500.0]
    late = [e for e in decisions(events) if e.time >= 1500.0]
    assert late and all(e.data["outcome"] == "expired" for e in late)
    assert all(e.data["token_reason"] == "expired" for e in late)
    failed = [e for e in kinds(events, "task_failed") if e.time >= 1500.0]
    assert failed and all(e.data["reason"] == "token" for e in failed)
    assert sim.result().metric("tokens.expired") == 2


def test_renewal_replaces_a_token_before_it_expires() -> None:
    data = base()
    data["profiles"][0]["credentials"].update(ttl="25m", renew_before="10m")
    sim, events = run(data, "static")
    renewed = [e for e in kinds(events, "token_issued") if e.data["renewed_from"]]
    assert renewed and renewed[0].agent == "worker" and renewed[0].time == 1200.0
    assert all(e.data["outcome"] == "executed" for e in decisions(events))
    assert sim.result().metric("tokens.renewed") >= 4


def test_a_jit_run_that_outlives_its_token_asks_for_a_fresh_one() -> None:
    data = base()
    data["agents"][0]["tasks"][0]["steps"][0]["duration"] = "6m"
    _, events = run(data, "jit")
    second = decisions(events, run="worker/job#1")
    assert [e.data["outcome"] for e in second] == ["executed", "executed"]
    issued = [e for e in kinds(events, "token_issued") if e.data["run"] == "worker/job#1"]
    first, fresh = issued
    assert fresh.data["renewed_from"] == first.data["jti"]
    assert fresh.time == second[1].time == 360.0  # asked for when the next step needs it
    assert second[0].data["jti"] == first.data["jti"]
    assert second[1].data["jti"] == fresh.data["jti"]
    # The expired token itself stays dead: whoever copied it cannot use it.
    assert first.data["jti"] in {e.data["jti"] for e in kinds(events, "token_expired")}


def test_a_stolen_jit_token_is_not_renewed_for_the_thief() -> None:
    data = base(incidents=[{"id": "theft", "kind": "credential_theft", "at": "1m",
                            "agent": "worker", "repeat_every": "2m",
                            "plan": [{"tool": "crm.read", "records": 50}]}])
    data["agents"][0]["tasks"][0]["steps"][0]["duration"] = "6m"
    data["profiles"][1]["credentials"]["sender_constrained"] = False  # a bearer token
    _, events = run(data, "jit")
    thief = [e for e in decisions(events) if e.data.get("incident") == "theft"]
    assert thief[0].data["outcome"] == "executed"
    assert thief[-1].data["outcome"] in ("expired", "revoked")
    assert thief[-1].time <= 300.0 + 120.0  # dead by the next replay after its 5m TTL
    assert not [e for e in kinds(events, "token_issued")
                if e.data["renewed_from"] and e.data["incident"] is not None]


APPROVE_MAIL = {"policy": "mail", "rules": [
    {"id": "reads", "envelope": "security", "effect": "allow", "target": {"actions": ["read"]}},
    {"id": "mail-approval", "envelope": "security", "effect": "require_approval",
     "target": {"tools": ["mail.out"]}}]}


def mail_task(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["agents"][0]["tasks"][0]["steps"].append(
        {"tool": "mail.out", "records": 1, "destination": "external", "duration": "5s"})
    return data


def test_require_approval_waits_for_an_approver_then_executes() -> None:
    data = mail_task(base(approvers={"count": 1, "service_time": "2m", "expiry": "30m"}))
    sim, events = run(data, "static", APPROVE_MAIL)
    asked = decisions(events, tool="mail.out")
    assert asked and all(e.data["outcome"] == "awaiting_approval" for e in asked)
    requested = kinds(events, "approval_requested")
    resolved = kinds(events, "approval_resolved")
    assert len(requested) == len(resolved) == len(asked)
    first = resolved[0]
    assert first.data["approved"] and first.data["outcome"] == "executed"
    assert first.data["decision"] == asked[0].seq
    done = next(e for e in kinds(events, "task_completed") if e.data["run"] == "worker/job#1")
    assert done.time == pytest.approx(first.time + 5.0)
    result = sim.result()
    assert result.metric("decisions.require_approval") == len(asked)
    assert result.metric("delivery.approval_wait_mean") == pytest.approx(
        sum(e.data["waited"] for e in resolved) / len(resolved))
    assert result.metric("delivery.task_latency_p95") > 15.0


def test_an_approval_not_given_in_time_expires_and_fails_the_task() -> None:
    data = mail_task(base(approvers={"count": 1, "service_time": "2h", "expiry": "1m"}))
    sim, events = run(data, "static", APPROVE_MAIL)
    resolved = kinds(events, "approval_resolved")
    assert resolved and all(e.data["expired"] and e.data["outcome"] == "expired"
                            for e in resolved)
    assert all(e.data["waited"] == pytest.approx(60.0) for e in resolved)
    failed = [e for e in kinds(events, "task_failed") if e.agent == "worker"]
    assert failed and all(e.data["reason"] == "approval_expired" for e in failed)
    assert sim.result().metric("approvals.expired") == len(resolved)


def test_a_token_that_expires_during_the_approval_wait_is_reissued() -> None:
    data = mail_task(base(approvers={"count": 1, "service_time": "10m", "expiry": "1h"}))
    _sim, events = run(data, "jit", APPROVE_MAIL)
    resolved = kinds(events, "approval_resolved")
    late = [e for e in resolved if e.data["approved"] and e.data["waited"] > 300 - 15]
    assert late and all(e.data["outcome"] == "executed" for e in late)
    renewed = {e.time for e in kinds(events, "token_issued") if e.data["renewed_from"]}
    assert all(e.time in renewed for e in late)


def test_a_token_revoked_during_the_approval_wait_stays_revoked() -> None:
    data = mail_task(base(approvers={"count": 1, "service_time": "10m", "expiry": "1h"}))
    s = scenario(data)
    events: list[Event] = []
    sim = Simulation(s, "jit", policy=policy(s, APPROVE_MAIL), sink=events.append)
    sim.step_until(16.0)  # worker/job#1 has asked for approval of its mail
    assert kinds(events, "approval_requested")
    sim.quarantine("worker")
    sim.run()
    first = next(e for e in kinds(events, "approval_resolved") if e.data["run"] == "worker/job#1")
    assert first.data["outcome"] != "executed"
    assert not [e for e in kinds(events, "token_issued")
                if e.data["renewed_from"] and e.time >= 16.0]


def test_default_deny_blocks_the_step_and_fails_the_task() -> None:
    reads_only = {"policy": "reads", "rules": [
        {"id": "wiki", "envelope": "security", "effect": "allow",
         "target": {"tools": ["wiki.read"]}}]}
    sim, events = run(base(), "static", reads_only)
    first = decisions(events, run="worker/job#1")
    assert [e.data["outcome"] for e in first] == ["blocked"]
    assert first[0].data["decision"]["reason"] == "no_matching_allow"
    failed = next(e for e in kinds(events, "task_failed") if e.data["run"] == "worker/job#1")
    assert failed.data["reason"] == "denied"
    result = sim.result()
    assert result.metric("delivery.benign_denied_rate") == 1.0
    assert result.metric("alerts.deny") >= 1


def test_step_until_advances_to_the_time_and_can_be_resumed() -> None:
    s = scenario(base())
    events: list[Event] = []
    sim = Simulation(s, "static", policy=policy(s, ALLOW_ALL), sink=events.append)
    sim.step_until(600.0)
    assert sim.now == 600.0 and not sim.done
    assert all(e.time < 600.0 for e in events)
    before = len(events)
    sim.step_until(300.0)  # a time already passed changes nothing
    assert len(events) == before
    result = sim.run()
    assert sim.done and sim.now == 7200.0 and result.metric("done") is True
    assert events[-1].kind == "run_ended"


def test_until_stops_the_run_early() -> None:
    s = scenario(base())
    sim = Simulation(s, "static", policy=policy(s, ALLOW_ALL), until=1800.0)
    result = sim.run()
    assert result.metric("time") == 1800.0 and result.metric("delivery.tasks_started") == 3


def test_an_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(SimulationError, match=r"no profile 'nope'.*static, jit"):
        Simulation(scenario(base()), "nope", policy=None)
