"""``agentrange sweep --executor dask``, ``--plot`` and the progress bar, from the command line."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from tui.cli import main
from tui.commands.sweep import progress_bar

ARGS = ["sweep", "support-pii-injection", "--seeds", "1-2", "--until", "1h",
        "--vary", "profile.credentials.ttl=5m,1h"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[str]:
    """`dask scheduler` and one `dask worker`, separate processes on loopback; the address."""
    dask = str(Path(sys.executable).parent / "dask")
    file = tmp_path / "scheduler.json"
    common = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                               "--scheduler-file", str(file)], **common)]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start in 60 s"
            time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        procs.append(subprocess.Popen(
            [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
             "--nworkers", "1", "--no-dashboard", "--no-nanny"], **common))
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.mark.slow
def test_a_scheduler_and_worker_processes_give_the_csv_of_one_local_job(
        capsys: pytest.CaptureFixture[str], dask_processes: str) -> None:
    code, local, err = run(capsys, *ARGS, "--jobs", "1", "--format", "csv")
    assert code == 0, err
    code, remote, err = run(capsys, *ARGS, "--scheduler", dask_processes,
                            "--connect-timeout", "30", "--format", "csv")
    assert code == 0, err
    assert remote == local and len(local.splitlines()) == 9


@pytest.mark.slow
def test_a_local_cluster_sweep_prints_what_one_local_job_prints(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, local, err = run(capsys, *ARGS, "--jobs", "1", "--format", "json")
    assert code == 0, err
    code, dask, err = run(capsys, *ARGS, "--executor", "dask", "--jobs", "1", "--format",
                          "json")
    assert code == 0, err
    assert dask == local and err == ""


def test_an_unreachable_scheduler_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    address = free_address()
    started = time.monotonic()
    code, out, err = run(capsys, *ARGS, "--scheduler", address, "--connect-timeout", "0.5")
    assert code == 2 and out == ""
    assert err.startswith(f"agentrange: error: --scheduler {address}: cannot reach a Dask "
                          "scheduler within 0.5s")
    assert len(err.strip().splitlines()) == 1
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(("argv", "message"), [
    (["--executor", "local", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler: only with "
                                                                  "--executor dask"),
    (["--executor", "dask", "--connect-timeout", "0"], "--connect-timeout: expected seconds"),
    (["--plot", "chart.pdf"], "--plot chart.pdf: expected a file ending in .html, .png, .svg"),
])
def test_bad_executor_and_plot_options_are_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *ARGS, *argv)
    assert code == 2 and out == ""
    assert err.startswith("agentrange: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("module", "argv", "extra"), [
    ("distributed", ["--executor", "dask"], "agentrange[dask]"),
    ("plotly", ["--plot", "chart.html"], "agentrange[plot]"),
    ("matplotlib", ["--plot", "chart.png"], "agentrange[plot]"),
])
def test_a_missing_extra_is_named_before_any_run(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, module: str,
        argv: list[str], extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails, as if not installed
    code, out, err = run(capsys, *ARGS, *argv)
    assert code == 2 and out == ""
    assert extra in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("suffix", [".html", ".png", ".svg"])
def test_plot_writes_the_chart(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               suffix: str) -> None:
    chart = tmp_path / f"tradeoff{suffix}"
    code, _out, err = run(capsys, *ARGS, "--jobs", "1", "--plot", str(chart))
    assert code == 0, err
    assert err == f"agentrange: wrote {chart}: records exposed against benign denied\n"
    data = chart.read_bytes()
    if suffix == ".html":
        text = data.decode()
        assert "<script src=" not in text and "static-rbac ttl=5m" in text
        assert len(text) > 1_000_000  # plotly.js is inline: the file opens offline
    elif suffix == ".png":
        assert data.startswith(b"\x89PNG")
    else:
        assert b"<svg" in data and b"benign denied" in data


def test_an_unwritable_plot_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    chart = tmp_path / "missing" / "tradeoff.html"
    code, _out, err = run(capsys, *ARGS, "--jobs", "1", "--plot", str(chart))
    assert code == 2
    assert err.startswith(f"agentrange: error: --plot {chart}: cannot write it")


def test_the_progress_bar_shows_runs_their_rate_and_time_left() -> None:
    out = io.StringIO()
    bar = progress_bar(Console(file=out, force_terminal=True, width=100))
    task = bar.add_task("sweep", total=40)
    bar.start()
    for n in range(1, 11):
        time.sleep(0.01)
        bar.update(task, completed=n)
    bar.refresh()
    bar.stop()
    text = out.getvalue()
    assert "10/40" in text and "runs/s" in text and "0:00:" in text


def test_there_is_no_progress_bar_when_stderr_is_not_a_terminal(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.commands.sweep.PROGRESS_AFTER", 0.0)  # else it would show
    code, _out, err = run(capsys, *ARGS, "--jobs", "1", "--format", "csv")
    assert code == 0 and err == ""
