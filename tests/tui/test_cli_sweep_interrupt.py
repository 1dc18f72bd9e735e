"""Ctrl-C during ``agentrange sweep``: one line, exit 130, no traceback, no worker left behind.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group: the command and every
worker it started. Each test starts the sweep in a session of its own and signals that group,
as the terminal would, mid-run and (for Dask) while the local cluster is still starting; the
workers must neither print a traceback of their own nor outlive the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def group(pgid: int) -> list[str]:
    """The live (not zombie) processes of a process group: ``pid command`` each."""
    ps = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-g", str(pgid)],
                        capture_output=True, text=True).stdout
    return [line.strip() for line in ps.splitlines() if not line.split()[1].startswith("Z")]


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (Linux: utime and stime of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ctrl_c(args: list[str], *, after: float, workers: int = 0, cpu: float = 0.0
           ) -> tuple[int, str, str, float, list[str]]:
    """Start ``agentrange ARGS``, wait, send SIGINT to its group.

    Returns the exit code, stdout, stderr, the seconds from the signal to the command's exit,
    and the processes of its group still alive 3 seconds after that exit.

    ``workers``: wait first until the group holds the command and that many more processes,
    and until the command has used ``cpu`` seconds (loaded, running), then ``after`` seconds
    more.
    """
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(group(proc.pid)) < 1 + workers or cpu_seconds(proc.pid) < cpu:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
        time.sleep(after)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
        deadline = time.monotonic() + 3
        while group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return proc.returncode, out, err, took, group(proc.pid)
    finally:
        if proc.poll() is None or group(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def assert_one_line(code: int, out: str, err: str) -> None:
    assert code == 130, err
    assert "Traceback" not in err and "Exception" not in err, err
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("agentrange: interrupted by SIGINT after "), err
    assert err.rstrip().endswith(" runs"), err


def sweep_args(busy: Path, *more: str) -> list[str]:
    return ["sweep", str(busy), "--seeds", "1-20", *more]


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_a_local_sweep_with_one_line_and_no_worker_left(busy: Path,
                                                                      jobs: str) -> None:
    workers = int(jobs) if jobs != "1" else 0
    started = time.monotonic()
    # One job runs in the command itself: running once it has used more CPU than loading does.
    code, out, err, took, left = ctrl_c(sweep_args(busy, "--jobs", jobs), after=1.5,
                                        workers=workers, cpu=3.0 if not workers else 0.0)
    assert_one_line(code, out, err)
    assert not left
    assert took < 5, f"took {took:.1f}s to stop"
    assert time.monotonic() - started < 60


@pytest.mark.slow
@pytest.mark.parametrize("up", [1, 3], ids=["cluster-starting", "mid-run"])
def test_ctrl_c_stops_a_dask_sweep_with_one_line_and_no_worker_left(busy: Path,
                                                                     up: int) -> None:
    pytest.importorskip("distributed")
    proc_args = sweep_args(busy, "--jobs", "2", "--executor", "dask")
    # Starting: multiprocessing's resource tracker is up, the workers are being started (a
    # spawned worker that took the signal while importing printed a traceback). Mid-run: the
    # two worker processes are up too.
    code, out, err, took, left = ctrl_c(proc_args, after=0.3 if up == 1 else 3.0, workers=up)
    assert_one_line(code, out, err)
    assert not left
    assert took < 10, f"took {took:.1f}s to stop"


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_sigterm_to_the_command_ends_its_workers_too(busy: Path, executor: str) -> None:
    # `kill PID` reaches the command alone: it used to die at once, its workers running on.
    if executor == "dask":
        pytest.importorskip("distributed")
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", *sweep_args(
        busy, "--jobs", "2", "--executor", executor)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(group(proc.pid)) < (3 if executor == "local" else 4):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        deadline = time.monotonic() + 3
        while group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = group(proc.pid)
    finally:
        if proc.poll() is None or group(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 143, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("agentrange: terminated by SIGTERM after "), err
    assert out == "" and not left
