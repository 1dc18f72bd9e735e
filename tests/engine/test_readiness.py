"""Readiness checks: each check fires on the dirty fixture and not on the clean one."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.errors import LoadError
from engine.readiness.checks_rules import never_matches, shadowed_by
from engine.readiness.findings import SEVERITIES, Finding, fails
from engine.readiness.registry import REGISTRY, cited_frameworks, run_checks
from engine.readiness.subject import load_subject
from engine.yamldoc import load_yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CLEAN = FIXTURES / "readiness" / "clean"
DIRTY = FIXTURES / "readiness" / "dirty"
FRAMEWORKS_DOC = Path("/work/shared/frameworks.md")


@pytest.fixture(scope="module")
def clean() -> list[Finding]:
    return run_checks(load_subject(CLEAN))


@pytest.fixture(scope="module")
def dirty() -> list[Finding]:
    return run_checks(load_subject(DIRTY))


def _copy(tmp_path: Path, src: Path = CLEAN) -> Path:
    dest = tmp_path / src.name
    shutil.copytree(src, dest)
    return dest


def _edit(path: Path, change: Any) -> None:
    data = load_yaml(path.read_text(), str(path)).data
    change(data)
    path.write_text(json.dumps(data, indent=1))


def test_clean_fixture_has_no_findings(clean: list[Finding]) -> None:
    assert clean == []


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_each_check_fires_on_dirty_and_not_on_clean(check_id: str, clean: list[Finding],
                                                    dirty: list[Finding]) -> None:
    assert any(f.check == check_id for f in dirty), f"{check_id} did not fire"
    assert not any(f.check == check_id for f in clean)


def test_registry_is_documented_and_ordered() -> None:
    assert list(REGISTRY) == sorted(REGISTRY)
    assert len(REGISTRY) >= 13
    for check in REGISTRY.values():
        assert re.fullmatch(r"AR\d{3}", check.id)
        assert check.severity in SEVERITIES
        assert check.frameworks and check.summary
        assert len(check.help) > 40, check.id


def test_cited_framework_ids_are_in_the_shared_reference() -> None:
    if not FRAMEWORKS_DOC.is_file():
        pytest.skip("shared frameworks.md not present")
    text = FRAMEWORKS_DOC.read_text()
    for ref in cited_frameworks():
        assert f"| {ref} |" in text or f"| {ref} (" in text, ref


def test_cited_framework_ids_are_in_the_catalogue() -> None:
    from engine import frameworks

    for ref in sorted(cited_frameworks()):
        assert frameworks.ref(ref).id == ref, ref  # known, and already in canonical form


def test_findings_point_at_the_offending_line(dirty: list[Finding]) -> None:
    def line(f: Finding) -> str:
        path = DIRTY / f.file.split(f"{DIRTY.name}/", 1)[1]
        assert f.line is not None
        return path.read_text().splitlines()[f.line - 1]

    by_check = {f.check: f for f in dirty}
    assert "ttl: 90d" in line(by_check["AR002"])
    assert "owners:" in line(by_check["AR001"])
    assert "credential: shared-key" in line(by_check["AR005"])
    assert "id: admin-grants" in line(by_check["AR007"])
    assert "mode: shadow" in line(by_check["AR011"])
    assert "id: vendor-kb" in line(by_check["AR013"])
    assert all(f.column is not None for f in dirty)


def test_never_matching_rules_are_reported_with_the_reason(dirty: list[Finding]) -> None:
    messages = {f.message for f in dirty if f.check == "AR012"}
    assert any("small-and-large" in m and "contradict" in m for m in messages)
    assert any("lookup-kb" in m and "target matches no" in m for m in messages)
    assert any("external-kb" in m and "never hold" in m for m in messages)
    assert not any("support-role" in m or "refunds" in m for m in messages)


def test_never_matches_and_shadowed_by_directly() -> None:
    subject = load_subject(DIRTY)
    policy = subject.policies["prod"]
    rules = {r.id: r for r in policy.rules}
    assert never_matches(subject, policy, rules["support-role"]) is None
    assert never_matches(subject, policy, rules["injected-goals"]) is None
    assert shadowed_by(subject, policy, rules["vendor-kb"]) == ("no-vendor-agents",)
    assert shadowed_by(subject, policy, rules["support-role"]) is None


def test_a_conditional_deny_does_not_shadow_an_allow(tmp_path: Path) -> None:
    root = _copy(tmp_path, DIRTY)

    def conditional(data: dict[str, Any]) -> None:
        deny = next(r for r in data["rules"] if r["id"] == "no-vendor-agents")
        deny["when"] = {"attr": "request.records", "gt": 100}

    _edit(root / "policies" / "dirty.yaml", conditional)
    findings = run_checks(load_subject(root), ["AR013"])
    assert findings == []


def test_egress_chain_covered_by_a_sequence_is_not_reported(tmp_path: Path) -> None:
    root = _copy(tmp_path, DIRTY)

    def add_sequence(data: dict[str, Any]) -> None:
        data["sequences"] = [{"id": "pii-then-mail", "envelope": "legal", "effect": "deny",
                              "window": "10m", "steps": [
                                  {"target": {"data_classes": ["pii"]}},
                                  {"target": {"tools": ["mail.send_external"]}}]}]

    _edit(root / "policies" / "dirty.yaml", add_sequence)
    assert run_checks(load_subject(root), ["AR009"]) == []


def test_shadow_sequence_does_not_cover_the_chain(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def shadow(data: dict[str, Any]) -> None:
        data["sequences"][0]["mode"] = "shadow"

    _edit(root / "policies" / "prod.yaml", shadow)
    checks = {f.check for f in run_checks(load_subject(root))}
    assert checks == {"AR009", "AR011"}


def test_ttl_threshold_is_configurable(tmp_path: Path) -> None:
    assert run_checks(load_subject(CLEAN, max_ttl=300), ["AR002"])[0].severity == "medium"
    assert run_checks(load_subject(CLEAN, max_ttl=600), ["AR002"]) == []


def test_non_production_findings_do_not_gate_unless_asked(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def legacy(data: dict[str, Any]) -> None:
        data["profiles"].append({"id": "legacy", "credentials": {
            "mode": "static", "ttl": "90d", "scope": "role"}, "policy": "policies/prod.yaml"})

    _edit(root / "scenario.yaml", legacy)
    findings = run_checks(load_subject(root))
    assert {f.check for f in findings} == {"AR002", "AR003"}
    assert all(f.profiles == ("legacy",) and not f.production for f in findings)
    assert not fails(findings, "low")
    assert fails(findings, "high", all_profiles=True)


def test_scenario_wide_findings_gate(dirty: list[Finding]) -> None:
    owners = [f for f in dirty if f.check == "AR001"]
    assert owners and all(f.gating for f in owners)
    assert fails(owners, "high")
    assert not fails(owners, "critical")


def test_bad_policy_file_is_a_load_error(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "policies" / "prod.yaml").write_text("policy: prod\nrules: [\n")
    with pytest.raises(LoadError) as info:
        load_subject(root)
    assert "prod.yaml" in str(info.value) and info.value.line is not None


def test_builtins_load_and_check_quickly() -> None:
    from scenarios import library

    for name in library.names():
        findings = run_checks(load_subject(library.locate(name)))
        assert all(f.file.startswith(f"builtin:{name}/") for f in findings)


def test_retirement_findings_follow_the_profiles_offboarding(tmp_path: Path) -> None:
    root = _copy(tmp_path, DIRTY)

    def offboard(data: Any) -> None:
        for profile in data["profiles"]:
            profile["credentials"]["offboarding"] = "owner"

    before = run_checks(load_subject(root), ["AR014"])
    assert {(f.severity, f.profiles) for f in before} == {("high", ("legacy",)),
                                                          ("medium", ("prod",))}
    assert "refund-bot retires at 12h" in before[0].message
    _edit(root / "scenario.yaml", offboard)
    assert run_checks(load_subject(root), ["AR014"]) == []


def test_profiles_sharing_one_trust_domain_across_environments_are_reported(
        tmp_path: Path) -> None:
    from scenarios import library

    root = tmp_path / "ci"
    shutil.copytree(str(library.path_of("ci-pipeline-trust")), root)
    found = run_checks(load_subject(root), ["AR015"])
    assert [(f.severity, f.profiles) for f in found] == [("high", ("static-shared",))]
    assert "test (test.acme.example), prod (prod.acme.example)" in found[0].message
    assert found[0].line is not None  # the profile, in the file

    def isolate(data: Any) -> None:
        for profile in data["profiles"]:
            profile["environments"] = "isolated"

    _edit(root / "scenario.yaml", isolate)
    assert run_checks(load_subject(root), ["AR015"]) == []


def test_one_environment_needs_no_trust_domain_of_its_own(tmp_path: Path) -> None:
    root = _copy(tmp_path, DIRTY)
    assert run_checks(load_subject(root), ["AR015"])  # two environments, shared

    def one(data: Any) -> None:
        data["environments"] = data["environments"][:1]

    _edit(root / "scenario.yaml", one)
    assert run_checks(load_subject(root), ["AR015"]) == []
