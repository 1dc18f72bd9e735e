"""`agentrange drill new|scoreboard` and `agentrange serve` from the command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.drill import Drill
from sim.score import Action, Score
from tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _drill_with_results(tmp_path: Path) -> Path:
    directory = tmp_path / "room"
    drill = Drill(directory, "vendor-hosted-agent", "static-rbac", 5, 7200.0)
    drill.save()
    drill.append("ada", Score("vendor-hosted-agent", "static-rbac", 5, 40.0, 60.0, 900, 0,
                              (Action(7260.0, "quarantine_agent", "leadlens", True),)))
    drill.append("bob", Score("vendor-hosted-agent", "static-rbac", 5, None, None, 44100, 2))
    return directory


def test_drill_new_writes_a_definition_and_says_how_to_join(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "drill", "new", "vendor-hosted-agent", "--profile",
                       "static-rbac", "--seed", "9", "--incident-at", "2h", "-o",
                       str(tmp_path / "d"))
    assert code == 0
    assert "first incident at 02:00:00" in out and "drill join" in out
    assert Drill.load(tmp_path / "d") == Drill(tmp_path / "d", "vendor-hosted-agent",
                                               "static-rbac", 9, 7200.0)


@pytest.mark.parametrize(("argv", "message"), [
    (["--profile", "nope"], "no profile 'nope'"),
    (["--incident-at", "soon"], "--incident-at: expected"),
    (["--incident-at", "30d"], "'incident_at': expected a time before the run's end"),
])
def test_drill_new_refuses_bad_input_in_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str],
        message: str) -> None:
    code, _, err = run(capsys, "drill", "new", "vendor-hosted-agent", *argv, "-o",
                       str(tmp_path / "d"))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d" / "drill.json").exists()


def test_scoreboard_ranks_as_a_table_json_and_markdown(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = _drill_with_results(tmp_path)
    code, out, _ = run(capsys, "drill", "scoreboard", str(directory), "--format", "json")
    assert code == 0
    assert [(r["rank"], r["participant"]) for r in json.loads(out)] == [(1, "ada"),
                                                                       (2, "bob")]
    code, out, _ = run(capsys, "drill", "scoreboard", str(directory), "--format", "markdown")
    assert code == 0
    assert "| 1 | ada | 900 | 1m | 40s | 0 | 02:01:00 quarantine leadlens |" in out
    assert "| 2 | bob | 44,100 | - | - | 2 | none |" in out
    code, out, _ = run(capsys, "drill", "scoreboard", str(directory))
    assert code == 0 and "ada" in out and "44,100" in out


def test_scoreboard_of_a_directory_without_a_drill_is_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "drill", "scoreboard", str(tmp_path))
    assert code == 2
    assert err.strip() == (f"agentrange: error: {tmp_path}: not a drill directory (no "
                           "drill.json); create one with `agentrange drill new`")


def test_serve_without_the_web_extra_names_it(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['textual_serve'] = None\n"
            "from tui.cli import main; sys.exit(main(['serve']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, env={**os.environ, "PYTHONPATH":
                                                         str(Path(__file__).parents[2])})
    assert done.returncode == 2
    assert done.stderr.strip() == ("agentrange: error: `agentrange serve` needs the web "
                                   "extra: pip install 'agentrange[web]'")


def test_serve_rejects_a_bad_dashboard_option_before_serving(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--speed", "fast"])
    assert info.value.code == 2
    assert "--speed: expected simulated seconds per second" in capsys.readouterr().err


def test_serve_elsewhere_warns_of_no_authentication_and_stops_cleanly_on_ctrl_c(
        tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--host", "0.0.0.0",
                             "--port", str(port)], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert (f"agentrange: warning: serving on 0.0.0.0:{port} with no authentication"
            in err)
    assert "Traceback" not in err and "stopped serving" in err


def test_scoreboard_watch_shows_results_that_arrive_and_ends_on_ctrl_c(tmp_path: Path) -> None:
    directory = tmp_path / "room"
    Drill(directory, "support-pii-injection", "jit-context", 7).save()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "drill", "scoreboard",
                             str(directory), "--watch"], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "COLUMNS": "100",
                                 "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        time.sleep(1.5)
        Drill.load(directory).append("zed", Score("support-pii-injection", "jit-context", 7,
                                                  1.0, 2.0, 3, 0))
        time.sleep(2.0)  # the watch looks every second
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "zed" in out and "Traceback" not in err
