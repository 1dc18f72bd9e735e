"""The simulator limits issue 22 lifted: a hijack names its task, a token refusal names the
rule that would also deny, and an internal message that carries data counts in the blast
radius."""

from __future__ import annotations

from typing import Any

from engine.blast import Estate, Realised
from sim.collectors.report import build_report
from tests.sim.support import base, kinds, run, scenario

ALLOW_READS = {"policy": "p", "legal_owner": "own", "rules": [
    {"id": "reads", "envelope": "security", "effect": "allow", "target": {"actions": ["read"]}},
    {"id": "send", "envelope": "security", "effect": "allow", "target": {"tools": ["mail.*"]}},
    {"id": "no-export", "envelope": "legal", "effect": "deny",
     "target": {"tools": ["crm.export"]}, "frameworks": ["LLM02:2025"]}]}


def _two_tasks() -> dict[str, Any]:
    data = base()
    worker = data["agents"][0]
    worker["tasks"].append({"id": "report", "arrival": {"kind": "fixed", "interval": "1h"},
                            "steps": [{"tool": "wiki.read", "records": 1}]})
    return data


def test_an_incident_hijacks_the_task_it_names() -> None:
    data = _two_tasks()
    data["incidents"] = [{"id": "inc", "kind": "prompt_injection", "at": "25m",
                          "agent": "worker", "task": "report",
                          "plan": [{"tool": "crm.read", "records": 50}]}]
    _sim, events = run(data, "static", ALLOW_READS)
    hijacked = [e for e in kinds(events, "decision") if e.data["incident"] == "inc"]
    assert [(e.data["task"], e.data["run"]) for e in hijacked] == [
        ("report", "worker/report!inc#1")]
    # crm.read is not in the report task's plan: off plan there, though the job task reads it.
    assert hijacked[0].data["approved"] is False


def test_without_a_task_named_the_first_scheduled_task_is_hijacked() -> None:
    data = _two_tasks()
    data["incidents"] = [{"id": "inc", "kind": "prompt_injection", "at": "25m",
                          "agent": "worker", "plan": [{"tool": "crm.read", "records": 50}]}]
    _sim, events = run(data, "static", ALLOW_READS)
    hijacked = [e for e in kinds(events, "decision") if e.data["incident"] == "inc"]
    assert [e.data["task"] for e in hijacked] == ["job"]


def test_a_token_refusal_also_names_the_rule_that_would_have_denied_it() -> None:
    data = base()
    data["incidents"] = [{"id": "inc", "kind": "credential_theft", "at": "25m",
                          "agent": "worker",
                          "plan": [{"tool": "crm.export", "records": 5000},
                                   {"tool": "crm.read", "records": 1}]}]
    _sim, events = run(data, "jit", ALLOW_READS)
    refused = [e for e in kinds(events, "decision") if e.data["incident"] == "inc"]
    assert refused and refused[0].data["decision"]["reason"] == "invalid_token"
    assert refused[0].data["also_denied_by"] == "no-export"
    report = build_report(events)
    attempt = next(a for a in report.attempts if a.tool == "crm.export")
    assert "token check" in attempt.stopped_by
    assert "rule no-export would also deny it" in attempt.stopped_by
    assert "LLM02:2025" in attempt.refs


def test_a_token_refusal_the_rules_would_allow_names_no_rule() -> None:
    data = base()
    data["incidents"] = [{"id": "inc", "kind": "credential_theft", "at": "25m",
                          "agent": "worker", "plan": [{"tool": "crm.read", "records": 1}]}]
    _sim, events = run(data, "jit", ALLOW_READS)
    refused = [e for e in kinds(events, "decision") if e.data["incident"] == "inc"]
    assert refused and refused[0].data["decision"]["reason"] == "invalid_token"
    assert "also_denied_by" not in refused[0].data


def test_an_internal_message_carrying_data_counts_in_the_blast_radius() -> None:
    data = base()
    data["tools"].append({"id": "mail.team", "action": "send", "egress": "internal"})
    data["roles"][0]["tools"].append("mail.team")
    data["incidents"] = [{"id": "inc", "kind": "prompt_injection", "at": "25m",
                          "agent": "worker",
                          "plan": [{"tool": "crm.read", "records": 40},
                                   {"tool": "mail.team", "records": 40,
                                    "destination": "internal", "recipient": "helper"}]}]
    sim, _events = run(data, "static", ALLOW_READS)
    assert sim.result().metric("blast_radius.egress_records") == 40


def test_a_message_carrying_nothing_adds_nothing() -> None:
    estate = Estate.of(scenario(base()))
    realised = Realised(estate)
    realised.add("mail.out", None, 0, "internal")
    realised.add("mail.out", None, 7, "internal")
    assert realised.egress_records == 7 and realised.records == 0
