"""Accountability report built from real runs and real audit logs."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from engine.audit.signing import derive_signing_key
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter
from scenarios.library import load_scenario
from sim.audit_sink import log_header, read_events
from sim.collectors.report import build_report
from sim.collectors.report_model import AccountabilityReport, Attempt, LogStatus
from sim.events import Event
from sim.runner import Simulation
from tests.sim.support import base, policy, scenario
from tui.render.report import to_html, to_markdown

BUILTIN = "support-pii-injection"
HOSTILE = '<script>alert("owned")</script> & <b>bold</b>'


def builtin_run(tmp_path: Path, profile: str) -> tuple[AccountabilityReport, Path]:
    """Run the built-in support scenario into a real audit log and report the log."""
    s = load_scenario(BUILTIN)
    path = tmp_path / f"{profile}.audit.jsonl"
    with AuditWriter(path, derive_signing_key(profile), run_id=profile,
                     meta={"scenario": s.name, "profile": profile, "seed": s.seed}) as log:
        Simulation(s, profile, audit=log).run()
    verdict = verify_log(path)
    report = build_report(read_events(path), run=verdict.run,
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
    # The rule that would also have denied it is named too (issue 22).
    assert row.stopped_by == "token check (out_of_scope); rule no-bulk-pii would also deny it"
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
    assert held.stopped == 1 and held.stopped_by == (
        "token check (out_of_scope); rule no-bulk-pii would also deny it",)
    assert held.reached["records"] <= 100
    assert {"ASI01", "T6", "L3"} <= set(held.refs)
    assert dict(held.owners) == {"business": "cx-lead", "security": "appsec",
                                 "incident": "soc-oncall"}


def test_markdown_names_owners_and_references(reports: dict[str, AccountabilityReport]
                                              ) -> None:
    text = to_markdown(reports["static-rbac"])
    assert text.startswith("# Accountability report: support-pii-injection under static-rbac")
    assert "NOT STOPPED: support-bot → crm.export_customers" in text
    assert "cx-lead (Dana Ortiz)" in text
    assert "**ASI01**: Agent Goal Hijack" in text
    assert "FAILED" not in text


def test_the_log_gives_the_same_report_as_the_live_run(tmp_path: Path) -> None:
    s = load_scenario(BUILTIN)
    for profile in ("static-rbac", "jit-context"):
        from_log, _ = builtin_run(tmp_path, profile)
        events: list[Event] = []
        Simulation(s, profile, sink=events.append).run()
        live = build_report(events, run=profile, log=from_log.log)
        assert live.to_dict() == from_log.to_dict()


def test_same_log_gives_the_same_bytes(tmp_path: Path) -> None:
    _, path = builtin_run(tmp_path, "jit-context")
    s = load_scenario(BUILTIN)
    header = log_header(path)
    assert header["meta"] == {"scenario": BUILTIN, "profile": "jit-context", "seed": s.seed}

    def render() -> tuple[str, str, str]:
        r = build_report(read_events(path))
        return to_markdown(r), to_html(r), json.dumps(r.to_dict(), sort_keys=True)

    assert render() == render()


def test_the_run_names_each_rule_with_its_envelope_and_the_legal_owner() -> None:
    events: list[Event] = []
    Simulation(load_scenario(BUILTIN), "jit-context", sink=events.append, until=0.0).run()
    header = events[0].data
    assert header["legal_owner"] == "dpo"
    assert header["rules"]["no-pii-export"]["envelope"] == "legal"
    assert "pii-then-external-email" in header["rules"]  # sequences too


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


def mini_report(tmp_path: Path, pol: dict[str, Any],
                data: dict[str, Any] | None = None) -> AccountabilityReport:
    s = scenario(data or mini_data())
    path = tmp_path / "mini.audit.jsonl"
    with AuditWriter(path, derive_signing_key(1), run_id="mini") as log:
        Simulation(s, "static", policy=policy(s, pol), audit=log).run()
    return build_report(read_events(path))


def test_an_agent_without_owners_is_called_out_first(tmp_path: Path) -> None:
    report = mini_report(tmp_path, STOP_EXPORT)
    (gap,) = report.owner_gaps
    assert gap.agent == "orphan" and gap.missing == ("security", "incident")
    text = to_markdown(report)
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
    page = to_html(report)

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
    text = to_markdown(mini_report(tmp_path, STOP_EXPORT, data))
    assert "a \\| b \\<img src=x onerror=alert(1)\\>" in text


def test_a_log_that_fails_verification_puts_a_warning_at_the_top(tmp_path: Path) -> None:
    _, path = builtin_run(tmp_path, "static-rbac")
    lines = path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[5])
    record["data"]["records"] = 0
    lines[5] = json.dumps(record).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    verdict = verify_log(path)
    assert not verdict.ok
    report = build_report(read_events(path),
                          log=LogStatus(verdict.ok, verdict.records, verdict.checkpoints,
                                        verdict.message))
    text = to_markdown(report)
    assert text.splitlines()[2].startswith("> **WARNING: this audit log FAILED verification")
    assert 'role="alert"' in to_html(report)


def test_events_alone_report_attempts_and_owner_gaps() -> None:
    agents = [{"name": "bot", "spiffe_id": "spiffe://x.example/agent/bot",
               "owners": {"business": "b", "security": None, "incident": None}},
              {"name": "boss", "spiffe_id": "spiffe://x.example/agent/boss",
               "owners": {"business": "b", "security": "s", "incident": "i"}}]
    started = {"scenario": "x", "profile": "p", "seed": 1, "duration": 60.0,
               "agents": agents, "rules": {}, "owners": {}}
    decision = {
        "run": "boss/t#1/1>bot/t", "chain": ["bot", "boss"], "task": "t", "step": 1,
        "tool": "db.dump", "action": "read", "resource": "db.users", "data_class": "pii",
        "system": "db", "records": 10, "amount": None, "destination": None, "jti": "j",
        "holder": "bot", "token_reason": "ok",
        "decision": {"effect": "deny", "reason": "no_matching_allow", "rule": None,
                     "matched": [], "envelope": None, "owner": None},
        "outcome": "blocked", "incident": None, "attacker": False, "approved": True}
    events = [Event.from_dict({"seq": 0, "time": 0.0, "kind": "run_started", "agent": None,
                               "data": started}),
              Event.from_dict({"seq": 1, "time": 60.0, "kind": "decision", "agent": "bot",
                               "data": decision})]
    report = build_report(events)
    (row,) = report.attempts
    assert row.on_behalf_of == ("boss",) and row.stopped_by == "default deny: no rule allows it"
    assert "LLM06:2025" in row.refs
    assert [g.agent for g in report.owner_gaps] == ["bot"]
    assert "bot on behalf of boss" in to_markdown(report)
