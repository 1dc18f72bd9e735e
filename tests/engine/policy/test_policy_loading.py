"""Loading policy files: load-time checks with file:line:column, warnings, the example file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from policy_support import FIXTURES, policy_from_text

from engine.errors import LoadError
from engine.model import Scenario
from engine.policy import (
    Effect,
    PolicyDocument,
    PolicyEngine,
    Reason,
    Request,
    load_policy,
    principal_attributes,
    resource_attributes,
    step_attributes,
    time_attributes,
    tool_attributes,
)
from scenarios.library import load_scenario


def load_error(text: str, scenario: Scenario, tmp_path: Path) -> LoadError:
    with pytest.raises(LoadError) as info:
        policy_from_text(text, scenario, tmp_path)
    return info.value


def rule_with(when: str) -> str:
    return f"""\
policy: p
rules:
  - id: r
    envelope: security
    effect: allow
    when: {when}
"""


def test_unknown_attribute_path_is_reported_with_line_and_column(
        scenario: Scenario, tmp_path: Path) -> None:
    err = load_error(rule_with("{attr: request.recordz, lt: 5}"), scenario, tmp_path)
    assert (err.line, err.column) == (6, 18)
    assert err.path == "rules[0].when.attr"
    assert "did you mean 'request.records'?" in str(err)
    assert str(err).startswith(f"{tmp_path / 'policy.yaml'}:6:18:")


def test_unknown_counter_is_reported(scenario: Scenario, tmp_path: Path) -> None:
    err = load_error(rule_with("{attr: counter.calls, lt: 5}"), scenario, tmp_path)
    assert "a declared counter" in err.expected and "none declared" in err.expected


@pytest.mark.parametrize(("when", "expected"), [
    ("{attr: principal.id, lt: 3}", "lt on a number or an ordered enum"),
    ("{attr: request.records, eq: ten}", "a number"),
    ("{attr: tool.egress, eq: outside}", "one of none, internal, external"),
    ("{attr: resource.sensitivity, gt: secret}", "one of public, internal, confidential"),
    ("{attr: principal.kind, lt: internal}", "lt on a number or an ordered enum"),
    ("{attr: task.approved, eq: 'yes'}", "true or false"),
    ("{attr: request.records, glob: '1*'}", "glob on a string attribute"),
    ("{attr: tool.customer_facing, contains: x}", "contains on a list or string"),
    ("{attr: token.age, lt: soon}", 'a duration such as "5m"'),
    ("{attr: request.records, in: [1, two]}", "a number"),
])
def test_impossible_comparisons_are_load_errors(scenario: Scenario, tmp_path: Path, when: str,
                                                expected: str) -> None:
    err = load_error(rule_with(when), scenario, tmp_path)
    assert expected in err.expected
    assert err.line == 6


def test_rules_naming_undeclared_targets_are_errors(scenario: Scenario, tmp_path: Path) -> None:
    err = load_error("""\
policy: p
rules:
  - id: r
    envelope: security
    effect: allow
    target:
      tools: [crm.lookup, crm.delete]
      principals: ["role:admin", ghost-bot, "kind:robot"]
      data_classes: [secrets]
      actions: [fly]
""", scenario, tmp_path)
    messages = str(err).splitlines()
    assert len(messages) == 6
    assert any(":7:" in m and "unknown tool 'crm.delete'" in m for m in messages)
    assert any("unknown role 'admin'" in m for m in messages)
    assert any("unknown agent 'ghost-bot'" in m for m in messages)
    assert any("unknown agent kind 'robot'" in m for m in messages)
    assert any(":9:" in m and "unknown data class 'secrets'" in m for m in messages)
    assert any("unknown action 'fly'" in m for m in messages)


def test_globs_matching_nothing_are_warnings(scenario: Scenario, tmp_path: Path) -> None:
    compiled = policy_from_text("""\
policy: p
rules:
  - id: r
    envelope: security
    effect: allow
    target: {tools: ["billing.*"], principals: ["role:adm*"]}
""", scenario, tmp_path)
    assert len(compiled.warnings) == 2
    assert compiled.warnings[0].endswith(
        "policy.yaml:6:22: at rules[0].target.tools[0]: tool pattern 'billing.*' matches no "
        "declared tool")


def test_duplicate_ids_are_errors(scenario: Scenario, tmp_path: Path) -> None:
    err = load_error("""\
policy: p
rules:
  - {id: same, envelope: security, effect: allow}
  - {id: same, envelope: security, effect: deny}
sequences:
  - {id: same, envelope: security, effect: deny, window: 1m,
     steps: [{target: {tools: [kb.search]}}, {target: {tools: [email.send]}}]}
""", scenario, tmp_path)
    assert [e.path for e in err.errors] == ["rules[1].id", "sequences[0].id"]  # type: ignore[attr-defined]
    assert err.line == 4


def test_legal_rules_need_a_legal_owner(scenario: Scenario, tmp_path: Path) -> None:
    err = load_error("""\
policy: p
rules:
  - {id: r, envelope: legal, effect: deny}
""", scenario, tmp_path)
    assert "legal_owner" in err.expected and err.line == 3
    err = load_error("policy: p\nlegal_owner: nobody\n", scenario, tmp_path)
    assert "unknown owner 'nobody'" in str(err)


def test_counter_measures_must_be_numbers(scenario: Scenario, tmp_path: Path) -> None:
    err = load_error("""\
policy: p
counters:
  - {id: c, scope: session, measure: request.recipient}
""", scenario, tmp_path)
    assert (err.line, err.path) == (3, "counters[0].measure")


def test_sequence_steps_cannot_read_counters(scenario: Scenario, tmp_path: Path) -> None:
    err = load_error("""\
policy: p
counters: [{id: c, scope: session}]
sequences:
  - id: s
    envelope: security
    effect: deny
    window: 1m
    steps:
      - {target: {tools: [kb.search]}, when: {attr: counter.c, gt: 1}}
      - {target: {tools: [email.send]}}
""", scenario, tmp_path)
    assert err.path == "sequences[0].steps[0].when.attr"


def test_reserved_rule_ids_are_errors(scenario: Scenario, tmp_path: Path) -> None:
    err = load_error("policy: p\nrules: [{id: delegation.x, envelope: security, effect: deny}]\n",
                     scenario, tmp_path)
    assert "reserved" in err.expected


def test_shape_errors_come_from_the_document_model(scenario: Scenario, tmp_path: Path) -> None:
    err = load_error(rule_with("{attr: request.records, lt: 5, gt: 1}"), scenario, tmp_path)
    assert "exactly one operator" in str(err) and err.line == 6
    err = load_error("policy: p\nrules:\n  - {id: r, envelope: finance, effect: allow}\n",
                     scenario, tmp_path)
    assert err.line == 3 and err.path == "rules[0].envelope"
    err = load_error("policy: p\nrulez: []\n", scenario, tmp_path)
    assert "did you mean 'rules'?" in str(err)


def test_a_missing_file_is_a_load_error(scenario: Scenario, tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        load_policy(tmp_path / "absent.yaml", scenario)


def test_the_policy_schema_is_json_schema() -> None:
    schema = PolicyDocument.model_json_schema()
    assert {"rules", "sequences", "counters", "delegation", "legal_owner"} <= set(
        schema["properties"])


def test_the_example_policy_loads_against_the_built_in_scenario() -> None:
    scenario = load_scenario("support-pii-injection")
    compiled = load_policy(FIXTURES / "example-policy.yaml", scenario)
    assert compiled.warnings == ()
    assert {r.id for r in compiled.rules} >= {"support-reads", "no-pii-export"}
    engine = PolicyEngine(compiled)
    bot = principal_attributes(scenario, "support-bot")

    def call(tool: str, resource: str | None, records: int, now: float,
             **extra: str) -> Request:
        t = scenario.tool(tool)
        return Request(
            principal=bot, action=t.action, tool=tool_attributes(t),
            token={"valid": True, "reason": "ok"},
            resource=resource_attributes(scenario, resource) if resource else None,
            request=step_attributes(records, **extra),
            task={"id": "answer-ticket", "approved": True, "step": 1, "run": "r1"},
            session={"id": "r1"}, time=time_attributes(now), ref=int(now))

    assert engine.decide(call("helpdesk.read_ticket", "helpdesk.tickets", 1, 10)).allowed
    assert engine.decide(call("crm.lookup_customer", "crm.customers", 1, 20)).allowed
    export = engine.decide(call("crm.export_customers", "crm.customers", 5, 30))
    assert (export.effect, export.rule, export.owner) == (Effect.DENY, "no-pii-export", "dpo")
    bulk = engine.decide(call("crm.export_customers", "crm.customers", 250000, 35))
    assert bulk.matched == ("no-bulk-pii", "no-pii-export") and bulk.rule == "no-bulk-pii"
    mail = engine.decide(call("email.send_external", None, 1, 40, recipient="x@evil.example",
                              destination="external"))
    assert (mail.reason, mail.rule) == (Reason.SEQUENCE, "pii-then-external-email")
    assert textwrap.dedent(mail.explain()).count("\n") >= 2
