from __future__ import annotations

import copy
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from engine.errors import MAX_ERRORS, LoadError, LoadErrors
from engine.loader import ScenarioDir, load_scenario
from engine.model import Scenario
from engine.policy import load_profile_policies
from engine.yamldoc import load_yaml


def load_error(path: Path) -> LoadError:
    with pytest.raises(LoadError) as info:
        load_scenario(path)
    return info.value


def test_scenario_loads_from_a_directory_and_a_file(scenario_dir: Path) -> None:
    assert load_scenario(scenario_dir).name == "support-pii-injection"
    assert load_scenario(scenario_dir / "scenario.yaml").name == "support-pii-injection"


def test_a_scenario_dir_loads_under_the_source_its_caller_gives(scenario_dir: Path) -> None:
    s = load_scenario(ScenarioDir(scenario_dir, "support", "shelf:support/scenario.yaml"))
    assert s.source == "shelf:support/scenario.yaml"
    assert s.base == scenario_dir
    assert set(load_profile_policies(s)) == {"static-rbac", "jit-context"}


def test_the_loader_does_not_resolve_builtin_names(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoadError) as info:
        load_scenario("support-pii-injection")
    assert "no such file" in str(info.value)


def test_durations_are_seconds(scenario_dir: Path) -> None:
    s = load_scenario(scenario_dir)
    assert s.duration == 8 * 3600
    assert s.profile("static-rbac").credentials.ttl == 90 * 86400
    assert s.profile("jit-context").credentials.ttl == 600


def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    err = load_error(tmp_path / "nope.yaml")
    assert "no such file" in str(err)


def test_not_yaml_names_line_and_column(write_scenario: Callable[[Any], Path]) -> None:
    path = write_scenario("name: x\nagents: [1, 2\n  : : :\n")
    err = load_error(path)
    assert err.file == str(path)
    assert err.line is not None and err.line >= 2
    assert "valid YAML" in str(err)


def test_top_level_must_be_a_mapping(write_scenario: Callable[[Any], Path]) -> None:
    err = load_error(write_scenario("- just\n- a list\n"))
    assert "a YAML mapping at the top level" in str(err)


def test_billion_laughs_is_refused(write_scenario: Callable[[Any], Path]) -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    err = load_error(write_scenario("\n".join(lines) + "\n"))
    assert "alias expansion bomb" in str(err)
    assert err.line is not None


def test_oversized_file_is_refused_before_parsing(write_scenario: Callable[[Any], Path]) -> None:
    path = write_scenario("# " + "x" * (10 * 1024 * 1024) + "\n")
    err = load_error(path)
    assert "at most 10 MB" in str(err)


def test_python_tags_never_construct_objects(write_scenario: Callable[[Any], Path]) -> None:
    err = load_error(write_scenario("name: !!python/object/apply:os.system [echo hacked]\n"))
    assert "no custom tags" in str(err)
    assert (err.line, err.column) == (1, 7)


def test_duplicate_keys_are_refused(write_scenario: Callable[[Any], Path]) -> None:
    err = load_error(write_scenario("name: a\nname: b\n"))
    assert "duplicate key 'name'" in str(err)
    assert err.line == 2


def test_wrong_type_names_the_path_and_what_was_found(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["agents"][0]["tasks"][0]["steps"][1]["records"] = "many"
    err = load_error(write_scenario(scenario_data))
    assert "agents[0].tasks[0].steps[1].records" in str(err)
    assert "a whole number (found string 'many')" in str(err)
    assert err.line is not None


def test_unknown_key_lists_the_known_keys(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["agents"][0]["owner"] = "cx-lead"
    err = load_error(write_scenario(scenario_data))
    assert "agents[0].owner" in str(err)
    assert "did you mean 'owners'?" in str(err)


def test_missing_required_key(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    del scenario_data["tools"][2]["action"]
    err = load_error(write_scenario(scenario_data))
    assert "at tools[2]" in str(err) and "required key 'action'" in str(err)


def test_dangling_reference_names_the_name_and_where(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["agents"][0]["tasks"][0]["steps"][2]["tool"] = "kb.serach"
    err = load_error(write_scenario(scenario_data))
    assert "agents[0].tasks[0].steps[2].tool" in str(err)
    assert "unknown tool 'kb.serach'" in str(err)
    assert err.line is not None


def test_dangling_delegation_target(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["agents"][1]["tasks"][0]["steps"][1]["task"] = "no-such-task"
    err = load_error(write_scenario(scenario_data))
    assert "agents[1].tasks[0].steps[1].task" in str(err)
    assert "unknown task 'no-such-task'" in str(err)


def test_missing_policy_file(scenario_dir: Path) -> None:
    (scenario_dir / "policies" / "jit-context.yaml").unlink()
    err = load_error(scenario_dir)
    assert "profiles[1].policy" in str(err) and "jit-context.yaml" in str(err)


@pytest.mark.parametrize("ttl", [0, -5, "0s"])
def test_zero_or_negative_ttl(
    ttl: Any, scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["profiles"][1]["credentials"]["ttl"] = ttl
    err = load_error(write_scenario(scenario_data))
    assert "profiles[1].credentials.ttl" in str(err)
    assert ("greater than 0" if isinstance(ttl, int) else "a duration longer than 0s") in str(err)


def test_malformed_duration(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["duration"] = "8 hours"
    err = load_error(write_scenario(scenario_data))
    assert "at duration" in str(err) and '"90d"' in str(err) and "'8 hours'" in str(err)


def test_duplicate_ids(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["tools"].append(copy.deepcopy(scenario_data["tools"][0]))
    err = load_error(write_scenario(scenario_data))
    assert f"tools[{len(scenario_data['tools']) - 1}].id" in str(err)
    assert "duplicate 'helpdesk.read_ticket'" in str(err)


@pytest.mark.parametrize("name", ["support bot", "support/bot", "bot%20x", "..", ""])
def test_spiffe_invalid_agent_name(
    name: str, scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["agents"][0]["name"] = name
    err = load_error(write_scenario(scenario_data))
    assert "agents[0].name" in str(err)


@pytest.mark.parametrize("domain", ["Acme Example", "acme.example:8443", "", "user@acme"])
def test_spiffe_invalid_trust_domain(
    domain: str, scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["trust_domain"] = domain
    err = load_error(write_scenario(scenario_data))
    assert "at trust_domain" in str(err) and "SPIFFE trust domain" in str(err)


def test_several_errors_are_all_reported(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["seed"] = "seven"
    scenario_data["duration"] = "soon"
    err = load_error(write_scenario(scenario_data))
    text = str(err)
    assert "at seed" in text and "at duration" in text
    assert len(text.splitlines()) == 2


def test_vendor_hosted_agent_needs_a_vendor(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["agents"][1]["kind"] = "vendor_hosted"
    err = load_error(write_scenario(scenario_data))
    assert "agents[1].vendor" in str(err)


def test_vendor_agents_live_in_the_vendor_trust_domain(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    scenario_data["vendors"] = [{"id": "helpco", "name": "HelpCo", "trust_domain": "helpco.example",
                                 "owner": "cx-lead"}]
    scenario_data["agents"][1].update(kind="vendor_hosted", vendor="helpco")
    s = load_scenario(write_scenario(scenario_data))
    assert str(s.agent("triage-bot").spiffe_id) == "spiffe://helpco.example/agent/triage-bot"


def test_poisoned_steps_are_numbered_after_the_tasks_own(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    # A poisoned run does its task's five steps, then the attacker's one: steps 1..6.
    scenario_data["incidents"].append({
        "id": "poisoned-notes", "kind": "memory_poisoning", "at": "1h", "agent": "support-bot",
        "plan": [{"tool": "email.send_external", "records": 1, "destination": "external"}]})
    ref = {"agent": "support-bot", "task": "answer-ticket", "incident": "poisoned-notes"}
    scenario_data["expect"] = [{"profile": "jit-context", "effect": "deny",
                                "decision": {**ref, "step": 6}}]
    assert load_scenario(write_scenario(scenario_data)).expect[0].decision.step == 6
    scenario_data["expect"][0]["decision"]["step"] = 7
    err = load_error(write_scenario(scenario_data))
    assert err.path == "expect[0].decision.step"
    assert "a step number from 1 to 6" in str(err)


def test_an_unknown_framework_id_names_its_place_and_a_close_one(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    scenario_data["frameworks"] = ["ASI01", "NHI7", "ASI-13"]
    err = load_error(write_scenario(scenario_data))
    assert err.path == "frameworks[2]"
    assert "unknown framework id 'ASI-13'" in str(err) and "did you mean" in str(err)
    scenario_data["frameworks"] = ["ASI01", "nhi7", "GOVERN-2.1", "LLM6", "cross-layer"]
    assert load_scenario(write_scenario(scenario_data)).frameworks[1] == "nhi7"


def test_a_policy_rule_citing_an_unknown_framework_id_fails_validation(
        scenario_dir: Path) -> None:
    policy = scenario_dir / "policies" / "jit-context.yaml"
    text = policy.read_text()
    anchor = "  - id: no-pii-export\n"
    assert anchor in text
    policy.write_text(text.replace(anchor, anchor + "    frameworks: [LLM02, GOVERN 9.9]\n"))
    with pytest.raises(LoadError) as info:
        load_profile_policies(load_scenario(scenario_dir))
    assert "unknown framework id 'GOVERN 9.9'" in str(info.value)
    assert ".frameworks[1]" in str(info.value)


# --- one pass, in the user's words (issue 23) ----------------------------------------------


def test_structure_and_reference_problems_are_reported_in_one_pass(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    # Before: the unknown key hid the unknown tool until a second run.
    scenario_data["agents"][0]["colour"] = "blue"
    scenario_data["agents"][1]["tasks"][0]["steps"][0]["tool"] = "kb.serach"
    scenario_data["duration"] = "soon"
    text = str(load_error(write_scenario(scenario_data)))
    assert "at agents[0].colour" in text
    assert "unknown tool 'kb.serach'" in text
    assert "at duration" in text
    assert len(text.splitlines()) == 3


def test_bounds_are_checked_in_the_same_pass_as_the_structure(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    scenario_data["agents"][0]["tasks"][0]["arrival"]["per"] = "1s"
    scenario_data["owners"][0]["title"] = 5
    text = str(load_error(write_scenario(scenario_data)))
    assert "at owners[0].title: a string (found integer 5)" in text
    assert "at agents[0].tasks[0].arrival.rate: at most 1 arrival per second" in text


def test_a_reference_to_a_part_cut_for_its_own_problem_is_not_reported(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    # kb.search cannot be validated; the steps naming it are not "unknown tool".
    kb = next(i for i, t in enumerate(scenario_data["tools"]) if t["id"] == "kb.search")
    del scenario_data["tools"][kb]["action"]
    err = load_error(write_scenario(scenario_data))
    assert str(err).splitlines() == [f"{err.where}: at tools[{kb}]: required key 'action' "
                                     "is missing"]


def test_a_problem_after_a_cut_item_keeps_its_own_place(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    steps = scenario_data["agents"][0]["tasks"][0]["steps"]
    steps[0] = "read the ticket"  # not a step: cut out to check the rest
    steps[2]["tool"] = "kb.serach"
    text = str(load_error(write_scenario(scenario_data)))
    assert "at agents[0].tasks[0].steps[0]: a step" in text
    assert "at agents[0].tasks[0].steps[2].tool: the id of a declared tool" in text


def test_a_bad_required_top_level_value_does_not_hide_the_rest(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    scenario_data["trust_domain"] = "Not A Domain"
    scenario_data["policy"] = "stray"
    scenario_data["agents"][0]["tasks"][0]["steps"][2]["tool"] = "kb.serach"
    text = str(load_error(write_scenario(scenario_data)))
    assert "at trust_domain: a SPIFFE trust domain" in text
    assert "at policy: " in text and "unknown key 'policy'" in text
    assert "unknown tool 'kb.serach'" in text


def test_a_list_emptied_by_cuts_reports_its_items_not_its_length(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    scenario_data["agents"] = [5]
    text = str(load_error(write_scenario(scenario_data)))
    assert "at agents[0]: a mapping for an agent (found integer 5)" in text
    assert "at least 1 item" not in text


def test_pydantic_wording_never_reaches_the_user(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    scenario_data["agents"][0]["tasks"][0]["steps"] = []
    scenario_data["owners"][0] = "cx-lead"
    text = str(load_error(write_scenario(scenario_data)))
    assert "at agents[0].tasks[0].steps: at least 1 item (found an empty list)" in text
    assert "at owners[0]: a mapping for an owner (found string 'cx-lead')" in text
    for internal in ("Tuple should", "after validation", "valid dictionary", "instance of",
                     "Input should"):
        assert internal not in text


def test_a_policy_rule_that_is_not_a_mapping_is_said_plainly(scenario_dir: Path) -> None:
    policy = scenario_dir / "policies" / "jit-context.yaml"
    policy.write_text(policy.read_text().replace("rules:\n", "rules:\n  - 1\n", 1))
    with pytest.raises(LoadError) as info:
        load_profile_policies(load_scenario(scenario_dir))
    assert "at rules[0]: a mapping for a rule (found integer 1)" in str(info.value)
    assert "instance of Rule" not in str(info.value)


def test_the_members_of_a_union_are_one_problem(scenario_dir: Path) -> None:
    policy = scenario_dir / "policies" / "jit-context.yaml"
    text = policy.read_text()
    assert "attr: request.records, lte: 10" in text
    policy.write_text(text.replace("attr: request.records, lte: 10",
                                   "attr: request.records, lte: {at: 10}"))
    with pytest.raises(LoadError) as info:
        load_profile_policies(load_scenario(scenario_dir))
    lines = str(info.value).splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(".lte: a string, a number or a boolean (found a mapping)")


def test_an_unknown_key_lists_the_keys_of_its_own_kind(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    decision = next(i for i, e in enumerate(scenario_data["expect"]) if "decision" in e)
    scenario_data["expect"][decision]["lt"] = 3  # a metric expectation's key
    text = str(load_error(write_scenario(scenario_data)))
    assert f"at expect[{decision}].lt: one of the known keys: profile, decision, effect" in text
    assert "did you mean 'lt'" not in text


def test_a_long_value_is_cut_to_a_short_line(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    scenario_data["agents"][0]["tasks"][0]["steps"][0]["duration"] = "x" * 100_000
    scenario_data["frameworks"] = ["y" * 100_000]
    text = str(load_error(write_scenario(scenario_data)))
    assert "(100,000 characters)" in text
    assert all(len(line) < 400 for line in text.splitlines()), [len(x) for x in text.split()]


def test_many_problems_are_capped_with_a_count_of_the_rest(
        scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]) -> None:
    scenario_data["owners"] = list(range(80))
    lines = str(load_error(write_scenario(scenario_data))).splitlines()
    assert len(lines) == MAX_ERRORS + 1
    more = re.fullmatch(r"\.\.\. and (\d+) more problems \(fix these and validate again\)",
                        lines[-1])
    assert more is not None and int(more.group(1)) >= 80 - MAX_ERRORS


def test_every_identifier_pattern_has_words() -> None:
    from engine.messages import PATTERNS
    from engine.policy.model import PolicyDocument

    text = json.dumps(Scenario.model_json_schema()) + json.dumps(
        PolicyDocument.model_json_schema())
    patterns = {json.loads(p) for p in re.findall(r'"pattern": ("(?:[^"\\]|\\.)*")', text)}
    patterns.discard(r"^\s*(\d+(\.\d+)?(ms|s|m|h|d|w))+\s*$|^\s*\d+(\.\d+)?\s*$")  # durations
    assert patterns <= set(PATTERNS)


# A single value of a built-in changed to one of these: each mutant loads, or every error it
# gets names its file, line and column.
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**40, 10**40), st.floats(allow_nan=False),
    st.sampled_from(["0s", "0.0001s", "1ms", "10000d", "x" * 5000, "", "-1", "static",
                     "support-bot", "answer-ticket", "*"]),
    st.text(max_size=20), st.just([]), st.just({}),
)


def scalar_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in scalar_paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in scalar_paths(v, (*prefix, i))]
    return [prefix]


@pytest.mark.slow
@pytest.mark.parametrize("builtin", ["support-pii-injection", "multi-agent-escalation"])
def test_any_single_value_mutation_loads_or_every_error_names_its_place(
        builtin: str, tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings

    from engine.validation import validate_scenario
    from tests.conftest import builtin_dir

    source = builtin_dir(builtin)
    base = load_yaml((source / "scenario.yaml").read_text(), "scenario.yaml").data
    shutil.copytree(source, tmp_path / builtin)
    target = tmp_path / builtin / "scenario.yaml"

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(scalar_paths(base)), VALUES)
    def check(where: tuple[Any, ...], value: Any) -> None:
        doc = copy.deepcopy(base)
        parent = doc
        for part in where[:-1]:
            parent = parent[part]
        parent[where[-1]] = value
        target.write_text(json.dumps(doc))
        try:
            validate_scenario(target)
        except LoadErrors as exc:
            for e in exc.errors:
                assert e.line is not None and e.column is not None, str(e)
                assert re.match(re.escape(e.file) + r":\d+:\d+: ", LoadError.render(e))
                assert "Input should" not in str(e) and "Tuple should" not in str(e)
        except LoadError as exc:
            assert exc.line is not None and exc.column is not None, str(exc)

    check()


def test_thousands_of_problems_are_found_without_quadratic_work(
        scenario_data: dict[str, Any]) -> None:
    from engine.salvage import salvage

    scenario_data["owners"] += [5] * 3000 + [{"id": f"o{i}", "name": "x", "colour": 1}
                                             for i in range(3000)]
    started = time.perf_counter()
    result = salvage(scenario_data, Scenario)
    assert time.perf_counter() - started < 10  # linear: pairwise checks grew with the square
    assert len(result.problems) == 6000 and result.model is not None
    assert len(result.model.owners) == len(scenario_data["owners"]) - 3000
