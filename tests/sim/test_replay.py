"""Replay: a run re-decided under its own policy changes nothing; under another, what we predict."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from engine.model import Scenario
from engine.policy import load_policy, load_profile_policy
from engine.yamldoc import load_yaml
from scenarios.library import load_scenario
from sim.events import Event, EventKind, JsonlSink
from sim.replay import EventsError, read_events, replay
from sim.runner import Simulation

NAME = "support-pii-injection"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(NAME)


@pytest.fixture(scope="module")
def recordings(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, Path]:
    out = {}
    for profile in scenario.profiles:
        path = tmp_path_factory.mktemp("events") / f"{profile.id}.jsonl"
        with path.open("w") as stream:
            Simulation(scenario, profile.id, sink=JsonlSink(stream)).run()
        out[profile.id] = path
    return out


def _decisions(path: Path) -> list[dict]:
    events = [json.loads(line) for line in path.read_text().splitlines()]
    return [e for e in events if e["kind"] == EventKind.DECISION]


@pytest.mark.parametrize("profile", ["static-rbac", "jit-context"])
def test_replay_under_its_own_policy_changes_nothing(scenario: Scenario,
                                                     recordings: dict[str, Path],
                                                     profile: str) -> None:
    recorded = read_events(recordings[profile])
    result = replay(recorded, load_profile_policy(scenario, profile))
    decisions = _decisions(recordings[profile])
    assert result.total == len(decisions) > 100
    assert result.changes == ()
    assert result.rule_changes == 0
    assert result.notes == ()
    recorded_effects = Counter(d["data"]["decision"]["effect"] for d in decisions)
    assert result.new_effects == dict(recorded_effects)


def test_governed_run_under_rbac_loses_its_approvals(scenario: Scenario,
                                                     recordings: dict[str, Path]) -> None:
    # static-rbac allows everything the support role lists, so exactly the requests the
    # governed policy sent to approval become allowed by the role rule, and nothing else moves
    # (its denials were of tools the bot's role does not hold... or of the injected export).
    recorded = read_events(recordings["jit-context"])
    result = replay(recorded, load_profile_policy(scenario, "static-rbac"))
    decisions = _decisions(recordings["jit-context"])
    approvals = [d for d in decisions if d["data"]["decision"]["effect"] == "require_approval"]
    denied_role_tools = [d for d in decisions if d["data"]["decision"]["effect"] == "deny"
                         and d["data"]["token_reason"] == "ok"
                         and d["agent"] == "support-bot"]
    assert len(result.changes) == len(approvals) + len(denied_role_tools)
    assert result.matrix().get(("require_approval", "allow")) == len(approvals)
    for change in result.changes:
        assert change.new_rule == "support-agent-role"
        assert change.new_effect == "allow"
    assert {c.seq for c in result.changes} >= {d["seq"] for d in approvals}


def test_rbac_run_under_the_governed_policy(scenario: Scenario,
                                            recordings: dict[str, Path]) -> None:
    recorded = read_events(recordings["static-rbac"])
    result = replay(recorded, load_profile_policy(scenario, "jit-context"))
    by_tool = {}
    for change in result.changes:
        by_tool.setdefault(change.tool, set()).add((change.old_effect, change.new_effect,
                                                    change.new_rule))
    # The injected bulk export of 250,000 records is now refused by a legal rule (the bulk
    # PII cap comes first in the policy, the export ban would refuse it too).
    assert by_tool["crm.export_customers"] == {("allow", "deny", "no-bulk-pii")}
    # The injected export is denied, so it never executes and the PII-then-email sequence
    # has no first step: the injected email (like every external email) waits for approval.
    assert by_tool["email.send_external"] == {
        ("allow", "require_approval", "external-mail-needs-approval")}
    # Reads and replies within the role are unaffected.
    assert "helpdesk.read_ticket" not in by_tool and "email.reply_customer" not in by_tool
    groups = result.groups()
    assert sum(len(v) for v in groups.values()) == len(result.changes)
    doc = result.to_dict(examples=2)
    assert doc["changed"] == len(result.changes)
    assert all(len(g["examples"]) <= 2 for g in doc["groups"])


def test_replay_evolves_sequence_state_from_replayed_decisions(
        scenario: Scenario, recordings: dict[str, Path], tmp_path: Path) -> None:
    # The governed policy without its export bans: the injected export now executes under
    # the replay, which records the first step of the PII-then-email sequence in the session,
    # so the email that follows completes it and is denied.
    text = Path(str(scenario.base / "policies" / "jit-context.yaml")).read_text()
    doc = load_yaml(text, "jit-context.yaml").data
    doc["rules"] = [r for r in doc["rules"] if r["id"] not in ("no-bulk-pii", "no-pii-export")]
    doc["rules"].append({"id": "exports", "envelope": "security", "effect": "allow",
                         "target": {"tools": ["crm.export_customers"]}})
    path = tmp_path / "lenient.yaml"
    path.write_text(json.dumps(doc))
    result = replay(read_events(recordings["static-rbac"]),
                    load_policy(path, scenario))
    injected = [c for c in result.changes if c.incident == "ticket-injection"]
    sends = {(c.new_effect, c.new_rule) for c in injected if c.tool == "email.send_external"}
    assert sends == {("deny", "pii-then-external-email")}
    assert not any(c.tool == "crm.export_customers" for c in result.changes)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_truncated_line_names_file_and_line(recordings: dict[str, Path], tmp_path: Path
                                            ) -> None:
    lines = recordings["jit-context"].read_text().splitlines()
    path = _write(tmp_path, [*lines[:5], lines[5][: len(lines[5]) // 2]])
    with pytest.raises(EventsError) as info:
        read_events(path)
    assert info.value.line == 6
    assert str(path) in str(info.value) and "truncated" in str(info.value)


@pytest.mark.parametrize("bad, expected", [
    ('{"seq": 0}', "'time'"),
    ("[1, 2]", "JSON object"),
    ('{"seq": 0, "time": 0, "kind": "alert", "agent": "x", "data": {}}',
     "run_started event first"),
    ('{"seq": 0, "time": 0, "kind": "decision", "agent": "x", "data": {"run": "r"}}',
     "(found no chain, task"),
])
def test_garbled_lines_are_load_errors(tmp_path: Path, bad: str, expected: str) -> None:
    with pytest.raises(EventsError) as info:
        read_events(_write(tmp_path, [bad]))
    assert expected in str(info.value) and info.value.line == 1


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(EventsError, match="no such file"):
        read_events(tmp_path / "nope.jsonl")
    with pytest.raises(EventsError, match="run_started"):
        read_events(_write(tmp_path, [""]))


def test_events_of_another_scenario_are_refused(recordings: dict[str, Path],
                                                tmp_path: Path) -> None:
    other = load_scenario("refunds-customer-facing")
    with pytest.raises(EventsError) as info:
        replay(read_events(recordings["jit-context"]),
               load_profile_policy(other, other.profiles[0].id))
    assert "scenario 'support-pii-injection'" in str(info.value)
    assert info.value.line is not None


def test_event_round_trip_through_json_keeps_decisions(scenario: Scenario) -> None:
    events: list[Event] = []
    Simulation(scenario, "jit-context", sink=events.append, until=3600).run()
    lines = [e.to_json() for e in events]
    assert all(json.loads(line)["kind"] for line in lines)
