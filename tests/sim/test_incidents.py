"""Incidents, detection and responses on small scenarios built in Python."""

from __future__ import annotations

import copy
import random
import statistics
from typing import Any

import pytest

from sim.events import Event
from tests.sim.support import base, kinds, run

READS_AND_MAIL = {"policy": "p", "legal_owner": "own", "rules": [
    {"id": "reads", "envelope": "security", "effect": "allow", "target": {"actions": ["read"]}},
    {"id": "send", "envelope": "security", "effect": "allow", "target": {"tools": ["mail.out"]}},
    {"id": "export", "envelope": "security", "effect": "allow",
     "target": {"tools": ["crm.export"]}},
    {"id": "no-export", "envelope": "legal", "effect": "deny", "mode": "shadow",
     "target": {"tools": ["crm.export"]}}]}

EXFIL = [{"tool": "crm.export", "records": 5000, "duration": "1m"},
         {"tool": "mail.out", "records": 5000, "destination": "external", "duration": "10s"}]


def with_incident(**incident: Any) -> dict[str, Any]:
    data = base()
    data["incidents"] = [{"id": "inc", "agent": "worker", "plan": EXFIL, **incident}]
    return data


def incident_decisions(events: list[Event]) -> list[Event]:
    return [e for e in kinds(events, "decision") if e.data["incident"] == "inc"]


def test_prompt_injection_replaces_the_plan_of_a_run_started_at_its_time() -> None:
    sim, events = run(with_incident(kind="prompt_injection", at="25m"), "static",
                      READS_AND_MAIL)
    steps = incident_decisions(events)
    assert [(e.time, e.data["tool"], e.data["outcome"]) for e in steps] == [
        (1500.0, "crm.export", "executed"), (1560.0, "mail.out", "executed")]
    assert {e.data["run"] for e in steps} == {"worker/job!inc#1"}
    assert all(e.data["approved"] is False for e in steps)
    started = next(e for e in kinds(events, "incident"))
    assert started.time == 1500.0 and started.data["frameworks"][0] == "ASI01"
    result = sim.result()
    assert result.metric("out_of_scope.attempts") == 2
    assert result.metric("out_of_scope.stopped") == 0
    assert result.metric("blast_radius.records") == 5000
    assert result.metric("blast_radius.egress_records") == 5000
    # Nobody responded and the static token still works: never contained.
    assert result.metric("time_to_contain") is None
    assert result.metric("blast_radius.exposure_window") == 7200.0 - 1500.0


def test_task_scoped_tokens_stop_an_injected_goal_and_contain_it() -> None:
    sim, events = run(with_incident(kind="prompt_injection", at="25m"), "jit", READS_AND_MAIL)
    steps = incident_decisions(events)
    assert [(e.data["tool"], e.data["token_reason"], e.data["outcome"]) for e in steps] == [
        ("crm.export", "out_of_scope", "blocked")]
    result = sim.result()
    assert result.metric("out_of_scope.stopped") == 1
    assert result.metric("blast_radius.records") == 0
    incident = result.metric("incidents")[0]
    assert incident["how"] == "blocked" and incident["time_to_contain"] == 0.0
    assert result.metric("time_to_detect") == 0.0  # the refused token raised an alert


def test_detection_triggers_a_response_after_its_delay() -> None:
    data = with_incident(kind="prompt_injection", at="25m")
    data["responses"] = [{"id": "q", "kind": "quarantine_agent", "agent": "worker",
                          "delay": "5m"}]
    _sim, events = run(data, "static", READS_AND_MAIL)
    alerts = [e for e in kinds(events, "alert") if e.data["incident"] == "inc"]
    assert alerts[0].time == 1500.0 and alerts[0].data["reason"] in ("shadow", "threshold")
    response = kinds(events, "response")[0]
    assert response.time == 1800.0 and response.data["trigger"] == "detection"
    contained = kinds(events, "contained")[0]
    assert contained.data == {"incident": "inc", "how": "quarantine"}
    (figures,) = _sim.result().to_dict()["incidents"]
    assert (figures["time_to_detect"], figures["time_to_contain"],
            figures["exposure_window"]) == (0.0, 300.0, 300.0)
    later = [e for e in kinds(events, "task_started") if e.time > 1800.0
             and e.agent == "worker"]
    failed = {e.data["run"] for e in kinds(events, "task_failed")
              if e.data["reason"] == "quarantined"}
    assert later and all(e.data["run"] in failed for e in later)


def test_a_response_is_dropped_when_its_incident_was_contained_first() -> None:
    data = with_incident(kind="prompt_injection", at="25m")
    data["responses"] = [{"id": "q", "kind": "quarantine_agent", "agent": "worker",
                          "delay": "5m"}]
    sim, events = run(data, "jit", READS_AND_MAIL)
    assert kinds(events, "response") == []
    assert sim.result().metric("delivery.tasks_completed") == 12


def test_a_scheduled_response_fires_at_its_time() -> None:
    data = with_incident(kind="rogue_agent", at="25m", repeat_every="5m")
    data["responses"] = [{"id": "r", "kind": "revoke_token", "agent": "worker",
                          "trigger": "at", "at": "40m"}]
    sim, events = run(data, "static", READS_AND_MAIL)
    revoked = kinds(events, "token_revoked")
    assert [(e.time, e.data["reason"]) for e in revoked] == [(2400.0, "response")]
    incident = sim.result().metric("incidents")[0]
    assert incident["how"] == "revoked" and incident["time_to_contain"] == 900.0
    after = [e for e in incident_decisions(events) if e.time > 2400.0]
    assert after and all(e.data["outcome"] == "revoked" for e in after)


def test_a_rogue_agent_keeps_going_under_jit_until_quarantined() -> None:
    data = with_incident(kind="rogue_agent", at="25m", repeat_every="5m")
    data["responses"] = [{"id": "q", "kind": "quarantine_agent", "agent": "worker",
                          "trigger": "at", "at": "60m"}]
    sim, events = run(data, "jit", READS_AND_MAIL)
    runs = {e.data["run"] for e in incident_decisions(events)}
    assert len(runs) >= 7  # its own every 5m plus every scheduled run, all hijacked
    incident = sim.result().metric("incidents")[0]
    assert incident["how"] == "quarantine" and incident["time_to_contain"] == 2100.0
    assert not [e for e in incident_decisions(events) if e.time > 3600.0]


def test_memory_poisoning_appends_the_goal_to_every_later_run() -> None:
    data = with_incident(kind="memory_poisoning", at="25m")
    data["incidents"][0]["plan"] = [{"tool": "wiki.read", "records": 300}]
    sim, events = run(data, "jit", READS_AND_MAIL)
    run4 = [e for e in kinds(events, "decision") if e.data["run"] == "worker/job#4"]
    assert [(e.data["tool"], e.data["incident"]) for e in run4] == [
        ("crm.read", None), ("wiki.read", None), ("wiki.read", "inc")]
    result = sim.result()
    assert result.metric("blast_radius.records") == 300
    assert result.metric("delivery.benign_steps") == 24  # the poisoned steps are not benign
    assert result.metric("incidents")[0]["open"] is True


def bearer_theft(ttl: str, **extra: Any) -> dict[str, Any]:
    data = with_incident(kind="credential_theft", at="25m", repeat_every="1m", **extra)
    data["profiles"][1]["credentials"].update(ttl=ttl, sender_constrained=False,
                                              revoke_on_completion=False)
    return data


def test_a_thief_replays_a_stolen_bearer_token_until_it_expires() -> None:
    sim, events = run(bearer_theft("30m"), "jit", READS_AND_MAIL)
    replays = [e for e in incident_decisions(events) if e.data["attacker"]]
    stolen = {e.data["jti"] for e in replays}
    assert len(stolen) == 1
    token = next(e for e in kinds(events, "token_issued") if e.data["jti"] in stolen)
    assert token.time == 1200.0  # the victim's most recent token at 25m
    assert replays[0].time == 1500.0
    assert all(e.time < token.data["exp"] for e in replays if e.data["outcome"] == "executed")
    assert replays[-1].data["outcome"] == "expired"
    incident = sim.result().metric("incidents")[0]
    assert incident["how"] == "expired"
    assert incident["exposure_window"] == pytest.approx(token.data["exp"] - 1500.0)


def test_a_sender_constrained_token_is_useless_to_a_thief() -> None:
    sim, events = run(with_incident(kind="credential_theft", at="25m", repeat_every="1m"),
                      "jit", READS_AND_MAIL)
    replays = [e for e in incident_decisions(events) if e.data["attacker"]]
    assert [e.data["token_reason"] for e in replays] == ["holder_mismatch"]
    incident = sim.result().metric("incidents")[0]
    assert (incident["how"], incident["exposure_window"]) == ("sender_constrained", 0.0)
    assert incident["blast_radius"]["records"] == 0


def test_theft_exposure_window_averages_half_the_ttl() -> None:
    # Checks against theory: JIT tokens back to back (a run every TTL), thefts at uniformly
    # random times, no revocation: the exposure left in a token's life is uniform on
    # [0, TTL], so its mean is TTL/2.
    ttl = 300.0
    rng = random.Random(2024)
    data = base(duration="40h")
    data["agents"][0]["tasks"][0]["arrival"] = {"kind": "fixed", "interval": ttl}
    data["agents"][0]["tasks"][0]["steps"] = [{"tool": "wiki.read", "records": 1,
                                               "duration": "1s"}]
    data["incidents"] = [
        {"id": f"t{i}", "kind": "credential_theft", "agent": "worker",
         "at": round(rng.uniform(600.0, 39 * 3600.0), 3),
         "plan": [{"tool": "wiki.read", "records": 1, "duration": "1s"}]}
        for i in range(1000)]
    data["profiles"][1]["credentials"].update(ttl=ttl, sender_constrained=False,
                                              revoke_on_completion=False)
    sim, _ = run(data, "jit", READS_AND_MAIL, record_decisions=False)
    windows = [i["exposure_window"] for i in sim.result().metric("incidents")]
    assert len(windows) == 1000 and all(0.0 <= w <= ttl for w in windows)
    assert abs(statistics.fmean(windows) - ttl / 2) / (ttl / 2) < 0.05


def test_vendor_compromise_mints_fresh_tokens_until_the_vendor_is_distrusted() -> None:
    data = copy.deepcopy(base())
    data["vendors"] = [{"id": "acme", "name": "Acme", "trust_domain": "acme.vendor"}]
    data["agents"].append({
        "name": "vbot", "kind": "vendor_hosted", "vendor": "acme", "roles": ["reader"],
        "tasks": [{"id": "sync", "arrival": {"kind": "fixed", "interval": "20m"},
                   "steps": [{"tool": "wiki.read", "records": 3}]}]})
    data["incidents"] = [{"id": "inc", "kind": "vendor_compromise", "at": "30m",
                          "agent": "vbot", "repeat_every": "2m", "plan": EXFIL[:1]}]
    data["responses"] = [{"id": "d", "kind": "distrust_vendor", "vendor": "acme",
                          "delay": "5m"}]
    sim, events = run(data, "jit", READS_AND_MAIL)
    forged = [e for e in kinds(events, "token_issued") if e.data["incident"] == "inc"]
    assert len(forged) == 2 and all(list(e.data["scope"]) == ["*"] for e in forged)  # 30m, 33m
    assert all(e.data["sub"].startswith("spiffe://acme.vendor/") for e in forged)
    incident = sim.result().metric("incidents")[0]
    assert (incident["how"], incident["time_to_contain"]) == ("distrusted", 300.0)
    late = [e for e in kinds(events, "decision") if e.agent == "vbot" and e.time > 2100.0]
    assert late and all(e.data["token_reason"] == "trust_domain_distrusted" for e in late)


def test_overbroad_delegated_admin_acts_with_a_wildcard_delegated_token() -> None:
    data = copy.deepcopy(base())
    data["agents"][0]["tasks"][0]["steps"].append({"delegate": "helper", "task": "lookup"})
    data["incidents"] = [{"id": "inc", "kind": "overbroad_delegated_admin", "at": "25m",
                          "agent": "helper", "plan": EXFIL[:1]}]
    sim, events = run(data, "jit", READS_AND_MAIL)
    grant = next(e for e in kinds(events, "token_issued") if e.data["incident"] == "inc")
    assert list(grant.data["scope"]) == ["*"] and grant.data["actors"] == ["helper"]
    assert grant.data["sub"] == "spiffe://corp.example/agent/worker"
    step = incident_decisions(events)[0]
    assert step.data["chain"] == ("helper", "worker") and step.data["outcome"] == "executed"
    assert sim.result().metric("blast_radius.potential_records") == 5300
