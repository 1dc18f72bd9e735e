"""Judging traces: a run's own traces replay unchanged on every built-in, a conventions-shaped
trace gets the expected decisions, and bad traces are one-line errors with line and span."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.policy.loading import load_profile_policy
from scenarios.library import load_scenario, names
from sim.otlp.calls import load_mapping, match_calls
from sim.otlp.judge import judge
from sim.otlp.traces import read_traces
from tests.otlp.support import export_run, foreign_trace, span
from tui.cli import main


@pytest.mark.parametrize("name", names())
def test_own_traces_replay_with_zero_changes_under_their_policy(tmp_path, name):
    scenario = load_scenario(name)
    profile = scenario.default_profile_id
    if scenario.profile(profile).cedar:
        # Decided by Cedar in the run; replay re-decides natively, as events replay does.
        profile = next(p.id for p in scenario.profiles if not p.cedar)
    path = export_run(tmp_path / "t.jsonl", name, profile, until=1800)
    traces = read_traces(path)
    matched = match_calls(traces, scenario)
    result = judge(traces, matched, load_profile_policy(scenario, profile))
    assert result.decided == result.calls == result.exact
    assert result.replay.changes == ()
    assert result.replay.rule_changes == 0


def test_a_conventions_shaped_trace_gets_the_expected_decisions(tmp_path):
    path = foreign_trace(tmp_path / "f.jsonl")
    scenario = load_scenario("support-pii-injection")
    traces = read_traces(path)
    matched = match_calls(traces, scenario)
    assert matched.agents_unmatched == {"ticket-helper": 2}
    assert matched.tools_unmatched == {"web.browse": 1}
    result = judge(traces, matched, load_profile_policy(scenario, "jit-context"))
    assert result.decided == 3 and result.exact == 0
    moves = {c.tool: (c.old_effect, c.new_effect, c.new_rule) for c in result.replay.changes}
    assert moves == {"crm.export_customers": ("allow", "deny", "no-pii-export"),
                     "email.send_external": ("allow", "require_approval",
                                             "external-mail-needs-approval")}
    assert result.replay.new_effects == {"allow": 1, "deny": 1, "require_approval": 1}
    bot = next(b for b in result.blast if b["agent"] == "support-bot")
    assert bot["calls"] == 3 and bot["allowed"] == 1
    assert bot["could_reach"]["records"] > bot["touched"]["records"] == 1


def test_a_mapping_file_matches_the_rest(tmp_path):
    path = foreign_trace(tmp_path / "f.jsonl")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("agents: {ticket-helper: triage-bot}\ntools: {web.browse: kb.search}\n")
    scenario = load_scenario("support-pii-injection")
    matched = match_calls(read_traces(path), scenario, load_mapping(mapping, scenario))
    assert matched.agents_unmatched == {} and matched.tools_unmatched == {}
    assert {c.scenario_agent for c in matched.calls} == {"support-bot", "triage-bot"}


def test_a_mapping_to_an_unknown_agent_names_the_entry(tmp_path, capsys):
    path = foreign_trace(tmp_path / "f.jsonl")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("agents:\n  ticket-helper: nobody\n")
    code = main(["replay", str(path), "--scenario", "support-pii-injection", "--profile",
                 "jit-context", "--mapping", str(mapping)])
    err = capsys.readouterr().err
    assert code == 2 and "map.yaml:2" in err and "'nobody'" in err


def test_the_command_lists_unmatched_and_newly_denied_calls(tmp_path, capsys):
    path = foreign_trace(tmp_path / "f.jsonl")
    code = main(["replay", str(path), "--scenario", "support-pii-injection", "--profile",
                 "jit-context"])
    out = capsys.readouterr().out
    assert code == 0
    assert "unmatched agents" in out and "ticket-helper (2 calls)" in out
    assert "web.browse (1 calls)" in out
    assert "denied under jit-context" in out and "no-pii-export" in out
    assert "blast radius" in out


def test_json_output_carries_the_diff_and_blast_radius(tmp_path, capsys):
    path = export_run(tmp_path / "t.jsonl", "support-pii-injection", until=1800)
    assert main(["replay", str(path), "--profile", "static-rbac", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["diff"]["new_policy"] == "static-rbac"
    assert data["calls"] == data["decided"] > 0
    assert {b["agent"] for b in data["blast_radius"]} >= {"support-bot"}


def _write(tmp_path, text: str | bytes):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _request(*spans_):
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": list(spans_)}]}]})


@pytest.mark.parametrize(("content", "expected"), [
    ('{"resourceSpans": [}\n', "bad.jsonl:1:"),
    (_request({"traceId": "x", "spanId": "1" * 16}) + "\n", "traceId"),
    (_request(span("a" * 32, "1" * 16, None, "execute_tool kb.search", 0,
                   gen_ai__operation__name="execute_tool")) + "\n", "gen_ai.agent.name"),
    (_request({**span("a" * 32, "1" * 16, None, "x", 0), "startTimeUnixNano": "soon"}) + "\n",
     "startTimeUnixNano"),
    ('{"resourceSpans":' + "[" * 5000 + "]" * 5000 + "}\n", "deep"),
    (b'{"resourceSpans": "' + b"x" * (3 * 1024 * 1024) + b'"}\n', "longer than"),
])
def test_bad_traces_are_one_line_errors_with_exit_2(tmp_path, capsys, content, expected):
    path = _write(tmp_path, content)
    code = main(["replay", str(path), "--otlp", "--scenario", "support-pii-injection",
                 "--profile", "jit-context"])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err and "Traceback" not in err
    assert f"{path}" in err


def test_the_span_is_named_in_a_missing_attribute_error(tmp_path, capsys):
    path = _write(tmp_path, _request(span("a" * 32, "1" * 16, None, "x", 0),
                                     span("a" * 32, "2" * 16, None, "execute_tool", 1,
                                          gen_ai__operation__name="execute_tool")) + "\n")
    assert main(["replay", str(path), "--scenario", "support-pii-injection", "--profile",
                 "jit-context"]) == 2
    assert "resourceSpans[0].scopeSpans[0].spans[1]" in capsys.readouterr().err


def test_partial_traces_are_reported_not_dropped(tmp_path, capsys):
    orphan = span("a" * 32, "2" * 16, "9" * 16, "execute_tool kb.search", 1,
                  gen_ai__operation__name="execute_tool", gen_ai__tool__name="kb.search",
                  gen_ai__agent__name="triage-bot")
    path = _write(tmp_path, _request(orphan) + "\n")
    traces = read_traces(path)
    assert len(traces.spans) == 1 and "9999999999999999" in traces.partial[0]
    assert main(["replay", str(path), "--scenario", "support-pii-injection", "--profile",
                 "jit-context"]) == 0
    out = capsys.readouterr().out
    assert "partial trace" in out and "1 recorded tool calls" in out


def test_traces_of_several_runs_need_the_run_named(tmp_path, capsys):
    out = tmp_path / "c.jsonl"
    assert main(["compare", "multi-agent-escalation", "--until", "30m", "--otlp", str(out),
                 "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["replay", str(out), "--profile", "jit-context"]) == 2
    assert "--recorded-profile" in capsys.readouterr().err
    assert main(["replay", str(out), "--profile", "jit-context", "--recorded-profile",
                 "jit-context", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["diff"]["changed"] == 0 and data["calls"] > 0


def test_an_events_file_still_replays_and_refuses_a_mapping(tmp_path, capsys):
    events = tmp_path / "e.jsonl"
    assert main(["run", "multi-agent-escalation", "--until", "30m", "--events",
                 str(events), "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["replay", str(events), "--profile", "jit-context"]) == 0
    assert "0 changed" in capsys.readouterr().out
    assert main(["replay", str(events), "--profile", "jit-context", "--mapping",
                 str(events)]) == 2


def test_the_documented_example_says_why_each_call_would_now_be_denied(capsys):
    examples = Path(__file__).resolve().parents[2] / "docs" / "examples" / "otlp"
    assert main(["replay", str(examples / "recorded.jsonl"), "--scenario",
                 "support-pii-injection", "--profile", "jit-context", "--mapping",
                 str(examples / "mapping.yaml"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unmatched"] == {"agents": {"FAQBot": 2}, "tools": {"browse_web": 1}}
    why = {c["tool"]: c["new"]["why"] for c in data["newly_denied"]}
    assert why["email.reply_customer"] == ("no matching allow: support-replies needs "
                                           "request.recipient eq customer (was None)")
    assert "pii-then-external-email" in why["email.send_external"]
    assert all(c["old"]["rule"] == "(no guardrail recorded)" for c in data["newly_denied"])


def test_a_runs_traces_and_its_events_give_the_same_diff_under_another_policy(tmp_path,
                                                                              capsys):
    traces, events = tmp_path / "t.jsonl", tmp_path / "e.jsonl"
    assert main(["run", "support-pii-injection", "--until", "2h", "--otlp", str(traces),
                 "--events", str(events), "--format", "json"]) == 0
    policy = str(Path(__file__).resolve().parents[2] / "scenarios" / "support-pii-injection"
                 / "policies" / "static-rbac.yaml")
    capsys.readouterr()
    diffs = []
    for path in (traces, events):
        assert main(["replay", str(path), "--policy", policy, "--format", "json"]) == 0
        data = json.loads(capsys.readouterr().out)
        diffs.append(data.get("diff", data))
    assert diffs[0] == diffs[1]
    assert diffs[0]["changed"] > 0


def test_a_call_named_only_by_an_environments_spiffe_id_finds_its_agent(tmp_path):
    # Under an isolating profile deploy-test runs as spiffe://test.acme.example/agent/...,
    # not the scenario's acme.example: a trace naming it only so still matches the agent.
    t = "c" * 32
    spans = [
        span(t, "1" * 16, None, "invoke_agent", 0, gen_ai__operation__name="invoke_agent",
             gen_ai__agent__id="spiffe://test.acme.example/agent/deploy-test"),
        span(t, "2" * 16, "1" * 16, "execute_tool git.checkout", 1,
             gen_ai__operation__name="execute_tool", gen_ai__tool__name="git.checkout",
             gen_ai__tool__call__id="call-1"),
    ]
    path = tmp_path / "isolated.jsonl"
    path.write_text(json.dumps({"resourceSpans": [{"resource": {"attributes": []},
                                                   "scopeSpans": [{"spans": spans}]}]}) + "\n")
    matched = match_calls(read_traces(path), load_scenario("ci-pipeline-trust"))
    assert [c.scenario_agent for c in matched.calls] == ["deploy-test"]
