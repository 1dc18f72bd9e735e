"""``agentrange run`` and ``agentrange compare``: output formats, files and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.audit.signing import load_public_key
from engine.audit.verifier import verify_log
from tui.cli import main

SCENARIO = "support-pii-injection"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_prints_a_metrics_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", SCENARIO, "--until", "1h")
    assert code == 0
    assert "support-pii-injection under jit-context (seed 7)" in out
    for label in ("decisions", "records exposed", "time to contain", "benign steps denied"):
        assert label in out


def test_run_json_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", SCENARIO, "--profile", "static-rbac", "--seed", "3",
                       "--until", "2h30m", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["scenario"], data["profile"], data["seed"]) == (SCENARIO, "static-rbac", 3)
    assert data["time"] == 9000.0 and data["done"] is True
    for path in ("decisions.total", "decisions.allow", "decisions.deny",
                 "decisions.require_approval", "out_of_scope.attempts", "out_of_scope.stopped",
                 "blast_radius.records", "blast_radius.data_classes", "blast_radius.systems",
                 "blast_radius.potential_records", "blast_radius.exposure_window",
                 "delivery.tasks_completed", "delivery.task_latency_p50",
                 "delivery.task_latency_p95", "delivery.approval_wait_mean",
                 "delivery.benign_steps", "delivery.benign_denied",
                 "delivery.benign_denied_rate", "audit.decisions", "audit.logged"):
        node = data
        for part in path.split("."):
            node = node[part]
    assert "time_to_detect" in data and "time_to_contain" in data
    assert [i["id"] for i in data["incidents"]] == ["ticket-injection"]
    total = data["decisions"]
    assert total["total"] == total["allow"] + total["deny"] + total["require_approval"]


def test_run_markdown_is_a_github_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", SCENARIO, "--until", "30m", "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    header = lines.index("| metric | jit-context |")
    assert lines[header + 1] == "| --- | ---: |"
    assert all(line.startswith("| ") and line.endswith(" |")
               for line in lines[header:header + 10])


def test_run_writes_the_event_stream_and_an_audit_log(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    audit = tmp_path / "audit.jsonl"
    code, out, _ = run(capsys, "run", SCENARIO, "--until", "1h", "--events", str(events),
                       "--audit", str(audit), "--format", "json")
    assert code == 0
    result = json.loads(out)
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines[0]["kind"] == "run_started" and lines[-1]["kind"] == "run_ended"
    assert [e["seq"] for e in lines] == list(range(len(lines)))
    decisions = [e for e in lines if e["kind"] == "decision"]
    assert len(decisions) == result["decisions"]["total"]
    assert decisions[0]["data"]["decision"]["effect"] in ("allow", "deny", "require_approval")
    report = verify_log(audit)
    assert report.ok and report.records == len(lines)  # the log holds the whole stream
    assert result["audit"]["logged"] == result["audit"]["decisions"]


def test_the_audit_log_is_signed_with_the_callers_key_and_pinned_by_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key = tmp_path / "audit-key.pem"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert run(capsys, "run", SCENARIO, "--until", "30m", "--audit-log", str(first),
               "--audit-key", str(key))[0] == 0
    assert key.stat().st_mode & 0o777 == 0o600
    assert run(capsys, "run", SCENARIO, "--until", "30m", "--audit-log", str(second),
               "--audit-key", str(key))[0] == 0
    pinned = load_public_key(f"{first}.pub.pem")
    assert verify_log(second, pinned).ok and verify_log(first, pinned).ok
    # A fresh key per run when none is given: the first run's key does not vouch for it.
    other = tmp_path / "other.jsonl"
    assert run(capsys, "run", SCENARIO, "--until", "30m", "--audit-log", str(other))[0] == 0
    assert verify_log(other, load_public_key(f"{other}.pub.pem")).ok
    assert not verify_log(other, pinned).ok


def test_a_loose_audit_key_file_is_refused(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    key = tmp_path / "audit-key.pem"
    assert run(capsys, "run", SCENARIO, "--until", "10m", "--audit-log",
               str(tmp_path / "a.jsonl"), "--audit-key", str(key))[0] == 0
    key.chmod(0o644)
    code, _, err = run(capsys, "run", SCENARIO, "--until", "10m", "--audit-log",
                       str(tmp_path / "b.jsonl"), "--audit-key", str(key))
    assert code == 2 and str(key) in err and "Traceback" not in err
    assert not (tmp_path / "b.jsonl").exists()


def test_compare_json_has_results_and_a_diff(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", SCENARIO, "--until", "2h30m", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["profiles"] == ["static-rbac", "jit-context"]
    assert set(data["results"]) == {"static-rbac", "jit-context"}
    diff = data["diff"]
    assert diff["summary"].endswith(f"({diff['changed']}/{diff['common']})") or \
        f"({diff['changed']}/{diff['common']});" in diff["summary"]
    for example in diff["examples"]:
        assert set(example["effects"]) == {"static-rbac", "jit-context"}
        assert len(set(example["effects"].values())) == 2


def test_compare_table_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", SCENARIO, "--profiles", "jit-context,static-rbac",
                       "--until", "1h")
    assert code == 0 and "of decisions changed" in out
    code, out, _ = run(capsys, "compare", SCENARIO, "--until", "1h", "--format", "markdown")
    assert code == 0 and "| metric | static-rbac | jit-context |" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["run", SCENARIO, "--profile", "nope"], "no profile 'nope'"),
    (["run", SCENARIO, "--until", "soon"], "--until: expected a duration"),
    (["run", "no-such-scenario"], "no such file or built-in"),
    (["compare", SCENARIO, "--profiles", "static-rbac,ghost"], "no profile 'ghost'"),
    (["compare", SCENARIO, "--profiles", ","], "name at least one profile"),
    (["run", SCENARIO, "--events", "/nonexistent/dir/e.jsonl"], "cannot write"),
])
def test_user_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                             argv: list[str], message: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("agentrange: error: ") and message in err
    assert "Traceback" not in err


def test_an_existing_audit_log_is_not_overwritten(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_text("keep me\n")
    code, _, err = run(capsys, "run", SCENARIO, "--until", "10m", "--audit", str(audit))
    assert code == 2 and "already exists" in err
    assert audit.read_text() == "keep me\n"
