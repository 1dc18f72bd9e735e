"""A write that fails (full disk, file-size limit) is one clear error, and the log stays evidence.

What is on disk verifies as truncated, never as whole; nothing is retried behind the caller's
back; an existing file the writer was told to overwrite is never removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.audit.errors import AuditFileError
from engine.audit.signing import derive_signing_key
from engine.audit.verdict import Problem
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter
from tests.engine.audit_support import KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_an_audit_file_error_naming_the_file() -> None:
    # /dev/full refuses every write with ENOSPC, as a full file system does.
    with pytest.raises(AuditFileError, match="No space left on device") as info:
        AuditWriter("/dev/full", KEY, run_id="r", overwrite=True)
    assert info.value.path == "/dev/full"
    assert os.path.exists("/dev/full")  # not ours to remove


def test_an_error_is_rebuilt_from_its_arguments() -> None:
    # simpy re-raises a process's exception as type(exc)(*exc.args).
    error = AuditFileError("run.jsonl", "cannot write the log: File too large")
    again = type(error)(*error.args)
    assert str(again) == str(error) == "run.jsonl: cannot write the log: File too large"


CHILD = textwrap.dedent(
    """
    import sys
    from engine.audit.errors import AuditFileError
    from engine.audit.signing import derive_signing_key
    from engine.audit.writer import AuditWriter, ignore_file_size_signal
    from engine.audit.errors import AuditError
    ignore_file_size_signal()
    log = AuditWriter(sys.argv[1], derive_signing_key(1), run_id="big", checkpoint_every=10)
    try:
        with log:
            for i in range(100_000):
                log.append({"time": float(i), "pad": "x" * 200})
    except AuditFileError as exc:
        print(exc)
        try:
            log.append({"time": 0.0})  # the writer gave up on the file: nothing more goes in
        except AuditError as again:
            print(again)
        sys.exit(2)
    """
)


def test_a_file_size_limit_stops_the_writer_and_the_log_verifies_as_truncated(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.jsonl"
    done = subprocess.run(
        ["bash", "-c", 'ulimit -f 32 && exec "$0" -c "$1" "$2"', sys.executable, CHILD, str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines() == [
        f"{path}: cannot write the log: File too large",
        f"{path}: cannot append to a closed audit log",
    ]
    assert done.stderr == ""
    assert path.stat().st_size <= 32 * 1024
    report = verify_log(path, derive_signing_key(1).public_key())
    assert report.problem is Problem.TRUNCATED
    assert report.proven >= 10 and report.proven % 10 == 0
