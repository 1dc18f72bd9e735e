"""``agentrange audit verify`` and ``audit show``: output and exit codes, called in-process."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.audit.signing import derive_signing_key, save_public_key
from engine.audit.writer import AuditWriter
from tui.commands.audit import register

ROOT = Path(__file__).resolve().parents[2]
KEY = derive_signing_key(3)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="agentrange")
    register(top.add_subparsers(dest="command", required=True))
    return top


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = parser().parse_args(list(argv))
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "run.audit.jsonl"
    with AuditWriter(path, KEY, run_id="cli", checkpoint_every=3) as writer:
        for i in range(1, 8):
            writer.append(
                {
                    "time": 60.0 * i,
                    "kind": "decision",
                    "agent": f"spiffe://acme.example/agent/{'planner' if i % 2 else 'coder'}",
                    "chain": ["spiffe://acme.example/agent/planner"],
                    "tool": "repo.push",
                    "resource": "[bold]repo/main[/]",  # log content must not become markup
                    "decision": {"effect": "deny" if i % 3 == 0 else "allow", "rule": f"r{i}"},
                    "outcome": "executed",
                }
            )
    return path


@pytest.fixture
def pubkey(tmp_path: Path) -> Path:
    path = tmp_path / "audit.pub.pem"
    save_public_key(KEY.public_key(), path)
    return path


def test_verify_ok(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, out, _ = cli(capsys, "audit", "verify", str(log))
    assert code == 0
    assert out.splitlines()[0] == "OK: 7 records, 3 checkpoints"
    assert "--key" in out  # says that without a key the signer is not pinned


def test_verify_with_pinned_key(
    capsys: pytest.CaptureFixture[str], log: Path, pubkey: Path
) -> None:
    code, out, _ = cli(capsys, "audit", "verify", str(log), "--key", str(pubkey))
    assert (code, out) == (0, "OK: 7 records, 3 checkpoints\n")


def test_verify_with_the_wrong_key_fails(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.pem"
    save_public_key(derive_signing_key(4).public_key(), other)
    code, out, _ = cli(capsys, "audit", "verify", str(log), "--key", str(other))
    assert code == 1
    assert out.startswith(f"FAIL: {log}: line 1: wrong_key:")


def test_verify_tampered_log_names_the_first_bad_line(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    lines = log.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"effect":"allow"', b'"effect":"deny"')  # seq 2
    log.write_bytes(b"".join(lines))
    code, out, _ = cli(capsys, "audit", "verify", str(log))
    assert code == 1
    first, second = out.splitlines()
    assert first.startswith(f"FAIL: {log}: line 3, seq 2: edited:")
    assert second == (
        "records 1..1 before it are intact (none of them yet covered by a signed checkpoint)"
    )


def test_verify_truncated_log(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    data = log.read_bytes()
    log.write_bytes(data[: data.rindex(b"\n", 0, -1) + 1])  # drop the closing checkpoint
    code, out, _ = cli(capsys, "audit", "verify", str(log))
    assert code == 1
    assert "truncated: truncated after seq 7" in out
    assert "records 1..7 are intact (signed through seq 6)" in out


def test_verify_unusable_input_exits_2_with_one_line_naming_the_file(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.jsonl"
    code, out, err = cli(capsys, "audit", "verify", str(missing))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and str(missing) in err
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key")
    code, _, err = cli(capsys, "audit", "verify", str(log), "--key", str(bad_key))
    assert code == 2 and str(bad_key) in err and "PEM" in err


def show_json(capsys: pytest.CaptureFixture[str], log: Path, *filters: str) -> list[dict[str, Any]]:
    code, out, _ = cli(capsys, "audit", "show", str(log), "--format", "json", *filters)
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_show_json_filters(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    assert [r["seq"] for r in show_json(capsys, log)] == [1, 2, 3, 4, 5, 6, 7]
    assert [r["seq"] for r in show_json(capsys, log, "--effect", "deny")] == [3, 6]
    assert [r["seq"] for r in show_json(capsys, log, "--agent", "coder")] == [2, 4, 6]
    assert [r["seq"] for r in show_json(capsys, log, "--chain", "planner")] == list(range(1, 8))
    assert [r["seq"] for r in show_json(capsys, log, "--rule", "r5")] == [5]
    window = show_json(capsys, log, "--since", "2m", "--until", "240")
    assert [r["seq"] for r in window] == [2, 3, 4]
    assert show_json(capsys, log, "--agent", "planner", "--effect", "deny")[0]["seq"] == 3


def test_show_table(
    capsys: pytest.CaptureFixture[str], log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli(capsys, "audit", "show", str(log), "--effect", "deny")
    assert code == 0
    assert "2 matching records" in out
    assert "[bold]repo/main[/]" in out
    assert "acme.example/agent/planner" in out
    assert "deny" in out and "r3" in out and "r6" in out and "r1 " not in out


def test_show_unusable_input_exits_2(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    code, _, err = cli(capsys, "audit", "show", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "missing.jsonl" in err
    log.write_bytes(log.read_bytes() + b"garbage\n")
    code, _, err = cli(capsys, "audit", "show", str(log), "--format", "json")
    assert code == 2 and "line 12 is not JSON" in err


def test_bad_duration_is_a_usage_error(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["audit", "show", str(log), "--since", "soon"])
    assert info.value.code == 2
    assert "--since" in capsys.readouterr().err


def test_agentrange_audit_verify_end_to_end(log: Path) -> None:
    # One real process through the installed entry point's module, to prove the wiring.
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "audit", "verify", str(log)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: 7 records, 3 checkpoints")


def test_show_reads_a_runs_event_log_decisions_by_default_and_any_kind_on_request(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from tui.cli import main

    path = tmp_path / "run.jsonl"
    assert main(["run", "support-pii-injection", "--profile", "static-rbac", "--until", "3h",
                 "--audit-log", str(path), "--format", "json"]) == 0
    capsys.readouterr()
    code, out, _ = cli(capsys, "audit", "show", str(path), "--agent", "support-bot",
                       "--format", "json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows and {r["kind"] for r in rows} == {"decision"}
    assert all(r["agent"] == "support-bot" for r in rows)
    code, out, _ = cli(capsys, "audit", "show", str(path), "--kind", "alert",
                       "--format", "json")
    alerts = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and alerts and all(a["kind"] == "alert" for a in alerts)
    code, out, _ = cli(capsys, "audit", "show", str(path), "--effect", "allow")
    assert code == 0 and "allow" in out and "matching records" in out
