"""``agentrange replay``: the decision diff of a recorded run under another policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios import library
from tui.cli import main

NAME = "support-pii-injection"
POLICIES = Path(str(library.path_of(NAME) / "policies"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "run.jsonl"
    assert main(["run", NAME, "--profile", "jit-context", "--events", str(path),
                 "--format", "json"]) == 0
    return path


def test_same_policy_changes_nothing(capsys: pytest.CaptureFixture[str], events: Path
                                     ) -> None:
    code, out, _ = run(capsys, "replay", str(events), "--policy",
                       str(POLICIES / "jit-context.yaml"))
    assert code == 0
    assert "0 changed" in out and "re-decided under policy jit-context" in out


def test_other_policy_reports_the_diff(capsys: pytest.CaptureFixture[str], events: Path
                                       ) -> None:
    code, out, _ = run(capsys, "replay", str(events), "--policy",
                       str(POLICIES / "static-rbac.yaml"), "--format", "json",
                       "--examples", "1")
    doc = json.loads(out)
    assert code == 0
    assert doc["changed"] > 0 and doc["total"] > doc["changed"]
    assert doc["matrix"] == [{"from": "require_approval", "to": "allow",
                              "count": doc["changed"]}]
    group = doc["groups"][0]
    assert group["old_rule"] == "external-mail-needs-approval"
    assert group["new_rule"] == "support-agent-role" and len(group["examples"]) == 1
    code, out, _ = run(capsys, "replay", str(events), "--policy",
                       str(POLICIES / "static-rbac.yaml"))
    assert "require_approval" in out and "support-agent-role" in out


def test_fail_on_change(capsys: pytest.CaptureFixture[str], events: Path) -> None:
    assert run(capsys, "replay", str(events), "--policy", str(POLICIES / "static-rbac.yaml"),
               "--fail-on-change")[0] == 1
    assert run(capsys, "replay", str(events), "--policy", str(POLICIES / "jit-context.yaml"),
               "--fail-on-change")[0] == 0


def test_garbled_line_is_one_line_error(capsys: pytest.CaptureFixture[str], events: Path,
                                        tmp_path: Path) -> None:
    lines = events.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:3], "{not json", *lines[3:]]) + "\n")
    code, _, err = run(capsys, "replay", str(bad), "--policy",
                       str(POLICIES / "jit-context.yaml"))
    assert code == 2
    assert f"{bad}:4" in err and err.count("\n") == 1


def test_bad_policy_and_wrong_scenario(capsys: pytest.CaptureFixture[str], events: Path,
                                       tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("policy: p\nrules:\n  - {id: x, envelope: security, effect: allow, "
                      "target: {tools: [no.such.tool]}}\n")
    code, _, err = run(capsys, "replay", str(events), "--policy", str(policy))
    assert code == 2 and f"{policy}:" in err and "no.such.tool" in err
    code, _, err = run(capsys, "replay", str(events), "--policy",
                       str(POLICIES / "jit-context.yaml"), "--scenario",
                       "refunds-customer-facing")
    assert code == 2 and "recorded for scenario" in err
