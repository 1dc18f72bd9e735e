"""Exporting policies to Cedar: valid against the exported schema, annotated, or refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cedarpy
import pytest
from cedar_support import SCENARIO, export, policy, scenario_with

from engine.cedar.errors import ExportRefusedError
from engine.cedar.export import ENTITIES, POLICIES, SCHEMA, SHADOW
from engine.cedar.policyset import read_policies
from engine.cedar.profile import export_profile
from scenarios import library
from scenarios.library import load_scenario


def builtin_profiles() -> list[tuple[str, str]]:
    return [(name, p.id) for name in library.names()
            for p in load_scenario(name).profiles if getattr(p, "cedar", None) is None]


@pytest.mark.parametrize(("name", "profile"), builtin_profiles())
def test_every_builtin_profile_exports_and_validates_strictly(name: str, profile: str,
                                                              tmp_path: Path) -> None:
    scenario = load_scenario(name)
    exported, _source = export_profile(scenario, profile)
    exported.write(tmp_path)
    schema = (tmp_path / SCHEMA).read_text()
    for file in (POLICIES, SHADOW):
        result = cedarpy.validate_policies((tmp_path / file).read_text(), schema)
        assert result.validation_passed, [str(e) for e in result.errors]
    # The entities conform to the schema (Cedar checks them when given one).
    entities = cedarpy.Entities.from_json_str((tmp_path / ENTITIES).read_text(), schema)
    assert len(entities) == len(json.loads((tmp_path / ENTITIES).read_text()))
    # Reading the files back gives one policy per rule, with the rule's facts.
    back = {p.id: p for p in read_policies(tmp_path)}
    facts = {rid: f for rid, f in _facts(scenario, profile).items() if f.kind == "rule"}
    assert set(back) == set(facts)
    for rid, fact in facts.items():
        got = back[rid]
        assert (got.effect, got.envelope, got.mode, got.frameworks) == (
            fact.effect, fact.envelope, fact.mode, fact.frameworks)
        assert Path(got.file).name == (SHADOW if fact.mode == "shadow" else POLICIES)


def _facts(scenario: Any, profile: str) -> Any:
    from engine.policy import load_profile_policy

    return load_profile_policy(scenario, profile).facts


def test_annotations_carry_id_envelope_effect_mode_owner_and_frameworks() -> None:
    ex = export(policy(
        {"id": "big-refund", "description": "Needs a \"human\"", "envelope": "business",
         "effect": "require_approval", "target": {"tools": ["email.send"]},
         "frameworks": ["ASI02"], "obligations": ["notify"]},
        {"id": "no-vault", "envelope": "legal", "effect": "deny", "mode": "shadow",
         "target": {"data_classes": ["creds"]}}))
    text = ex.texts[POLICIES]
    assert '@id("big-refund")' in text and '@description("Needs a \\"human\\"")' in text
    assert '@effect("require_approval")' in text and "forbid (" in text
    assert '@owner("principal.owners.business")' in text
    assert '@frameworks("ASI02")' in text and '@obligations("notify")' in text
    shadow = ex.texts[SHADOW]
    assert '@id("no-vault")' in shadow and '@mode("shadow")' in shadow
    assert '@owner("dpo")' in shadow and 'resource in DataClass::"creds"' in shadow


def test_a_condition_on_an_optional_attribute_fails_closed_through_absent() -> None:
    text = export(policy({"id": "r", "envelope": "business", "effect": "deny",
                          "when": {"attr": "request.amount", "gt": 500}})).texts[POLICIES]
    assert ('when {\n  if context.request has amount\n'
            '  then context.request.amount.greaterThan(decimal("500.0"))\n'
            '  else Absent::"request.amount".fail\n};') in text
    short = export(policy({"id": "r", "envelope": "business", "effect": "deny",
                           "when": {"attr": "request.records", "gt": 5}})).texts[POLICIES]
    assert "when { context.request.records > 5 };" in short  # always present: no test


@pytest.mark.parametrize(("when", "why"), [
    ({"attr": "request.recipient", "glob": "a?c"}, "like has only the * wildcard"),
    ({"attr": "principal.roles", "eq": ["support"]}, "Cedar sets have none"),
    ({"attr": "request.attributes.nope", "eq": 1}, "no step of the scenario sets"),
    ({"attr": "request.amount", "gt": 0.0001}, "three decimal places"),
    ({"attr": "request.attributes.x", "eq": "one"}, "fails on every request that has it"),
    ({"attr": "request.attributes.label", "lt": 3}, "fails on every request that has it"),
    ({"attr": "request.records", "gt": 2**63}, "64-bit"),
])
def test_what_cedar_cannot_say_is_refused_naming_the_rule(when: Any, why: str) -> None:
    with pytest.raises(ExportRefusedError) as caught:
        export(policy({"id": "fine", "envelope": "business", "effect": "allow"},
                      {"id": "the-culprit", "envelope": "business", "effect": "deny",
                       "when": when}))
    assert caught.value.rule == "the-culprit"
    assert len(caught.value.problems) == 1
    assert "rule the-culprit:" in str(caught.value) and why in str(caught.value)


def test_a_free_attribute_set_with_two_types_is_refused() -> None:
    agents = [dict(a) for a in SCENARIO["agents"]]
    agents[2] = {**agents[2], "tasks": [{"id": "t", "steps": [
        {"tool": "kb.search", "attributes": {"x": "many"}}]}]}
    with pytest.raises(ExportRefusedError, match="different types"):
        export(policy({"id": "r", "envelope": "business", "effect": "allow",
                       "when": {"attr": "request.attributes.x", "eq": 1}}),
               scenario_with(agents=agents))


def test_a_tool_named_like_an_action_verb_is_refused() -> None:
    tools = [*SCENARIO["tools"], {"id": "read", "action": "write"}]
    with pytest.raises(ExportRefusedError, match="tool 'read' has the name of an action verb"):
        export(policy({"id": "r", "envelope": "business", "effect": "allow"}),
               scenario_with(tools=tools))


def test_globs_over_declared_ids_expand_and_an_empty_one_never_matches() -> None:
    text = export(policy({"id": "r", "envelope": "business", "effect": "allow",
                          "target": {"principals": ["role:s*", "kind:vendor_hosted"],
                                     "tools": ["crm.*"]}},
                         {"id": "none", "envelope": "business", "effect": "allow",
                          "target": {"resources": ["nothing.*"]}})).texts[POLICIES]
    assert 'action in [Action::"crm.lookup", Action::"crm.export"]' in text
    assert '(principal in Role::"support" || principal.kind == "vendor_hosted")' in text
    assert "when { false }" in text


def test_the_written_files_are_exactly_the_four(tmp_path: Path) -> None:
    written = export(policy({"id": "r", "envelope": "business", "effect": "allow"})).write(
        tmp_path / "out")
    assert sorted(p.name for p in written) == sorted([POLICIES, SHADOW, SCHEMA, ENTITIES])
    schema = json.loads((tmp_path / "out" / SCHEMA).read_text())
    assert set(schema[""]["entityTypes"]) >= {"Agent", "Role", "Tool", "Resource", "System",
                                               "DataClass", "Absent"}
    assert schema[""]["actions"]["crm.lookup"]["memberOf"] == [{"id": "read"}]
