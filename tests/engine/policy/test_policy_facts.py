"""What a compiled policy says about each rule (for views), and the one policy loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_support import FIXTURES, SCENARIO_MODEL

from engine.errors import LoadError
from engine.loader import read_document, validate_document
from engine.policy import (
    CompiledPolicy,
    Effect,
    Envelope,
    NoPolicyFileError,
    PolicyDocument,
    load_policy,
    load_profile_files,
    load_profile_policies,
    load_profile_policy,
)
from scenarios.library import load_scenario, names


@pytest.fixture(scope="module")
def example() -> CompiledPolicy:
    return load_policy(FIXTURES / "example-policy.yaml", load_scenario("support-pii-injection"))


def test_a_rule_is_looked_up_by_id_with_its_description_and_frameworks(
        example: CompiledPolicy) -> None:
    fact = example.fact("no-bulk-pii")
    assert fact is not None
    assert (fact.kind, fact.envelope, fact.effect, fact.mode) == (
        "rule", Envelope.LEGAL, Effect.DENY, "enforce")
    assert fact.description == "No agent reads more than 100 customer records in one run"
    assert fact.frameworks == ("ASI02", "LLM06:2025")


def test_a_legal_rule_names_the_policy_s_legal_owner_and_others_name_none(
        example: CompiledPolicy) -> None:
    assert example.facts["no-pii-export"].owner == "dpo"
    assert example.facts["support-reads"].owner is None


def test_sequences_are_looked_up_beside_rules(example: CompiledPolicy) -> None:
    fact = example.fact("pii-then-external-email")
    assert fact is not None and fact.kind == "sequence"
    assert fact.frameworks == ("ASI02", "ASI03") and fact.owner == "dpo"


def test_facts_list_every_rule_then_every_sequence_in_document_order(
        example: CompiledPolicy) -> None:
    assert tuple(example.facts) == example.rule_ids()


def test_an_unknown_or_absent_id_has_no_facts(example: CompiledPolicy) -> None:
    assert example.fact("nope") is None and example.fact(None) is None


def test_a_tightened_shadow_rule_reads_as_enforced(example: CompiledPolicy) -> None:
    assert example.facts["injected-goals"].shadow
    assert example.with_enforced("injected-goals").facts["injected-goals"].mode == "enforce"


@pytest.mark.parametrize("name", names())
def test_the_facts_say_what_the_policy_files_say(name: str) -> None:
    scenario = load_scenario(name)
    for profile in scenario.profiles:
        document = validate_document(
            read_document(scenario.base / profile.policy, profile.policy), PolicyDocument)
        facts = load_profile_policy(scenario, profile.id).facts
        for r in (*document.rules, *document.sequences):
            fact = facts[r.id]
            assert (fact.description, fact.envelope, fact.effect, fact.mode, fact.frameworks
                    ) == (r.description, r.envelope, r.effect, r.mode, r.frameworks)


def test_profiles_naming_one_file_share_one_compiled_policy() -> None:
    scenario = load_scenario("devops-static-keys")
    files = load_profile_files(scenario)
    policies = load_profile_policies(scenario)
    assert list(files) == list(policies) == [p.id for p in scenario.profiles]
    for profile in scenario.profiles:
        same = [p.id for p in scenario.profiles if p.policy == profile.policy]
        assert all(files[p] is files[profile.id] for p in same)
        assert files[profile.id].doc.source == policies[profile.id].source


def test_a_profile_s_policy_is_named_next_to_its_scenario() -> None:
    scenario = load_scenario("support-pii-injection")
    profile = scenario.profiles[0]
    policy = load_profile_policy(scenario, profile.id)
    assert policy.source == f"builtin:support-pii-injection/{profile.policy}"


def test_a_scenario_built_in_memory_has_no_policy_file_to_load() -> None:
    with pytest.raises(NoPolicyFileError, match="not loaded from a file"):
        load_profile_policy(SCENARIO_MODEL, SCENARIO_MODEL.profiles[0].id)


def test_every_bad_policy_file_is_reported_together(scenario_dir: Path) -> None:
    scenario = load_scenario(scenario_dir)
    files = sorted({p.policy for p in scenario.profiles})
    assert len(files) >= 2
    for f in files:
        (scenario_dir / f).write_text("policy: p\nrules: [{id: r}]\n")
    with pytest.raises(LoadError) as info:
        load_profile_policies(scenario)
    assert all(f in str(info.value) for f in files)
