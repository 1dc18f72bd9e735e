"""A log says which run it is of, whether it ended, and who signed it; anchors hold it to that.

Run identity (nonce, planned end, document digests) in the header, bound into every checkpoint;
incomplete runs sealed as such; the key a verifier trusts and whether it pins the signer;
anchors that pin a log's head elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.audit.anchor import anchor_of, read_anchor
from engine.audit.errors import AuditError, AuditFileError
from engine.audit.identity import document
from engine.audit.signing import derive_signing_key, key_id, save_public_key
from engine.audit.trust import key_from_file
from engine.audit.verdict import Incomplete, Problem
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter
from tests.engine.audit_support import (
    KEY,
    lines_of,
    objects,
    record,
    rehashed,
    rewrite,
    write_log,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = document("builtin:demo/scenario.yaml", b"name: demo\n")
POLICY = document("policies/strict.yaml", b"policy: strict\n")


def identity_log(path: Path, *, planned_end: float | None = 28800.0, n: int = 6) -> Path:
    return write_log(
        path,
        n=n,
        every=4,
        run_id="demo/strict/7",
        planned_end=planned_end,
        documents={"scenario": SCENARIO, "policy": POLICY},
        meta={"scenario": "demo", "profile": "strict", "seed": 7},
    )


# --------------------------------------------------------------------------- run identity


def test_the_header_states_the_run_and_verify_reads_it_back(tmp_path: Path) -> None:
    report = verify_log(identity_log(tmp_path / "a.jsonl"), KEY.public_key())
    assert report.ok
    who = report.identity
    assert who is not None
    assert (who.run, who.planned_end, who.created) == ("demo/strict/7", 28800.0, 0.0)
    assert who.documents == (
        ("scenario", "builtin:demo/scenario.yaml", SCENARIO["sha256"]),
        ("policy", "policies/strict.yaml", POLICY["sha256"]),
    )
    assert (who.fact("scenario"), who.fact("profile"), who.fact("seed")) == ("demo", "strict", 7)
    assert len(who.nonce) == 32


def test_every_checkpoint_signs_the_header_hash(tmp_path: Path) -> None:
    objs = objects(identity_log(tmp_path / "a.jsonl"))
    header_hash = objs[0]["hash"]
    checkpoints = [o["checkpoint"] for o in objs if "checkpoint" in o]
    assert checkpoints and all(c["header"] == header_hash for c in checkpoints)


def test_a_document_digest_is_sha256_of_the_file_bytes() -> None:
    import hashlib

    data = b"name: demo\r\n# any bytes, no normalisation\n"
    assert document("x.yaml", data) == {"name": "x.yaml",
                                        "sha256": hashlib.sha256(data).hexdigest()}


def test_a_shorter_run_cannot_pass_as_the_full_one(tmp_path: Path) -> None:
    # Issue 15, failure 3: same key, same seed, same first records, --until 1h. The headers
    # differ (planned end, nonce), so the short run's signed checkpoints prove nothing about
    # the full run, and verify says which run a log is.
    full = identity_log(tmp_path / "full.jsonl", n=10)
    short = identity_log(tmp_path / "short.jsonl", planned_end=3600.0, n=4)
    assert lines_of(full)[0] != lines_of(short)[0]
    full_report, short_report = verify_log(full), verify_log(short)
    assert full_report.ok and short_report.ok
    assert full_report.identity is not None and short_report.identity is not None
    assert (full_report.identity.planned_end, short_report.identity.planned_end) == (
        28800.0,
        3600.0,
    )
    # Splicing the short run's closing checkpoint onto the full run's first records fails.
    spliced = lines_of(full)[:5] + lines_of(short)[5:]
    report = verify_log(rewrite(tmp_path / "spliced.jsonl", spliced), KEY.public_key())
    assert (report.problem, report.first_bad_line) == (Problem.INSERTED, 6)


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"nonce": "not-hex"}, "nonce"),
        ({"documents": {"scenario": {"name": "x"}}}, "documents.scenario"),
        ({"checkpoint_every": 0}, "positive"),
    ],
)
def test_bad_identity_arguments_are_refused(
    tmp_path: Path, options: dict[str, object], why: str
) -> None:
    with pytest.raises(AuditError, match=why):
        AuditWriter(tmp_path / "x.jsonl", KEY, run_id="r", **options)  # type: ignore[arg-type]
    assert not (tmp_path / "x.jsonl").exists()


def test_a_version_1_log_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = write_log(tmp_path / "old.jsonl")
    objs = objects(path)
    objs[0]["header"]["version"] = 1
    lines = lines_of(path)
    lines[0] = rehashed(objs[0])
    report = verify_log(rewrite(path, lines))
    assert (report.problem, report.first_bad_line) == (Problem.UNSUPPORTED, 1)
    assert "format version 1" in report.message and "version 2 logs only" in report.message


# --------------------------------------------------------------------------- incomplete runs


def test_close_incomplete_signs_the_reason_and_the_time(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    with AuditWriter(path, KEY, run_id="r", checkpoint_every=4) as log:
        for i in range(1, 7):
            log.append(record(i))
        log.close(incomplete="interrupted by SIGINT", at=8130.5)
    report = verify_log(path, KEY.public_key())
    assert not report.ok
    assert report.problem is Problem.INCOMPLETE
    assert report.incomplete == Incomplete("interrupted by SIGINT", 8130.5)
    assert (report.proven, report.unverified, report.first_bad_line) == (6, 0, None)
    assert "stopped at 8130.5s" in report.message
    final = objects(path)[-1]["checkpoint"]
    assert final["final"] is True
    assert final["incomplete"] == {"at": 8130.5, "reason": "interrupted by SIGINT"}


def test_an_exception_closes_the_log_as_incomplete_naming_the_error(tmp_path: Path) -> None:
    path = tmp_path / "err.jsonl"
    with pytest.raises(RuntimeError), AuditWriter(path, KEY, run_id="r") as log:
        log.append(record(1))
        raise RuntimeError("the simulator broke")
    report = verify_log(path)
    assert report.problem is Problem.INCOMPLETE and report.incomplete is not None
    assert report.incomplete.reason == "stopped by an error: RuntimeError: the simulator broke"
    assert report.incomplete.at is None


def test_the_incomplete_mark_cannot_be_added_or_removed_without_the_key(tmp_path: Path) -> None:
    complete = write_log(tmp_path / "a.jsonl")
    lines = lines_of(complete)
    lines[-1] = lines[-1].replace(b'"incomplete":null',
                                  b'"incomplete":{"at":null,"reason":"forged"}')
    assert verify_log(rewrite(complete, lines)).problem is Problem.BAD_SIGNATURE
    cut = tmp_path / "b.jsonl"
    with AuditWriter(cut, KEY, run_id="r") as log:
        log.append(record(1))
        log.close(incomplete="budget reached", at=60.0)
    lines = lines_of(cut)
    lines[-1] = lines[-1].replace(b'{"at":60.0,"reason":"budget reached"}', b"null")
    assert verify_log(rewrite(cut, lines)).problem is Problem.BAD_SIGNATURE


@pytest.mark.parametrize(("reason", "at"), [("", None), ("  ", 1.0), ("x", float("nan"))])
def test_bad_incomplete_arguments_are_refused(tmp_path: Path, reason: str, at: float) -> None:
    log = AuditWriter(tmp_path / "x.jsonl", KEY, run_id="r")
    with pytest.raises(AuditError):
        log.close(incomplete=reason, at=at)
    log.close()


SIGINT_CHILD = textwrap.dedent(
    """
    import sys
    from engine.audit.signing import derive_signing_key
    from engine.audit.writer import AuditWriter
    with AuditWriter(sys.argv[1], derive_signing_key(1), run_id="sigint",
                     checkpoint_every=100) as log:
        i = 0
        while True:
            i += 1
            log.append({"time": float(i), "pad": "x" * (i % 97)})
            if i == 300:
                print("running", flush=True)
    """
)


def test_ctrl_c_seals_the_log_as_incomplete_not_complete(tmp_path: Path) -> None:
    # Issue 15, failure 4, at the writer: a KeyboardInterrupt that leaves the `with` block
    # closes the log with a checkpoint marked incomplete, which verify fails.
    path = tmp_path / "sigint.jsonl"
    child = subprocess.Popen([sys.executable, "-c", SIGINT_CHILD, str(path)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "running"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode != 0 and "KeyboardInterrupt" in err
    report = verify_log(path, derive_signing_key(1).public_key())
    assert report.problem is Problem.INCOMPLETE, report.message
    assert report.incomplete == Incomplete("interrupted (KeyboardInterrupt)", None)
    assert report.proven >= 300 and report.unverified == 0


# --------------------------------------------------------------------------- trust


def test_a_key_from_the_header_is_not_pinned(tmp_path: Path) -> None:
    report = verify_log(write_log(tmp_path / "a.jsonl"))
    assert report.signer is not None
    assert (report.signer.kid, report.signer.pinned) == (key_id(KEY.public_key()), False)
    assert report.signer.source == "the log's own header"


def test_the_public_key_beside_the_log_does_not_pin_the_signer(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    beside = tmp_path / "run.jsonl.pub.pem"
    elsewhere = tmp_path / "keys" / "audit.pub.pem"
    elsewhere.parent.mkdir()
    for path in (beside, elsewhere):
        save_public_key(KEY.public_key(), path)
    link = tmp_path / "link.pem"
    link.symlink_to(beside)
    assert key_from_file(beside, log).pinned is False
    assert key_from_file(link, log).pinned is False
    assert key_from_file(elsewhere, log).pinned is True
    report = verify_log(log, key_from_file(beside, log))
    assert report.ok and not report.key_pinned
    assert report.signer is not None and "beside the log" in report.signer.source
    assert verify_log(log, key_from_file(elsewhere, log)).key_pinned


# --------------------------------------------------------------------------- anchors


def test_an_anchored_log_verifies_against_its_anchor(tmp_path: Path) -> None:
    log = identity_log(tmp_path / "a.jsonl")
    anchor = anchor_of(verify_log(log))
    assert anchor is not None and anchor.seq == 6
    doc = anchor.to_document()
    assert {"run", "seq", "hash", "sig", "nonce", "kid"} <= set(doc)
    stored = tmp_path / "head.json"
    stored.write_text(json.dumps(doc, indent=2))
    report = verify_log(log, anchor=read_anchor(stored))
    assert report.ok and report.anchored is True
    # The anchor's key id pins the signer even without --key.
    assert report.signer is not None and report.signer.pinned


def test_an_anchor_taken_mid_run_is_extended_by_the_finished_log(tmp_path: Path) -> None:
    log = identity_log(tmp_path / "a.jsonl", n=10)
    live = tmp_path / "live.jsonl"
    live.write_bytes(b"".join(lines_of(log)[:11]))  # up to cp(8): the run still going
    early = verify_log(live)
    assert early.problem is Problem.TRUNCATED
    anchor = anchor_of(early)
    assert anchor is not None and anchor.seq == 8
    assert verify_log(log, anchor=anchor).anchored is True


def test_a_log_rewritten_after_its_anchor_fails(tmp_path: Path) -> None:
    log = identity_log(tmp_path / "a.jsonl")
    anchor = anchor_of(verify_log(log))
    assert anchor is not None
    # Rewritten whole under another key: consistent on its own, not what was anchored.
    forged = write_log(tmp_path / "forged.jsonl", n=6, key=derive_signing_key("mallory"),
                       run_id="demo/strict/7")
    report = verify_log(forged, anchor=anchor)
    assert (report.problem, report.first_bad_line) == (Problem.NOT_ANCHORED, 1)
    assert "signed by key" in report.message
    # Another run of the same key (a re-run): the nonce tells it apart.
    rerun = identity_log(tmp_path / "rerun.jsonl")
    report = verify_log(rerun, anchor=anchor)
    assert report.problem is Problem.NOT_ANCHORED and "nonce" in report.message
    # Cut back before the anchored head: what is left cannot reach it.
    lines = lines_of(log)
    report = verify_log(rewrite(tmp_path / "cut.jsonl", lines[:6]), anchor=anchor)
    assert report.problem is Problem.TRUNCATED and report.anchored is False


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"not json", "not JSON"),
        (b"[]", "format"),
        (b'{"format": "agentrange-audit-anchor", "version": 9}', "version"),
        (b'{"format": "agentrange-audit-anchor", "version": 1}', "members"),
        (b"{" + b" " * 70000 + b"}", "larger"),
    ],
)
def test_a_bad_anchor_file_is_a_clear_error(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "head.json"
    path.write_bytes(content)
    with pytest.raises(AuditFileError, match=why) as info:
        read_anchor(path)
    assert info.value.path == str(path)


def test_a_missing_anchor_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AuditFileError, match="cannot read the anchor"):
        read_anchor(tmp_path / "nope.json")


def test_verify_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in ("/dev/zero", tmp_path, fifo):
        with pytest.raises(AuditFileError, match=r"not a regular file|Is a directory"):
            verify_log(path)
