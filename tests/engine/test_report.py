"""Accountability report built from real runs and real audit logs."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from engine.audit import AuditWriter, derive_signing_key, iter_records, verify_log
from engine.report import (
    AccountabilityReport,
    Attempt,
    LogStatus,
    RuleInfo,
    StepFacts,
    build_report,
    policy_rules,
    read_log_header,
)
from scenarios.library import load_scenario
from sim.events import Event, EventKind
from sim.runner import Simulation
from tests.sim.support import base, policy, scenario

BUILTIN = "support-pii-injection"
HOSTILE = '<script>alert("owned")</script> & <b>bold</b>'


def facts_sink(facts: dict[int, StepFacts]) -> Any:
    def sink(event: Event) -> None:
        if event.kind == EventKind.DECISION:
            facts[event.seq] = StepFacts(bool(event.data["approved"]),
                                         str(event.data["token_reason"]))
        elif event.kind == EventKind.APPROVAL_RESOLVED and event.data["decision"] in facts:
            old = facts[event.data["decision"]]
            facts[event.data["decision"]] = StepFacts(old.approved, old.token_reason,
                                                      str(event.data["outcome"]))
    return sink


def builtin_run(tmp_path: Path, profile: str, *, with_facts: bool = True
                ) -> tuple[AccountabilityReport, Path]:
    """Run the built-in support scenario into a real audit log and report it."""
    s = load_scenario(BUILTIN)
    path = tmp_path / f"{profile}.audit.jsonl"
    facts: dict[int, StepFacts] = {}
    with AuditWriter(path, derive_signing_key(profile), run_id=profile,
                     meta={"scenario": s.name, "profile": profile, "seed": s.seed}) as log:
        result = Simulation(s, profile, audit=log,
                            sink=facts_sink(facts) if with_facts else None).run()
    verdict = verify_log(path)
    report = build_report(iter_records(path), scenario=s, profile=profile, seed=s.seed,
                          run=verdict.run, result=result.to_dict(),
                          facts=facts if with_facts else None,
                          log=LogStatus(verdict.ok, verdict.records, verdict.checkpoints,
                                        verdict.message))
    return report, path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AccountabilityReport]:
    tmp = tmp_path_factory.mktemp("reports")
    return {p: builtin_run(tmp, p)[0] for p in ("static-rbac", "jit-context")}


def injected(report: AccountabilityReport, tool: str) -> list[Attempt]:
    return [a for a in report.attempts if a.incident == "ticket-injection" and a.tool == tool]


def test_static_rbac_lets_the_injected_export_and_email_through(
        reports: dict[str, AccountabilityReport]) -> None:
    report = reports["static-rbac"]
    for tool in ("crm.export_customers", "email.send_external"):
        (row,) = injected(report, tool)
        assert row.stopped is False
        assert row.outcome == "executed"
        assert row.stopped_by == "allowed by rule support-agent-role"
        assert row.envelope == "business"
        assert ("business", "cx-lead") in row.accountable
        assert ("incident", "soc-oncall") in row.accountable
        assert {"ASI01", "LLM01:2025", "T6", "MEASURE 2.4"} <= set(row.refs)
    # not-stopped rows lead the report
    assert all(a.stopped is False for a in report.attempts[:2])
    assert report.not_stopped == 2 and report.stopped == 0


def test_jit_context_stops_the_injected_export_by_the_token_check(
        reports: dict[str, AccountabilityReport]) -> None:
    report = reports["jit-context"]
    (row,) = injected(report, "crm.export_customers")
    assert row.stopped is True
    assert row.effect == "deny" and row.reason == "invalid_token"
    assert row.token_reason == "out_of_scope"
    assert row.stopped_by == "token check (out_of_scope)"
    assert row.envelope == "security"
    assert row.accountable[0] == ("security", "appsec")
    assert {"NHI5:2025", "ASI03", "ASI01"} <= set(row.refs)
    # the export was refused, so the hijacked run never reached the email step
    assert injected(report, "email.send_external") == []


def test_the_hijacked_runs_legitimate_ticket_read_is_not_an_attempt(
        reports: dict[str, AccountabilityReport]) -> None:
    for report in reports.values():
        assert injected(report, "helpdesk.read_ticket") == []


def test_attempt_counts_agree_with_the_simulators_metric(
        tmp_path: Path, reports: dict[str, AccountabilityReport]) -> None:
    s = load_scenario(BUILTIN)
    for profile, report in reports.items():
        metric = Simulation(s, profile).run().to_dict()["out_of_scope"]
        off_plan = [a for a in report.attempts if a.off_plan]
        assert sum(a.count for a in off_plan) == metric["attempts"]
        assert sum(a.count for a in off_plan if a.stopped) == metric["stopped"]
        assert all(a.off_plan is not None for a in report.attempts)


def test_incident_entry_says_what_it_reached_and_what_stopped_it(
        reports: dict[str, AccountabilityReport]) -> None:
    (loose,) = reports["static-rbac"].incidents
    (held,) = reports["jit-context"].incidents
    assert loose.kind == "prompt_injection" and loose.victim == "support-bot"
    assert loose.reached["records"] >= 250_000 and loose.stopped == 0
    assert loose.how == "quarantine" and loose.detected_at is not None
    assert held.stopped == 1 and held.stopped_by == ("token check (out_of_scope)",)
    assert held.reached["records"] <= 100
    assert {"ASI01", "T6", "L3"} <= set(held.refs)
    assert dict(held.owners) == {"business": "cx-lead", "security": "appsec",
                                 "incident": "soc-oncall"}


def test_markdown_names_owners_and_references(reports: dict[str, AccountabilityReport]
                                              ) -> None:
    text = reports["static-rbac"].to_markdown()
    assert text.startswith("# Accountability report: support-pii-injection under static-rbac")
    assert "NOT STOPPED: support-bot → crm.export_customers" in text
    assert "cx-lead (Dana Ortiz)" in text
    assert "**ASI01**: Agent Goal Hijack" in text
    assert "FAILED" not in text


def test_the_log_alone_gives_the_same_attempts_as_the_run(tmp_path: Path) -> None:
    # The plan check from the scenario stands in for the event stream's approved flag.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for profile in ("static-rbac", "jit-context"):
        with_events, _ = builtin_run(tmp_path / "a", profile)
        alone, _ = builtin_run(tmp_path / "b", profile, with_facts=False)
        key = [(a.incident, a.tool, a.count, a.stopped, a.off_plan)
               for a in with_events.attempts]
        assert key == [(a.incident, a.tool, a.count, a.stopped, a.off_plan)
                       for a in alone.attempts]


def test_same_log_gives_the_same_bytes(tmp_path: Path) -> None:
    _, path = builtin_run(tmp_path, "jit-context")
    s = load_scenario(BUILTIN)
    header = read_log_header(path)
    assert header["meta"] == {"scenario": BUILTIN, "profile": "jit-context", "seed": s.seed}

    def render() -> tuple[str, str]:
        r = build_report(iter_records(path), scenario=s, profile="jit-context")
        return r.to_markdown(), r.to_html()

    assert render() == render()


def test_policy_rules_carry_their_frameworks() -> None:
    rules, legal = policy_rules(load_scenario(BUILTIN), "jit-context")
    assert legal == "dpo"
    assert rules["no-pii-export"].envelope == "legal"
    assert "pii-then-external-email" in rules  # sequences too


# --- a small estate: an ownerless agent, a hostile description, a rule that stops ------------

def mini_data() -> dict[str, Any]:
    data = base()
    data["agents"].append({
        "name": "orphan", "description": HOSTILE, "roles": ["reader"],
        "owners": {"business": "own"},
        "tasks": [{"id": "browse", "arrival": {"kind": "fixed", "interval": "30m"},
                   "steps": [{"tool": "wiki.read", "records": 1, "duration": "5s"}]}]})
    data["incidents"] = [{
        "id": "inj", "kind": "prompt_injection", "at": "30m", "agent": "worker",
        "description": "hidden instructions", "frameworks": ["ASI-01"],
        "plan": [{"tool": "crm.read", "records": 1, "duration": "5s"},
                 {"tool": "crm.export", "records": 5000, "duration": "5s"},
                 {"tool": "mail.out", "records": 5000, "destination": "external",
                  "duration": "5s"}]}]
    return data


STOP_EXPORT = {"policy": "stop-export", "rules": [
    {"id": "everything", "envelope": "security", "effect": "allow"},
    {"id": "no-export", "envelope": "legal", "effect": "deny",
     "target": {"tools": ["crm.export"]}, "frameworks": ["LLM02:2025", "NHI5"]}],
    "legal_owner": "own"}


def mini_report(tmp_path: Path, pol: dict[str, Any]) -> AccountabilityReport:
    s = scenario(mini_data())
    path = tmp_path / "mini.audit.jsonl"
    with AuditWriter(path, derive_signing_key(1), run_id="mini") as log:
        Simulation(s, "static", policy=policy(s, pol), audit=log).run()
    rules = {r["id"]: RuleInfo(r["id"], r["envelope"], r["effect"], "",
                               tuple(r.get("frameworks", ()))) for r in pol["rules"]}
    return build_report(iter_records(path), scenario=s, profile="static", rules=rules,
                        legal_owner=pol.get("legal_owner"))


def test_an_agent_without_owners_is_called_out_first(tmp_path: Path) -> None:
    report = mini_report(tmp_path, STOP_EXPORT)
    (gap,) = report.owner_gaps
    assert gap.agent == "orphan" and gap.missing == ("security", "incident")
    text = report.to_markdown()
    first = text.index("## Agents missing owners")
    assert first < text.index("## Incidents") < text.index("## Out-of-scope attempts")
    section = text[first:text.index("## Incidents")]
    assert "| orphan | security, incident | own (Owner) | NONE NAMED | NONE NAMED |" in section
    assert "GOVERN 2.1" in section
    escaped = r'\<script\>alert("owned")\</script\> & \<b\>bold\</b\>'
    assert f"- **orphan**: {escaped}" in section


def test_a_rule_that_stops_an_attempt_is_named_with_its_own_frameworks(tmp_path: Path) -> None:
    report = mini_report(tmp_path, STOP_EXPORT)
    (row,) = [a for a in report.attempts if a.tool == "crm.export"]
    assert row.stopped is True and row.stopped_by == "rule no-export"
    assert row.envelope == "legal" and row.accountable[0] == ("legal", "own")
    assert {"LLM02:2025", "NHI5:2025", "ASI01", "L6"} <= set(row.refs)
    (incident,) = report.incidents
    assert incident.stopped_by == ("rule no-export",)


def test_html_parses_and_escapes_a_hostile_description(tmp_path: Path) -> None:
    report = mini_report(tmp_path, STOP_EXPORT)
    page = report.to_html()

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.text: list[str] = []

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.tags.append(tag)

        def handle_data(self, data: str) -> None:
            self.text.append(data)

    parsed = Collect()
    parsed.feed(page)
    parsed.close()
    assert "script" not in parsed.tags and "b" in parsed.tags  # only our own <b>
    assert HOSTILE in "".join(parsed.text)
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; &amp;" in page
    assert "@media print" in page and page.startswith("<!DOCTYPE html>")


def test_markdown_escapes_markup_in_values(tmp_path: Path) -> None:
    data = mini_data()
    data["incidents"][0]["description"] = "a | b <img src=x onerror=alert(1)>"
    s = scenario(data)
    report = build_report([], scenario=s, profile="static", rules={})
    text = report.to_markdown()
    assert "a \\| b \\<img src=x onerror=alert(1)\\>" in text


def test_a_log_that_fails_verification_puts_a_warning_at_the_top(tmp_path: Path) -> None:
    _, path = builtin_run(tmp_path, "static-rbac")
    lines = path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[5])
    record["records"] = 0
    lines[5] = json.dumps(record).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    verdict = verify_log(path)
    assert not verdict.ok
    report = build_report(iter_records(path), scenario=load_scenario(BUILTIN),
                          profile="static-rbac",
                          log=LogStatus(verdict.ok, verdict.records, verdict.checkpoints,
                                        verdict.message))
    text = report.to_markdown()
    assert text.splitlines()[2].startswith("> **WARNING: this audit log FAILED verification")
    assert 'role="alert"' in report.to_html()


def test_without_a_scenario_the_log_still_reports_attempts_and_owner_gaps() -> None:
    records = [{
        "seq": 1, "event": 9, "time": 60.0, "agent": "spiffe://x.example/agent/bot",
        "agent_name": "bot", "chain": ["bot", "boss"], "task": "t", "tool": "db.dump",
        "resource": "db.users", "data_class": "pii", "records": 10,
        "decision": {"effect": "deny", "reason": "no_matching_allow", "rule": None,
                     "matched": [], "envelope": None, "owner": None},
        "owners": {"business": "b", "security": None, "incident": None},
        "outcome": "blocked", "incident": None, "attacker": False}]
    report = build_report(records)
    (row,) = report.attempts
    assert row.on_behalf_of == ("boss",) and row.stopped_by == "default deny: no rule allows it"
    assert "LLM06:2025" in row.refs
    assert report.owner_gaps[0].agent == "bot"
    assert "bot on behalf of boss" in report.to_markdown()
