"""Signals during a run or the dashboard: the audit log is sealed as incomplete, never left open.

Issue 15, failure 4 and "Incomplete runs": Ctrl-C used to seal the log as complete; SIGTERM, a
signal the moment the log appeared, and the dashboard's terminal closing left it unsealed. Each
test is a real process (a pseudo-terminal for the dashboard) given a real signal.
"""

from __future__ import annotations

import http.server
import os
import pty
import signal
import subprocess
import sys
import threading
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


class _Receiver(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that answers the first ``answer`` exports and holds the next."""

    answer = 0
    seen: list[int] = []
    held = threading.Event()
    release = threading.Event()

    def do_POST(self) -> None:
        """Take one export; hold it once `answer` exports were answered."""
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(1)
        if len(self.seen) > self.answer:
            self.held.set()
            self.release.wait(30)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_a_sigterm_while_the_last_events_are_written_is_one_line_and_exit_143(
        tmp_path: Path) -> None:
    # A SIGTERM after the run's last step, while its last events were still being written
    # (here: a trace receiver slow to take the run's final export), was taken for a second
    # Ctrl-C: "agentrange: interrupted", exit 130, the log sealed "interrupted
    # (KeyboardInterrupt)". First count the run's exports, then hold the last and send SIGTERM.
    def run(log: Path, receiver: http.server.ThreadingHTTPServer) -> subprocess.Popen[str]:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/v1/traces"
        return subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "run", "support-pii-injection", "--until", "1h",
             "--audit-log", str(log), "--otlp-endpoint", url, "--format", "json"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver) as receiver:
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        try:
            _Receiver.answer = 10**6
            first = run(tmp_path / "first.jsonl", receiver)
            assert first.wait(timeout=120) == 0
            exports = len(_Receiver.seen)
            _Receiver.seen.clear()
            _Receiver.answer = exports - 1  # the last export: sent as the run ends
            log = tmp_path / "run.jsonl"
            child = run(log, receiver)
            assert _Receiver.held.wait(timeout=120)
            child.send_signal(signal.SIGTERM)
            _, err = child.communicate(timeout=60)
        finally:
            _Receiver.release.set()
            receiver.shutdown()
    assert child.returncode == 143, err
    assert err.startswith("agentrange: interrupted by SIGTERM at 1h simulated"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    done = subprocess.run([sys.executable, "-m", "tui.cli", "audit", "verify", str(log)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    # Sealed as incomplete: whether the run's last event reached the log is not known.
    assert done.returncode == 1, done.stdout
    assert done.stdout.startswith(f"INCOMPLETE: {log}: the run stopped"), done.stdout
    assert "interrupted by SIGTERM" in done.stdout.splitlines()[0], done.stdout
