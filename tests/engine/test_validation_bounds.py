"""Validation refuses, at load, what cannot end well (issue 23's reproducers, and the bounds).

Each reproducer is a built-in scenario with one value changed. Before the static bounds,
``validate`` and ``check`` accepted them all and a run hung or ate the machine; now each is a
load error at the file, line, column and path, naming the bound.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from engine.bounds import DEFAULT_MAX_EVENTS, MAX_CYCLE_DEPTH
from engine.bounds_check import expected_events, profile_problems
from engine.errors import LoadError
from engine.loader import load_scenario
from engine.policy import load_profile_policies, load_profile_policy
from scenarios import library
from tests.conftest import builtin_dir
from tui.cli import main

SUPPORT = "support-pii-injection"
SUPPORT_FIRST_STEP = ("          - {tool: helpdesk.read_ticket, resource: helpdesk.tickets, "
                      "records: 1, duration: 20s}\n          - {tool: crm.lookup_customer")
TRIAGE_STEPS = ("          - {tool: kb.search, resource: kb.articles, records: 5, duration: 30s}\n"
                "          - {delegate: support-bot, task: answer-ticket}")
ANSWER_LAST_STEP = ("          - {tool: helpdesk.update_ticket, resource: helpdesk.tickets, "
                    "records: 1, duration: 5s}\n      - id: escalate-to-vendor")


def mutant(tmp_path: Path, builtin: str, old: str, new: str, file: str = "scenario.yaml"
           ) -> Path:
    """A copy of a built-in with one piece of text changed; returns its scenario file."""
    dest = tmp_path / builtin
    shutil.copytree(builtin_dir(builtin), dest)
    target = dest / file
    text = target.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {builtin}/{file}"
    target.write_text(text.replace(old, new))
    return dest / "scenario.yaml"


def self_delegation(tmp_path: Path) -> Path:
    """The support bot's ticket task delegates to itself after a 0 s step."""
    loop = "duration: 0s}\n          - {delegate: support-bot, task: answer-ticket}"
    return mutant(tmp_path, SUPPORT, SUPPORT_FIRST_STEP,
                  SUPPORT_FIRST_STEP.replace("duration: 20s}", loop))


def mutual_delegation(tmp_path: Path) -> Path:
    """Triage delegates to the support bot (as built), which now delegates back."""
    return mutant(tmp_path, SUPPORT, ANSWER_LAST_STEP, ANSWER_LAST_STEP.replace(
        "duration: 5s}\n", "duration: 5s}\n          - {delegate: triage-bot, task: triage}\n"))


# (name, builtin, old text, new text, document path, words the message must hold)
REPRODUCERS = [
    ("interval", "devops-static-keys", "interval: 24h", "interval: 0.0001s",
     "agents[9].tasks[0].arrival.interval", ["at least 1s between arrivals", "0.0001s"]),
    ("rate", SUPPORT, "rate: 30, per: 1h", "rate: 1000000000000000000000000000000, per: 1h",
     "agents[0].tasks[0].arrival.rate", ["at most 1 arrival per second", "1e+30 per 1h"]),
    ("per-typo", SUPPORT, "rate: 30, per: 1h", "rate: 30, per: 1s",
     "agents[0].tasks[0].arrival.rate", ["at most 1 arrival per second", "30 per second"]),
    ("repeat", "devops-static-keys", "repeat_every: 20m", "repeat_every: 0s",
     "incidents[0].repeat_every", ["repeat interval of at least 1s"]),
    ("duration", SUPPORT, "duration: 8h", "duration: 3650d",
     "duration", ["a duration of at most 365d"]),
    ("zero-time-loop", SUPPORT, TRIAGE_STEPS,
     "          - {delegate: triage-bot, task: triage}\n" + TRIAGE_STEPS,
     "agents[1].tasks[0].steps[0]", ["triage-bot/triage → triage-bot/triage",
                                     "no tool step before it"]),
    ("events", SUPPORT, "duration: 8h", "duration: 30d",
     "agents[0].tasks[0].arrival", [f"at most {DEFAULT_MAX_EVENTS:,} expected events",
                                    "support-bot/answer-ticket arrives about"]),
]


def message(path: Path, reproducer: tuple[str, ...]) -> str:
    """The exact place a reproducer's error must name: file:line:column: at path."""
    return re.escape(f"{path}:") + r"\d+:\d+: at " + re.escape(reproducer[4]) + ": "


@pytest.mark.parametrize("reproducer", REPRODUCERS, ids=[r[0] for r in REPRODUCERS])
def test_validate_refuses_each_reproducer_at_its_place(
        reproducer: tuple[str, ...], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    name, builtin, old, new, _where, words = reproducer
    if name == "events":  # a busy task over a month: far more events than a run may emit
        path = mutant(tmp_path, builtin, old, new)
        path.write_text(path.read_text().replace("rate: 30, per: 1h", "rate: 3000, per: 1h"))
    else:
        path = mutant(tmp_path, builtin, old, new)
    started = time.perf_counter()
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert time.perf_counter() - started < 10
    assert code == 2
    assert re.search(message(path, reproducer), err), err
    for word in words:
        assert word in err
    assert "Traceback" not in err


@pytest.mark.parametrize("reproducer", REPRODUCERS[:3], ids=[r[0] for r in REPRODUCERS[:3]])
def test_check_refuses_the_rate_reproducers(reproducer: tuple[str, ...], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = mutant(tmp_path, *reproducer[1:4])
    assert main(["check", str(path)]) == 2
    assert re.search(message(path, reproducer), capsys.readouterr().err)


def test_a_self_delegation_after_a_zero_step_is_refused_under_a_profile_without_a_depth_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = self_delegation(tmp_path)
    for command in ("validate", "check"):
        assert main([command, str(path)]) == 2
        err = capsys.readouterr().err
        assert re.search(re.escape(f"{path}:") + r"81:13: at agents\[0\]\.tasks\[0\]\.steps\[1\]"
                         , err), err
        assert "delegation.max_depth" in err and "profile static-rbac" in err
        assert "support-bot/answer-ticket → support-bot/answer-ticket" in err
        assert "jit-context" not in err  # its policy limits the depth: the cycle ends


def test_a_run_refuses_the_unlimited_profile_and_runs_the_limited_one(tmp_path: Path) -> None:
    scenario = load_scenario(self_delegation(tmp_path))
    with pytest.raises(LoadError) as info:
        load_profile_policy(scenario, "static-rbac")
    assert "delegation.max_depth" in str(info.value)
    assert load_profile_policy(scenario, "jit-context").max_depth == 2


def test_two_agents_delegating_to_each_other_are_refused_without_a_depth_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mutual_delegation(tmp_path)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert ("support-bot/answer-ticket → triage-bot/triage → support-bot/answer-ticket"
            in err)
    assert "at agents[0].tasks[0].steps[5]" in err and "static-rbac" in err


def test_a_cycle_is_fine_where_every_profile_limits_the_depth(tmp_path: Path) -> None:
    path = mutual_delegation(tmp_path)
    static = path.parent / "policies" / "static-rbac.yaml"
    static.write_text(static.read_text().replace(
        "legal_owner: dpo\n", "legal_owner: dpo\ndelegation: {max_depth: 3}\n"))
    assert set(load_profile_policies(load_scenario(path))) == {"static-rbac", "jit-context"}


def test_a_depth_limit_too_high_to_end_a_cycle_is_refused(tmp_path: Path) -> None:
    path = mutual_delegation(tmp_path)
    jit = path.parent / "policies" / "jit-context.yaml"
    jit.write_text(jit.read_text().replace("max_depth: 2", "max_depth: 1000"))
    with pytest.raises(LoadError) as info:
        load_profile_policy(load_scenario(path), "jit-context")
    assert f"at most {MAX_CYCLE_DEPTH}" in str(info.value)
    assert "max_depth 1,000" in str(info.value)


def test_a_poisoned_memory_that_delegates_back_is_a_cycle(tmp_path: Path) -> None:
    path = mutant(tmp_path, SUPPORT, "incidents:\n", "incidents:\n"
                  "  - {id: loop, kind: memory_poisoning, at: 1h, agent: triage-bot,\n"
                  "     plan: [{delegate: triage-bot, task: triage}]}\n")
    with pytest.raises(LoadError) as info:
        load_profile_policy(load_scenario(path), "static-rbac")
    assert "triage-bot/triage → triage-bot/triage" in str(info.value)
    assert "at incidents[0].plan[0]" in str(info.value)


@pytest.mark.slow
def test_every_builtin_expects_far_fewer_events_than_the_budget() -> None:
    for name in library.names():
        scenario = library.load_scenario(name)
        depths = {p: c.max_depth for p, c in load_profile_policies(scenario).items()}
        assert not profile_problems(scenario, depths)
        for depth in depths.values():
            estimate = expected_events(scenario, depth)
            assert estimate is not None and estimate.events < DEFAULT_MAX_EVENTS / 100, name


@pytest.mark.parametrize("name", [SUPPORT, "multi-agent-escalation"])
def test_the_estimate_is_at_least_what_a_run_emits(name: str) -> None:
    from sim import Simulation

    scenario = library.load_scenario(name)
    for profile, policy in load_profile_policies(scenario).items():
        events: list[object] = []
        Simulation(scenario, profile, policy=policy, sink=events.append).run()
        estimate = expected_events(scenario, policy.max_depth)
        assert estimate is not None
        # At least what a run emits; of its order (a profile that denies early emits less).
        assert len(events) <= estimate.events <= 8 * len(events), profile


def test_the_estimate_follows_a_bounded_cycle_to_the_depth_limit(tmp_path: Path) -> None:
    scenario = load_scenario(self_delegation(tmp_path))
    shallow, deep = expected_events(scenario, 1), expected_events(scenario, 20)
    assert shallow is not None and deep is not None
    assert deep.events > shallow.events
    assert expected_events(scenario, None) is None  # no limit: no end
