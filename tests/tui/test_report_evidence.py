"""What the accountability report says about its audit log: proven, unverified, incomplete, signer.

Issue 15: the report called every record before a re-hashed forgery "proven intact", called a
log cut short by Ctrl-C "verified", and did not say that a key from the log itself pins nobody.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.audit.signing import derive_signing_key, save_public_key
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter
from scenarios.library import load_scenario
from sim.audit_sink import read_events
from sim.collectors.report import build_report
from sim.collectors.report_model import LogStatus
from sim.runner import Simulation
from tests.engine.audit_support import index_of_checkpoint, objects, relink, rewrite
from tui.render.report import to_markdown

KEY = derive_signing_key("report-evidence")


def audited_run(path: Path, *, stop_at: float | None = None) -> Path:
    """The built-in support scenario's first 3h into a log with a checkpoint every 100 records."""
    scenario = load_scenario("support-pii-injection")
    with AuditWriter(path, KEY, run_id="support/static-rbac/7", checkpoint_every=100,
                     planned_end=3 * 3600.0) as log:
        sim = Simulation(scenario, "static-rbac", until=3 * 3600.0, audit=log)
        if stop_at is None:
            sim.run()
        else:
            sim.step_until(stop_at)
            log.close(incomplete="interrupted by SIGINT", at=sim.now)
    return path


def report_text(path: Path, key: object = None) -> str:
    verdict = verify_log(path, key)  # type: ignore[arg-type]
    return to_markdown(build_report(read_events(path), log=LogStatus.of(verdict)))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return audited_run(tmp_path_factory.mktemp("evidence") / "clean.jsonl").read_bytes()


def audit_row(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("| audit log |"))


def test_a_clean_log_with_its_own_key_says_the_signer_is_not_pinned(
        tmp_path: Path, clean: bytes) -> None:
    path = tmp_path / "clean.jsonl"
    path.write_bytes(clean)
    row = audit_row(report_text(path))
    assert row.startswith("| audit log | verified: ")
    assert "all proven by" in row and "signer not pinned (key from the log itself)" in row
    pinned = audit_row(report_text(path, KEY.public_key()))
    assert pinned.endswith(", pinned |")


def test_a_rehashed_forgery_is_not_proven_in_the_report(tmp_path: Path, clean: bytes) -> None:
    path = tmp_path / "forged.jsonl"
    path.write_bytes(clean)
    objs = objects(path)
    cp = index_of_checkpoint(objs, 200)
    objs[cp - 30]["data"]["outcome"] = "blocked"  # seq 170, re-hashed up to the checkpoint
    rewrite(path, relink(objs, cp - 30, cp, renumber=False))
    text = report_text(path)
    warning = text.splitlines()[2]
    assert warning.startswith("> **WARNING: this audit log FAILED verification -- ")
    assert "Only records 1..100 are proven by a signed checkpoint; the 100 read after them "\
           "are unverified, and nothing after seq 100 can be trusted." in warning
    assert "intact" not in text
    assert "FAILED verification (altered): 100 records proven by 1 signed checkpoint, 100 " \
           "after them unverified" in audit_row(text)


def test_an_interrupted_run_is_reported_as_incomplete_not_verified(tmp_path: Path) -> None:
    path = audited_run(tmp_path / "cut.jsonl", stop_at=5400.0)
    text = report_text(path)
    assert text.splitlines()[2].startswith(
        "> **WARNING: this audit log records an INCOMPLETE run -- it stopped at 1h30m before "
        "its planned end (interrupted by SIGINT).")
    row = audit_row(text)
    assert row.startswith("| audit log | INCOMPLETE run, stopped at 1h30m: interrupted by SIGINT;")
    assert "verified" not in row


def test_report_with_the_key_beside_the_log_does_not_count_it_pinned(
        tmp_path: Path, clean: bytes) -> None:
    from tui.commands.report import from_log

    path = tmp_path / "run.jsonl"
    path.write_bytes(clean)
    beside = Path(f"{path}.pub.pem")
    save_public_key(KEY.public_key(), beside)
    report = from_log(str(path), str(beside))
    assert report.log is not None and report.log.ok and not report.log.key_pinned


def test_a_forged_record_before_the_closing_checkpoint_reads_well_with_nothing_unverified(
        tmp_path: Path, clean: bytes) -> None:
    path = tmp_path / "forged.jsonl"
    path.write_bytes(clean)
    objs = objects(path)
    close = len(objs) - 1
    objs.insert(close, {**objs[close - 1], "forged": True})
    rewrite(path, relink(objs, close, close + 1))
    text = report_text(path)
    proven = len([o for o in objs if "checkpoint" not in o and "header" not in o]) - 1
    assert text.splitlines()[2].endswith(
        f"Only records 1..{proven:,} are proven by a signed checkpoint, and nothing after seq "
        f"{proven:,} can be trusted.**")
    assert "the 0 read" not in text and "0 after them" not in text


def test_the_report_of_a_run_cut_short_says_what_run_its_log_proves(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 15, failure 3: a shorter run with the same key and seed read as the full one.
    from tui.cli import main
    from tui.commands.report import from_log

    short, full = tmp_path / "short.jsonl", tmp_path / "full.jsonl"
    for log, until in ((short, ["--until", "1h"]), (full, [])):
        assert main(["run", "support-pii-injection", "--audit-log", str(log), "--format",
                     "json", *until]) == 0
    capsys.readouterr()
    rows = {}
    for log in (short, full):
        report = from_log(str(log))
        nonce = json.loads(log.read_bytes().split(b"\n", 1)[0])["header"]["nonce"]
        assert report.log is not None and report.log.nonce == nonce
        rows[log] = audit_row(to_markdown(report))
        assert f"run nonce {nonce}" in rows[log]
    assert "planned end 1h of the scenario's 8h (cut short by --until)" in rows[short]
    assert "planned end 8h;" in rows[full] and "cut short" not in rows[full]
    assert from_log(str(short)).log.planned_end == 3600.0  # type: ignore[union-attr]
