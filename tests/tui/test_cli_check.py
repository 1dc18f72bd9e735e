"""``agentrange check``: formats, the gate's exit code, listing checks, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from engine.readiness.registry import REGISTRY
from tui.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
READINESS = FIXTURES / "readiness"
SCHEMA = json.loads((FIXTURES / "sarif-schema-2.1.0.json").read_text())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_scenario_passes_the_gate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(READINESS / "clean"))
    assert code == 0
    assert "0 finding(s)" in out and "gate: pass" in out


def test_dirty_scenario_fails_the_gate_with_a_table(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    code, out, _ = run(capsys, "check", str(READINESS / "dirty"))
    assert code == 1
    for check_id in REGISTRY:
        assert check_id in out
    assert "tests/fixtures/readiness/dirty" in out
    assert "gate: FAIL" in out


def test_fail_on_threshold_and_never(capsys: pytest.CaptureFixture[str]) -> None:
    target = str(READINESS / "dirty")
    assert run(capsys, "check", target, "--fail-on", "critical")[0] == 1
    assert run(capsys, "check", target, "--fail-on", "never")[0] == 0
    # Only the low finding (AR013) is left when selecting it: below a high threshold.
    assert run(capsys, "check", target, "--checks", "AR013")[0] == 0
    assert run(capsys, "check", target, "--checks", "ar013", "--fail-on", "low")[0] == 1


def test_non_production_findings_gate_only_with_all_profiles(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "clean"
    shutil.copytree(READINESS / "clean", root)
    text = (root / "scenario.yaml").read_text()
    text += ("  - id: legacy\n    credentials: {mode: static, ttl: 90d, scope: role}\n"
             "    policy: policies/prod.yaml\n")
    (root / "scenario.yaml").write_text(text)
    code, out, _ = run(capsys, "check", str(root), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["counts"]["high"] == 1 and not doc["gate"]["failed"]
    assert all(f["profiles"] == ["legacy"] and not f["production"] for f in doc["findings"])
    assert run(capsys, "check", str(root), "--all-profiles")[0] == 1


def test_directory_of_scenarios_and_valid_sarif(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    report = tmp_path / "report.sarif"
    code, out, _ = run(capsys, "check", str(READINESS), "--format", "sarif",
                       "-o", str(report))
    assert code == 1 and out == ""
    log = json.loads(report.read_text())
    jsonschema.validate(log, SCHEMA)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]}
    assert uris and all(u.startswith("dirty/") for u in uris)
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == list(REGISTRY)


def test_builtin_by_name_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "support-pii-injection", "--format", "json",
                       "--fail-on", "never")
    doc = json.loads(out)
    assert code == 0 and doc["scanned"] == ["support-pii-injection"]
    assert all(f["file"].startswith("builtin:support-pii-injection/") for f in doc["findings"])


def test_list_checks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--list-checks", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == list(REGISTRY)
    assert all(r["frameworks"] and r["help"] for r in rows)
    code, out, _ = run(capsys, "check", "--list-checks")
    assert code == 0 and all(c in out for c in REGISTRY)


@pytest.mark.parametrize("argv, expected", [
    (["check", "no-such-scenario"], "no-such-scenario"),
    (["check", "--checks", "AR999", str(READINESS / "clean")], "AR999"),
    (["check", "--max-ttl", "soon", str(READINESS / "clean")], "--max-ttl"),
])
def test_bad_input_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str],
                                           argv: list[str], expected: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert expected in err and err.count("\n") == 1


def test_bad_policy_yaml_names_file_and_line(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    root = tmp_path / "clean"
    shutil.copytree(READINESS / "clean", root)
    (root / "policies" / "prod.yaml").write_text("policy: prod\nrules:\n  - id: [\n")
    code, _, err = run(capsys, "check", str(root))
    assert code == 2
    assert "prod.yaml:" in err and "Traceback" not in err
