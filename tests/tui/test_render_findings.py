"""Findings rendered as JSON and SARIF: counts by severity, a schema-valid log, locations."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from engine.readiness.findings import Finding
from engine.readiness.registry import REGISTRY, run_checks
from engine.readiness.subject import load_subject
from tui.render.findings import artifact_uri, to_json, to_sarif

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DIRTY = FIXTURES / "readiness" / "dirty"
SCHEMA = json.loads((FIXTURES / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def dirty() -> list[Finding]:
    return run_checks(load_subject(DIRTY))


def test_json_counts_by_severity(dirty: list[Finding]) -> None:
    doc = to_json(dirty, scanned=["x"])
    assert sum(doc["counts"].values()) == len(dirty) == len(doc["findings"])
    assert doc["findings"][0]["frameworks"]


def test_sarif_is_valid_and_carries_rules_and_locations(dirty: list[Finding]) -> None:
    log = to_sarif(dirty, base=str(DIRTY.parent), version="1.2.3")
    jsonschema.validate(log, SCHEMA)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(REGISTRY)
    assert all(r["properties"]["tags"] and r["shortDescription"]["text"] for r in rules)
    assert len(run["results"]) == len(dirty)
    for result, finding in zip(run["results"], dirty, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding.check
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].startswith("dirty/")
        assert loc["region"]["startLine"] == finding.line
    levels = {r["level"] for r in run["results"]}
    assert levels <= {"note", "warning", "error"}


def test_sarif_schema_fixture_is_the_complete_official_one() -> None:
    assert SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert len(SCHEMA["definitions"]) == 52
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": "2.1.0", "runs": [{"results": []}]}, SCHEMA)


def test_artifact_uris_are_relative_to_the_scanned_directory(tmp_path: Path) -> None:
    inside = tmp_path / "my scenarios" / "a" / "scenario.yaml"
    assert artifact_uri(str(inside), str(tmp_path)) == "my%20scenarios/a/scenario.yaml"
    assert artifact_uri("builtin:x/scenario.yaml", str(tmp_path)) == "x/scenario.yaml"
