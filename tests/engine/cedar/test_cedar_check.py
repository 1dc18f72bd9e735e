"""Checking hand-written Cedar against a scenario: every problem with its file and line."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from cedar_support import SCENARIO_MODEL

from engine.cedar.check import check_policies
from engine.cedar.errors import CedarError
from engine.cedar.policyset import read_policies, split
from engine.cedar.profile import model_for
from engine.errors import AgentrangeError
from scenarios import library
from scenarios.library import load_scenario
from sim.runner import Simulation

MODEL = model_for(SCENARIO_MODEL, None)

HAND = textwrap.dedent('''\
    // Hand-written: one good policy, then everything agentrange cannot supply.
    @id("mail-ok")
    @envelope("security")
    permit (principal in Role::"support", action == Action::"email.send", resource)
    when { context.request has recipient && context.request.recipient like "*@acme.example" };

    @id("odd")
    forbid (principal, action == Action::"email.send", resource)
    when {
      context.input.reason == "x" ||
      principal.department == "sales"
    };

    permit (principal is User, action, resource);

    @id("templated")
    permit (principal == ?principal, action, resource);

    @id("bad")
    @effect("require_approval")
    permit (principal, action, resource);
    ''')


def problems(tmp_path: Path, text: str = HAND) -> list[str]:
    path = tmp_path / "hand.cedar"
    path.write_text(text)
    return [p.render() for p in check_policies(path, MODEL, source="hand.cedar").problems]


def test_a_good_policy_passes_and_missing_annotations_are_noted(tmp_path: Path) -> None:
    report = check_policies(_write(tmp_path, HAND.split("\n\n")[0] + "\n"), MODEL)
    assert report.ok and [p.id for p in report.policies] == ["mail-ok"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.cedar"
    path.write_text(text)
    return path


def test_every_construct_agentrange_cannot_supply_is_reported_at_its_line(
        tmp_path: Path) -> None:
    found = problems(tmp_path)
    assert "hand.cedar:10: error: context.input.reason: agentrange supplies no such " \
           "attribute" in found
    assert any(f.startswith("hand.cedar:11: error: ") and "department" in f for f in found)
    assert any(f.startswith("hand.cedar:14: error: ") and "User" in f for f in found)
    assert "hand.cedar:14: note: no @id: reported as rule hand-14" in found
    assert "hand.cedar:14: note: no @envelope: taken as security" in found
    assert any(f.startswith("hand.cedar:16: error: a template") for f in found)
    assert any(f.startswith("hand.cedar:19: error: @effect('require_approval') on a permit")
               for f in found)
    assert not any(f.startswith("hand.cedar:2:") for f in found)


def test_an_optional_attribute_read_without_has_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, '@id("x") @envelope("business")\n'
                               'forbid (principal, action, resource)\n'
                               'when { context.request.amount.greaterThan(decimal("5.0")) };\n')
    assert any(f.startswith("hand.cedar:3: error:") and "optional attribute" in f
               for f in found), found


def test_unknown_frameworks_duplicate_ids_and_syntax_errors_are_reported(
        tmp_path: Path) -> None:
    found = problems(tmp_path, '@id("a") @frameworks("NOPE1")\npermit (principal, action, '
                               'resource);\n@id("a")\npermit (principal, action, resource);\n'
                               '@id("c")\npermit (principal action resource);\n')
    assert any(f.startswith("hand.cedar:1: error: @frameworks:") for f in found), found
    assert any(f.startswith("hand.cedar:3: error: @id 'a' is also the id of the policy at "
                            "hand.cedar:1") for f in found), found
    assert any(f.startswith("hand.cedar:5: error: Cedar cannot parse this policy")
               for f in found), found


def test_split_keeps_semicolons_inside_strings_and_comments() -> None:
    chunks = split('// a; comment\npermit (principal, action, resource)\n'
                   'when { context.request.recipient == "a;b" };\n\n  forbid (principal, '
                   'action, resource);')
    assert [c.line for c in chunks] == [2, 5]
    assert chunks[0].text.endswith('"a;b" };')


def test_the_builtin_cedar_profile_checks_clean() -> None:
    scenario = load_scenario("refunds-cedar")
    path = library.path_of("refunds-cedar") / "policies" / "jit-context.cedar"
    from engine.cedar.profile import profile_document

    document, _ = profile_document(scenario, "jit-context")
    report = check_policies(path, model_for(scenario, document),
                            legal_owner=document.legal_owner)
    assert report.ok, [p.render() for p in report.problems]
    assert len(read_policies(path)) == 9


def test_a_profile_with_bad_cedar_fails_to_load_naming_file_and_line(tmp_path: Path) -> None:
    copy = tmp_path / "refunds-cedar"
    shutil.copytree(Path(str(library.path_of("refunds-cedar"))), copy)
    cedar = copy / "policies" / "jit-context.cedar"
    cedar.write_text(cedar.read_text() + '\n@id("oops")\npermit (principal, action, resource)'
                     '\nwhen { context.request.color == "red" };\n')
    scenario = load_scenario(copy)
    with pytest.raises(CedarError) as caught:
        Simulation(scenario, "jit-context")
    assert isinstance(caught.value, AgentrangeError)
    assert "policies/jit-context.cedar:" in str(caught.value)
    assert "color" in str(caught.value)
