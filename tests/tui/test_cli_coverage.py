"""``agentrange report --coverage``: which framework items a scenario set rehearses, and where."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scenarios import library
from tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _copy(tmp_path: Path, *names: str) -> Path:
    root = tmp_path / "set"
    for name in names:
        shutil.copytree(str(library.path_of(name)), root / name)
    return root


def test_coverage_of_a_directory_names_the_rehearsing_scenario_per_item(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = _copy(tmp_path, "code-exec-sandbox", "agent-lifecycle")
    code, out, _ = run(capsys, "report", str(root), "--coverage", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["scenarios"] == ["agent-lifecycle", "code-exec-sandbox"]
    items = {i["id"]: i for i in data["items"]}
    assert data["total"] == 20 and len(items) == 20
    assert items["ASI05"]["rehearsed"] == ["code-exec-sandbox"]
    assert "incident host-escape" in items["ASI05"]["where"]["code-exec-sandbox"]
    assert items["NHI10:2025"]["rehearsed"] == ["agent-lifecycle"]
    assert "rule no-invoice-exports (policy finance-ops-context)" in \
        items["NHI10:2025"]["where"]["agent-lifecycle"]
    assert "NHI4:2025" in data["uncovered"] and data["covered"] == 20 - len(data["uncovered"])


def test_coverage_in_markdown_lists_the_uncovered_items(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = _copy(tmp_path, "code-exec-sandbox")
    code, out, _ = run(capsys, "report", str(root / "code-exec-sandbox"), "--coverage")
    assert code == 0
    assert out.startswith("# Framework coverage of 1 scenario\n")
    assert "| ASI05 | Unexpected Code Execution (RCE) | code-exec-sandbox | - |" in out
    assert "Not covered: " in out and "NHI10:2025" in out.split("Not covered: ")[1]


@pytest.mark.parametrize("extra", [["--profile", "x"], ["--audit-log", "x.jsonl"],
                                   ["--format", "html"]])
def test_coverage_refuses_options_of_a_run(capsys: pytest.CaptureFixture[str],
                                           extra: list[str]) -> None:
    code, out, err = run(capsys, "report", "code-exec-sandbox", "--coverage", *extra)
    assert code == 2 and out == ""
    assert err.startswith("agentrange: error: ") and len(err.strip().splitlines()) == 1
