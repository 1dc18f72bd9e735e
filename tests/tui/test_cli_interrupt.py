"""Ctrl-C and SIGTERM during ``run`` and ``compare``: one line, exit 130/143, a sealed log.

Issue 15 (4): a run interrupted used to seal its audit log with an ordinary final checkpoint,
as if it had finished. Now the run stops at its next budget check, between two events, and the
log's closing checkpoint is marked incomplete with the signal and the simulated time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tui.cli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def catches(pid: int, sig: signal.Signals) -> bool:
    """The process has a handler for ``sig`` (Linux: the SigCgt mask of its status)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("SigCgt:")), 16)
    return bool(mask >> (sig - 1) & 1)


def wait_until(predicate: Callable[[], bool], proc: subprocess.Popen[str],
               limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_seals_the_audit_log_and_exits_128_plus_it(
        busy: Path, tmp_path: Path, sig: signal.Signals, code: int,
        capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "run.jsonl"
    proc = start("run", str(busy), "--audit-log", str(log))
    # Mid-run: the first signed checkpoint (after 1,000 records) is on disk.
    wait_until(lambda: log.exists() and b'{"checkpoint"' in log.read_bytes(), proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"agentrange: interrupted by {sig.name} at ")
    assert err.rstrip().endswith(f"simulated; audit log {log} closed as incomplete")
    lines = log.read_bytes().splitlines()
    records = sum(1 for line in lines[1:] if not line.startswith(b'{"checkpoint"'))
    assert records > 1000
    last = json.loads(lines[-1])["checkpoint"]  # a whole line: stopped between two events
    assert last["final"] and last["seq"] == records
    assert last["incomplete"]["reason"] == f"interrupted by {sig.name}"
    assert 0 < last["incomplete"]["at"] < 8 * 3600
    assert main(["audit", "verify", str(log), "--key", f"{log}.pub.pem"]) == 1
    assert "incomplete" in capsys.readouterr().out


@pytest.mark.slow
def test_ctrl_c_during_compare_stops_every_run_with_one_line(busy: Path) -> None:
    proc = start("compare", str(busy))
    wait_until(lambda: catches(proc.pid, signal.SIGTERM), proc)  # driving the runs
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert out == "" and err.count("\n") == 1
    assert err.startswith("agentrange: ") and "interrupted by SIGINT at " in err
