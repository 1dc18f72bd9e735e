"""``agentrange audit verify``, ``anchor`` and ``show``: output and exit codes, in-process."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.audit.canonical import canonical_json
from engine.audit.signing import derive_signing_key, key_id, save_public_key
from engine.audit.writer import AuditWriter
from tests.engine.audit_support import objects, relink
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


def test_verify_ok_says_what_is_proven_which_run_and_that_the_signer_is_not_pinned(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    code, out, _ = cli(capsys, "audit", "verify", str(log))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        f"OK: {log}: 7 records, all proven by 3 signed checkpoints; the run is complete"
    )
    assert lines[1] == "run:        cli"
    assert lines[2].startswith("            planned end not stated (simulated), nonce ")
    assert lines[3] == (
        f"signer:     key {key_id(KEY.public_key())} from the log's own header: signer not pinned"
    )
    assert "--key" in lines[4] and "--anchor" in lines[4]


def test_verify_with_a_pinned_key(
    capsys: pytest.CaptureFixture[str], log: Path, pubkey: Path
) -> None:
    code, out, _ = cli(capsys, "audit", "verify", str(log), "--key", str(pubkey))
    assert code == 0
    assert out.splitlines()[-1] == (
        f"signer:     key {key_id(KEY.public_key())} from --key {pubkey}: pinned"
    )


def test_the_key_file_beside_the_log_does_not_pin_the_signer(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    beside = Path(f"{log}.pub.pem")
    save_public_key(KEY.public_key(), beside)
    code, out, _ = cli(capsys, "audit", "verify", str(log), "--key", str(beside))
    assert code == 0
    assert f"from --key {beside}, the file beside the log: signer not pinned" in out


def test_verify_with_the_wrong_key_fails(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.pem"
    save_public_key(derive_signing_key(4).public_key(), other)
    code, out, _ = cli(capsys, "audit", "verify", str(log), "--key", str(other))
    assert code == 1
    assert out.startswith(f"FAIL: {log}: line 1: wrong_key:")


def test_verify_tampered_log_names_the_first_bad_line_and_the_three_states(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    lines = log.read_bytes().splitlines(keepends=True)
    # seq 5 (lines: header, seq 1-3, cp 3, seq 4-6, cp 6, seq 7, closing cp)
    lines[6] = lines[6].replace(b'"effect":"allow"', b'"effect":"deny"')
    log.write_bytes(b"".join(lines))
    code, out, _ = cli(capsys, "audit", "verify", str(log))
    assert code == 1
    first, proven, unverified = out.splitlines()[:3]
    assert first.startswith(f"FAIL: {log}: line 7, seq 5: altered:")
    assert proven == "proven:     records 1..3 (signed checkpoint at line 5)"
    assert unverified == (
        "unverified: 1 record after them (seq 4) hash-chain but no valid signature covers them: "
        "not proven"
    )
    assert "intact" not in out


def test_verify_a_rehashed_forgery_proves_only_up_to_the_last_good_checkpoint(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    objs = objects(log)
    objs[6]["decision"]["effect"] = "deny"  # seq 5, then re-hash seq 5-6 (no key needed)
    log.write_bytes(b"".join(relink(objs, 6, 8, renumber=False)))
    code, out, _ = cli(capsys, "audit", "verify", str(log))
    assert code == 1
    first, proven, unverified = out.splitlines()[:3]
    assert first.startswith(f"FAIL: {log}: line 9, seqs 4..6: altered: line 9: the checkpoint "
                            "signed for seq 6 does not match the chain")
    assert proven == "proven:     records 1..3 (signed checkpoint at line 5)"
    assert unverified.startswith("unverified: 3 records after them (seqs 4..6)")


def test_verify_truncated_log(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    data = log.read_bytes()
    log.write_bytes(data[: data.rindex(b"\n", 0, -1) + 1])  # drop the closing checkpoint
    code, out, _ = cli(capsys, "audit", "verify", str(log))
    assert code == 1
    first, proven, unverified = out.splitlines()[:3]
    assert first.startswith(f"FAIL: {log}: line 11: truncated: the log ends at line 10 without "
                            "its closing checkpoint")
    assert proven == "proven:     records 1..6 (signed checkpoint at line 9)"
    assert unverified.startswith("unverified: 1 record after them (seq 7)")


def incomplete_log(path: Path) -> Path:
    with AuditWriter(path, KEY, run_id="cut", planned_end=28800.0) as writer:
        writer.append({"time": 60.0, "kind": "decision"})
        writer.close(incomplete="interrupted by SIGINT", at=8130.0)
    return path


def test_an_incomplete_log_fails_in_one_line_unless_allowed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = incomplete_log(tmp_path / "cut.jsonl")
    code, out, _ = cli(capsys, "audit", "verify", str(log))
    assert code == 1
    assert out.splitlines()[0] == (
        f"INCOMPLETE: {log}: the run stopped at 2h15m30s (simulated) of its planned 8h: "
        "interrupted by SIGINT; 1 record proven by 1 signed checkpoint (exit 1; "
        "--allow-incomplete accepts it)"
    )
    assert out.splitlines()[1] == "run:        cut"
    code, out, _ = cli(capsys, "audit", "verify", str(log), "--allow-incomplete")
    assert code == 0 and out.startswith(f"INCOMPLETE (allowed): {log}: the run stopped")


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
    bad_anchor = tmp_path / "head.json"
    bad_anchor.write_text("{}")
    code, _, err = cli(capsys, "audit", "verify", str(log), "--anchor", str(bad_anchor))
    assert code == 2 and str(bad_anchor) in err and err.count("\n") == 1


def test_a_version_1_log_is_refused_as_unusable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = {"header": {"format": "agentrange-audit", "version": 1}, "prev": "0" * 64, "seq": 0}
    data = canonical_json(body).encode()
    line = data[:-1] + b',"hash":"' + hashlib.sha256(data).hexdigest().encode() + b'"}\n'
    old = tmp_path / "old.jsonl"
    old.write_bytes(line)
    code, out, err = cli(capsys, "audit", "verify", str(old))
    assert (code, out) == (2, "")
    assert "format version 1" in err and err.count("\n") == 1


# --------------------------------------------------------------------------- anchors


def test_anchor_prints_the_head_and_verify_holds_the_log_to_it(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    code, out, err = cli(capsys, "audit", "anchor", str(log))
    assert code == 0 and "signer not pinned" in err
    head = json.loads(out)
    assert {k: head[k] for k in ("format", "run", "seq", "final")} == {
        "format": "agentrange-audit-anchor", "run": "cli", "seq": 7, "final": True}
    assert len(head["hash"]) == 64 and len(head["sig"]) == 86
    stored = tmp_path / "head.json"
    stored.write_text(out)
    code, out, _ = cli(capsys, "audit", "verify", str(log), "--anchor", str(stored))
    assert code == 0
    assert "matching the anchor's key id: pinned" in out
    assert out.splitlines()[-1] == "anchor:     the log extends the anchored head"


def test_verify_fails_a_log_rewritten_after_it_was_anchored(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    _, out, _ = cli(capsys, "audit", "anchor", str(log))
    stored = tmp_path / "head.json"
    stored.write_text(out)
    # The forger rewrites the whole log under a key of their own: it verifies on its own...
    mallory = derive_signing_key("mallory")
    records = [json.loads(line) for line in log.read_bytes().splitlines()[1:]]
    log.unlink()
    with AuditWriter(log, mallory, run_id="cli", checkpoint_every=3) as writer:
        for obj in records:
            if "checkpoint" not in obj:
                writer.append({k: v for k, v in obj.items() if k not in ("seq", "prev", "hash")})
    assert cli(capsys, "audit", "verify", str(log))[0] == 0
    # ...but not against the anchor kept elsewhere.
    code, out, _ = cli(capsys, "audit", "verify", str(log), "--anchor", str(stored))
    assert code == 1
    assert out.startswith(f"FAIL: {log}: line 1: not_anchored: the log is signed by key ")


def test_anchor_refuses_a_tampered_log(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    lines = log.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"effect":"allow"', b'"effect":"deny"')
    log.write_bytes(b"".join(lines))
    code, out, err = cli(capsys, "audit", "anchor", str(log))
    assert (code, out) == (1, "")
    assert "refusing to anchor" in err and "altered" in err


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
    assert done.stdout.startswith(f"OK: {log}: 7 records, all proven by 3 signed checkpoints")


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


# --------------------------------------------------------------------------- runs


def test_a_shorter_run_with_the_same_key_and_seed_shows_as_what_it_is(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Issue 15, failure 3: `run --until 1h` with the same key and seed used to write a
    # byte-identical start and pass as the full run.
    from tui.cli import main

    key, short, full = tmp_path / "key.pem", tmp_path / "short.jsonl", tmp_path / "full.jsonl"
    for log, until in ((short, ["--until", "1h"]), (full, [])):
        assert main(["run", "support-pii-injection", "--profile", "jit-context", "--seed", "7",
                     "--audit-log", str(log), "--audit-key", str(key), "--format", "json",
                     *until]) == 0
    capsys.readouterr()
    assert short.read_bytes().split(b"\n", 1)[0] != full.read_bytes().split(b"\n", 1)[0]
    outs = {}
    for log in (short, full):
        code, out, _ = cli(capsys, "audit", "verify", str(log))
        assert code == 0
        outs[log] = out.splitlines()
    assert outs[short][1] == outs[full][1] == (
        "run:        support-pii-injection/jit-context/7 (scenario support-pii-injection, "
        "profile jit-context, seed 7)")
    assert outs[short][2].startswith("            planned end 1h of the scenario's 8h "
                                     "(simulated; cut short by --until), nonce ")
    assert outs[full][2].startswith("            planned end 8h (simulated), nonce ")
    # The verdict itself says the short run is complete only to its own planned end.
    assert outs[short][0].endswith("; the run is complete to its planned end, 1h of the "
                                   "scenario's 8h (cut short by --until)")
    assert outs[full][0].endswith("; the run is complete")
    # The digests are of the files as they lie on disk: `sha256sum` gives the same.
    scenario = ROOT / "scenarios" / "support-pii-injection"
    for role, file in (("scenario", scenario / "scenario.yaml"),
                       ("policy", scenario / "policies" / "jit-context.yaml")):
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        assert any(line.split()[0] == role and line.endswith(f"sha256 {digest}")
                   for line in outs[full][3:])


def test_run_names_its_key_and_no_longer_suggests_the_key_beside_the_log(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from tui.cli import main

    log = tmp_path / "run.jsonl"
    assert main(["run", "support-pii-injection", "--until", "30m", "--audit-log", str(log),
                 "--checkpoint-every", "25"]) == 0
    out = capsys.readouterr().out
    assert f"--key {log}.pub.pem" not in out
    assert "A key kept beside the log proves nothing" in out
    assert f"agentrange audit anchor {log}" in out
    kid = json.loads(log.read_bytes().split(b"\n", 1)[0])["header"]["kid"]
    assert f"signed by key {kid}" in out
    header = json.loads(log.read_bytes().split(b"\n", 1)[0])["header"]
    assert header["checkpoint_every"] == 25 and header["planned_end"] == 1800.0


@pytest.mark.parametrize("every", ["0", "-3", "ten"])
def test_a_bad_checkpoint_interval_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], every: str) -> None:
    from tui.cli import build_parser

    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["run", "support-pii-injection", "--checkpoint-every", every])
    assert info.value.code == 2
    assert "--checkpoint-every" in capsys.readouterr().err


def test_the_parsers_checkpoint_default_is_the_writers() -> None:
    # The parser module may not import engine.audit (it must stay light), so it keeps a copy.
    from engine.audit.chain import DEFAULT_CHECKPOINT_EVERY
    from tui.commands.parsers.run import DEFAULT_CHECKPOINT_EVERY as PARSER_DEFAULT

    assert PARSER_DEFAULT == DEFAULT_CHECKPOINT_EVERY


def test_an_incomplete_log_without_a_time_still_reads_well(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "err.jsonl"
    with pytest.raises(RuntimeError), AuditWriter(log, KEY, run_id="e", planned_end=600.0):
        raise RuntimeError("boom")
    code, out, _ = cli(capsys, "audit", "verify", str(log))
    assert code == 1
    assert out.splitlines()[0] == (
        f"INCOMPLETE: {log}: the run stopped before its planned end (10m): stopped by an error: "
        "RuntimeError: boom; 0 records proven by 1 signed checkpoint (exit 1; "
        "--allow-incomplete accepts it)")


def test_verify_given_the_private_key_says_to_pass_its_public_half(
        capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path) -> None:
    from engine.audit.signing import save_private_key

    private = tmp_path / "audit.pem"
    save_private_key(KEY, private)
    code, out, err = cli(capsys, "audit", "verify", str(log), "--key", str(private))
    assert code == 2 and out == ""
    assert err == (f"agentrange audit verify: error: {private}: is a private key; --key takes "
                   "the public key (openssl pkey -in KEY -pubout), kept where the log's writers "
                   "cannot reach\n")


def test_anchor_of_an_empty_file_says_why_there_is_nothing_to_anchor(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    code, out, err = cli(capsys, "audit", "anchor", str(empty))
    assert code == 1 and out == ""
    assert err == (f"agentrange audit anchor: {empty}: no signed checkpoint yet, nothing to "
                   "anchor (the log is empty: it has no header)\n")
