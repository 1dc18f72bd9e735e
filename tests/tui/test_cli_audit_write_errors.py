"""``agentrange run --audit-log`` when writing fails: one line, exit 2, no traceback, no debris.

Real processes under a real file-size limit (``ulimit -f``), as issue 15 reported them: the
limit used to kill the run (SIGXFSZ) or end it in a traceback, and a full disk left an empty
``.pub.pem`` behind.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.audit.signing import load_public_key
from engine.audit.verdict import Problem
from engine.audit.verifier import verify_log

ROOT = Path(__file__).resolve().parents[2]


def run_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``agentrange run support-pii-injection ...`` as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "run", "support-pii-injection", "--format", "json",
         *args],
        cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB file system (tmpfs), to fill up; skipped where mounting is not allowed."""
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def run_limited(kib: int, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``agentrange run ...`` in a shell whose file-size limit is ``kib`` KiB."""
    return subprocess.run(
        ["bash", "-c", f'ulimit -f {kib} && exec "$0" -m tui.cli run "$@"', sys.executable,
         "support-pii-injection", "--format", "json", *args],
        cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )


def test_a_file_size_limit_mid_run_is_one_line_and_the_log_verifies_as_truncated(
        tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    done = run_limited(64, tmp_path, "--audit-log", str(log), "--checkpoint-every", "10")
    assert done.returncode == 2
    assert done.stderr == f"agentrange: error: {log}: cannot write the log: File too large\n"
    assert done.stdout == ""
    report = verify_log(log, load_public_key(f"{log}.pub.pem"))
    assert report.problem is Problem.TRUNCATED
    assert report.proven >= 10 and report.unverified >= 0


def test_no_room_even_for_the_key_leaves_no_files_behind(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    done = run_limited(0, tmp_path, "--audit-log", str(log))
    assert done.returncode == 2
    assert done.stderr == (f"agentrange: error: {log}.pub.pem: cannot write public key: "
                           "File too large\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_no_room_for_a_new_private_key_leaves_no_key_file(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "audit.pem"
    done = run_limited(0, tmp_path, "--audit-log", str(tmp_path / "run.jsonl"),
                       "--audit-key", str(key))
    assert done.returncode == 2
    assert done.stderr == f"agentrange: error: {key}: cannot write private key: File too large\n"
    assert list(key.parent.iterdir()) == []
    assert not (tmp_path / "run.jsonl").exists()


def test_a_log_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    log = tmp_path / "file" / "run.jsonl"
    done = run_limited(1024, tmp_path, "--audit-log", str(log))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert str(log) in done.stderr and "Not a directory" in done.stderr


def test_a_full_disk_mid_run_is_one_line_and_the_log_verifies_as_truncated(
        small_disk: Path) -> None:
    log = small_disk / "run.jsonl"
    done = run_in(small_disk, "--audit-log", str(log), "--checkpoint-every", "10")
    assert done.returncode == 2
    assert done.stderr == f"agentrange: error: {log}: cannot write the log: No space left on " \
                          "device\n"
    report = verify_log(log, load_public_key(f"{log}.pub.pem"))
    assert report.problem is Problem.TRUNCATED
    assert report.proven >= 10


def test_an_already_full_disk_leaves_no_empty_key_file(small_disk: Path) -> None:
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as out, pytest.raises(OSError, match="No space"):
        while True:
            out.write(b"\0" * 4096)
    log = small_disk / "run.jsonl"
    done = run_in(small_disk, "--audit-log", str(log))
    assert done.returncode == 2
    assert done.stderr == f"agentrange: error: {log}.pub.pem: cannot write public key: No " \
                          "space left on device\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
