"""What the accountability report says about its audit log: proven, unverified, incomplete, signer.

Issue 15: the report called every record before a re-hashed forgery "proven intact", called a
log cut short by Ctrl-C "verified", and did not say that a key from the log itself pins nobody.
"""

from __future__ import annotations

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
