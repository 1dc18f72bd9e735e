"""``agentrange test``: PASS/FAIL per expectation, the closing count, JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_builtin_expectations_pass(capsys: pytest.CaptureFixture[str], tmp_path: Path
                                   ) -> None:
    junit = tmp_path / "report.xml"
    code, out, _ = run(capsys, "test", "support-pii-injection", "--junit", str(junit))
    lines = out.strip().splitlines()
    assert code == 0
    assert lines[-1] == "5 passed, 0 failed"
    assert sum(line.startswith("PASS") for line in lines) == 5
    assert any("[jit-context] blast_radius.records <= 100" in line for line in lines)
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "0"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "support-pii-injection"
    assert len(suite.findall("testcase")) == 5


def test_failing_expectation_fails_the_run(capsys: pytest.CaptureFixture[str],
                                           scenario_data: dict[str, Any],
                                           write_scenario: Callable[[Any], Path],
                                           tmp_path: Path) -> None:
    scenario_data["expect"].append({"profile": "static-rbac", "metric": "blast_radius.records",
                                    "lte": 100})
    path = write_scenario(scenario_data)
    junit = tmp_path / "report.xml"
    code, out, _ = run(capsys, "test", str(path.parent), "--junit", str(junit))
    lines = out.strip().splitlines()
    assert code == 1
    assert lines[-1] == "5 passed, 1 failed"
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 1 and "static-rbac" in failed[0] and "actual:" in failed[0]
    root = ET.parse(junit).getroot()
    assert root.get("tests") == "6" and root.get("failures") == "1"
    failures = root.findall(".//failure")
    assert len(failures) == 1
    assert "actual: blast_radius.records = " in (failures[0].get("message") or "")


def test_directory_of_scenarios(capsys: pytest.CaptureFixture[str], scenario_dir: Path
                                ) -> None:
    code, out, _ = run(capsys, "test", str(scenario_dir.parent))
    assert code == 0 and out.strip().splitlines()[-1] == "5 passed, 0 failed"


def test_scenario_without_expectations_is_skipped(capsys: pytest.CaptureFixture[str],
                                                  scenario_data: dict[str, Any],
                                                  write_scenario: Callable[[Any], Path]
                                                  ) -> None:
    scenario_data["expect"] = []
    path = write_scenario(json.loads(json.dumps(scenario_data)))
    code, out, _ = run(capsys, "test", str(path))
    assert code == 0 and "SKIP" in out and out.strip().endswith("0 passed, 0 failed")


@pytest.mark.parametrize("argv", [["test", "no-such-scenario"],
                                  ["test", "/nonexistent/dir/scenario.yaml"]])
def test_bad_path_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str],
                                          argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1


def test_empty_directory_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path
                                     ) -> None:
    code, _, err = run(capsys, "test", str(tmp_path))
    assert code == 2 and str(tmp_path) in err
