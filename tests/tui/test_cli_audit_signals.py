"""Signals during a run or the dashboard: the audit log is sealed as incomplete, never left open.

Issue 15, failure 4 and "Incomplete runs": Ctrl-C used to seal the log as complete; SIGTERM, a
signal the moment the log appeared, and the dashboard's terminal closing left it unsealed. Each
test is a real process (a pseudo-terminal for the dashboard) given a real signal.
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ctrl_c_during_a_run_leaves_an_incomplete_log_not_a_verified_one(tmp_path: Path) -> None:
    # Issue 15, failure 4: on SIGINT the run exited 130 but sealed the log as complete.

    log = tmp_path / "run.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "run", "productivity-bot-overhead", "--audit-log",
         str(log), "--checkpoint-every", "100", "--format", "json"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while (not log.exists() or log.stat().st_size < 300_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    done = subprocess.run([sys.executable, "-m", "tui.cli", "audit", "verify", str(log)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout.startswith(f"INCOMPLETE: {log}: the run stopped")
    assert "interrupt" in done.stdout.splitlines()[0]


@pytest.mark.parametrize(("sig", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_the_moment_the_log_appears_seals_it_as_incomplete(
        tmp_path: Path, sig: str, code: int) -> None:
    # Issue 15: a signal while the log's header was being written, or before the run was
    # driven, left a header-only log (verified as truncated) and SIGTERM killed the process.

    log = tmp_path / "run.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "run", "productivity-bot-overhead", "--audit-log",
         str(log), "--format", "json"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.0002)
    child.send_signal(getattr(signal, sig))
    _, err = child.communicate(timeout=60)
    assert child.returncode == code, err
    assert err.count("\n") == 1 and "Traceback" not in err
    done = subprocess.run([sys.executable, "-m", "tui.cli", "audit", "verify", str(log)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout
    assert done.stdout.startswith(f"INCOMPLETE: {log}: the run stopped"), done.stdout
    assert f"interrupted by {sig}" in done.stdout.splitlines()[0]


@pytest.mark.parametrize(("sig", "code"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_the_dashboard_stopped_by_a_signal_seals_its_log_as_incomplete(
        tmp_path: Path, sig: str, code: int) -> None:
    # Issue 15: SIGTERM (or the terminal closing, SIGHUP) killed `agentrange tui --audit-log`
    # with its log unsealed; it must close the log as incomplete, naming the signal.

    log = tmp_path / "tui.jsonl"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real dashboard on a real pseudo-terminal
        os.chdir(ROOT)
        os.environ.update(COLUMNS="120", LINES="40")
        os.execv(sys.executable, [sys.executable, "-m", "tui.cli", "tui",
                                  "support-pii-injection", "--audit-log", str(log)])

    def drain(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                if not os.read(fd, 65536):
                    return
            except OSError:
                return

    deadline = time.monotonic() + 60
    while not log.exists() and time.monotonic() < deadline:
        drain(0.2)
    drain(2)  # the run plays a little
    os.kill(pid, getattr(signal, sig))
    drain(30)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == code
    done = subprocess.run([sys.executable, "-m", "tui.cli", "audit", "verify", str(log)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout
    assert done.stdout.startswith(f"INCOMPLETE: {log}: the run stopped at "), done.stdout
    assert f"interrupted by {sig}" in done.stdout.splitlines()[0]
