"""The readers of logs and events files: bad input is one line and exit 2, in bounded memory.

Issue 15, item 6. Before the bounded reader ``audit show`` exited 0 on an empty file, a 50 MB
single line and an events file (listing its lines as records); ``report --audit-log`` raised
RecursionError on ``'[' * 200000``; ``/dev/zero`` raised MemoryError; and ``audit show`` held a
whole log's table in memory before printing a row. Every test here failed before the fix.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

import tui.commands.audit as audit_command
from engine.audit.lines import MAX_LINE_BYTES
from engine.audit.verdict import Problem
from engine.audit.verifier import verify_log
from scenarios import library
from tui.cli import main
from tui.render.stream_table import MAX_CELL_CHARS, Column, StreamTable

ROOT = Path(__file__).resolve().parents[2]
NAME = "support-pii-injection"
POLICY = str(Path(str(library.path_of(NAME))) / "policies" / "jit-context.yaml")
MEMORY_BOUND = 200 * 1024 * 1024


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three hours of the support scenario as an audit log and as an events file."""
    folder = tmp_path_factory.mktemp("readers")
    paths = {"log": folder / "run.audit.jsonl", "events": folder / "run.events.jsonl"}
    assert main(["run", NAME, "--until", "3h", "--audit-log", str(paths["log"]),
                 "--events", str(paths["events"]), "--format", "json"]) == 0
    return paths


# Each command reads one kind of file; "other" is a well-formed file of the other kind.
COMMANDS: dict[str, Callable[[str], list[str]]] = {
    "show": lambda f: ["audit", "show", f],
    "show-json": lambda f: ["audit", "show", f, "--format", "json"],
    "report": lambda f: ["report", "--audit-log", f],
    "replay": lambda f: ["replay", f, "--policy", POLICY],
}


def bad_input(kind: str, tmp_path: Path, recorded: dict[str, Path], command: str) -> Path:
    path = tmp_path / f"{kind}.jsonl"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    elif kind == "other":
        return recorded["log" if command == "replay" else "events"]
    elif kind == "long-line":
        path.write_bytes(b'{"header": "' + b"x" * MAX_LINE_BYTES + b'"}\n')
    elif kind == "open-brackets":
        path.write_bytes(b"[" * 200_000)
    elif kind == "deep":
        path.write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    elif kind == "directory":
        path.mkdir()
    return path  # "missing": never created


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", ["empty", "binary", "other", "long-line", "open-brackets",
                                  "deep", "missing", "directory"])
def test_bad_input_is_one_line_naming_the_file_and_exit_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, recorded: dict[str, Path],
        command: str, kind: str) -> None:
    path = bad_input(kind, tmp_path, recorded, command)
    code, out, err = run(capsys, *COMMANDS[command](str(path)))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and str(path) in err
    if kind not in ("missing", "directory", "empty"):
        assert (":1:" if command == "replay" else "line 1 ") in err
    if command != "replay" and not (command == "report" and kind == "missing"):
        assert "expected" in err


def test_an_events_file_is_named_as_such(capsys: pytest.CaptureFixture[str],
                                         recorded: dict[str, Path]) -> None:
    _, _, err = run(capsys, "audit", "show", str(recorded["events"]))
    assert "found the first event of an events file (agentrange run --events)" in err
    _, _, err = run(capsys, "replay", str(recorded["log"]), "--policy", POLICY)
    assert "an audit log's header (replay reads the events file" in err


# The command runs as the grandchild of a small Python process that measures it: a child's
# ru_maxrss counts the memory of the process it was forked from (the pytest worker, hundreds
# of MB), so the measuring parent must be small. RLIMIT_AS is a backstop: a regression must
# fail the test, not exhaust the machine (the unbounded reader grew to 22 GB on /dev/zero
# before the kernel killed it).
MEASURE = """
import os, resource, subprocess, sys

def limit():
    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

with open(sys.argv[1], "wb") as err:
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", *sys.argv[2:]],
                            stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limit)
    _, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
print(proc.returncode, usage.ru_maxrss * 1024)
"""


def bounded(tmp_path: Path, *argv: str, timeout: float = 120) -> tuple[int, str, int]:
    """Run the CLI in a grandchild process: exit code, stderr and peak resident bytes."""
    err_path = tmp_path / "stderr"
    proc = subprocess.Popen([sys.executable, "-c", MEASURE, str(err_path), *argv], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # a hang fails the test instead of hanging it
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"agentrange {' '.join(argv)} did not finish in {timeout} s")
    code, peak = out.split()
    return int(code), err_path.read_text(), int(peak)


@pytest.mark.slow  # a child process each (~1-3 s)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_dev_zero_is_binary_data_read_in_bounded_memory(tmp_path: Path, command: str) -> None:
    code, err, peak = bounded(tmp_path, *COMMANDS[command]("/dev/zero"))
    assert code == 2 and err.count("\n") == 1, err
    assert "/dev/zero" in err and "binary data" in err
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MB"


@pytest.mark.slow  # a child process each (~1-3 s)
def test_a_50_mb_line_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "one-line.jsonl"
    with path.open("wb") as out:
        for _ in range(50):
            out.write(b"x" * 2**20)
    code, err, peak = bounded(tmp_path, "audit", "show", str(path))
    assert code == 2 and f"{path}: line 1 is longer than {MAX_LINE_BYTES:,} bytes" in err
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MB"


@pytest.mark.slow  # a child process each (~1-3 s)
def test_the_densest_line_within_the_cap_stays_in_bounded_memory(
        tmp_path: Path, recorded: dict[str, Path]) -> None:
    # The most objects a line can hold ("{}," ...): what the line cap is sized for.
    path = tmp_path / "dense.jsonl"
    header = recorded["log"].read_bytes().split(b"\n", 1)[0] + b"\n"
    body = b'{"seq":1,"prev":"0","hash":"0","tool":[' + b"{}," * (MAX_LINE_BYTES // 3 - 20)
    path.write_bytes(header + body + b"{}]}\n")
    code, err, peak = bounded(tmp_path, "audit", "show", str(path))
    assert code == 0, err
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MB"


def test_report_refuses_a_line_beyond_the_bounds_anywhere_in_the_log(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, recorded: dict[str, Path]) -> None:
    lines = recorded["log"].read_bytes().splitlines(keepends=True)
    path = tmp_path / "deep-inside.jsonl"
    path.write_bytes(b"".join([*lines[:50], b"[" * 300 + b"]" * 300 + b"\n", *lines[50:]]))
    code, out, err = run(capsys, "report", "--audit-log", str(path))
    assert (code, out) == (2, "")
    assert f"{path}: line 51 nests objects and arrays more than 64 deep" in err


def test_report_still_reports_a_damaged_log_with_a_warning(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, recorded: dict[str, Path]) -> None:
    # A flipped bit that turns a space into a NUL is damage to report, not an input error.
    data = bytearray(recorded["log"].read_bytes())
    data[data.index(b" ", data.index(b"\n", 2000))] = 0
    path = tmp_path / "flipped.jsonl"
    path.write_bytes(bytes(data))
    code, out, err = run(capsys, "report", "--audit-log", str(path))
    assert code == 1 and "FAILED verification" in out and "failed verification" in err


# -- audit show streams


def test_show_prints_rows_before_it_reads_the_rest_of_the_log(
        capsys: pytest.CaptureFixture[str], recorded: dict[str, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    printed: list[str] = []
    first: list[int] = []
    real = audit_command.iter_records

    def watched(*args: object, **kwargs: object) -> Iterator[dict[str, object]]:
        for n, record in enumerate(real(*args, **kwargs)):  # type: ignore[arg-type]
            if n == 0:
                first.append(record["event"])  # type: ignore[arg-type]
            if n == 600:  # past the width sample (200 rows) and one flush: rows are out
                printed.append(capsys.readouterr().out)
                assert f"│ {first[0]:>6} │" in printed[0]
            yield record

    monkeypatch.setattr(audit_command, "iter_records", watched)
    code, out, _ = run(capsys, "audit", "show", str(recorded["log"]), "--kind", "all")
    assert code == 0 and printed and out.rstrip().endswith("matching records")


def test_the_table_prints_its_first_rows_while_the_source_is_still_yielding() -> None:
    file = io.StringIO()
    console = Console(file=file, width=60)
    table = StreamTable([Column("n", justify="right", min_width=4), Column("text")], sample=10)

    def rows() -> Iterator[tuple[str, str]]:
        for n in range(1000):
            if n == 500:
                assert "│    0 │ row 0 " in file.getvalue()
            yield str(n), f"row {n}"

    table.print(console, rows())
    assert table.rows == 1000 and file.getvalue().count("row ") == 1000


def test_a_row_that_fails_is_preceded_by_the_rows_read_and_the_table_closed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, recorded: dict[str, Path]) -> None:
    lines = recorded["log"].read_bytes().splitlines(keepends=True)
    path = tmp_path / "garbage-later.jsonl"
    path.write_bytes(b"".join([*lines[:30], b"garbage\n", *lines[30:]]))
    code, out, err = run(capsys, "audit", "show", str(path), "--kind", "all")
    assert code == 2 and f"{path}: line 31 is not JSON" in err
    assert out.splitlines()[-2].startswith("└")
    assert out.splitlines()[-1].strip() == "29 matching records before the error"


def test_a_long_value_after_the_sample_folds_without_losing_a_character() -> None:
    file = io.StringIO()
    table = StreamTable([Column("a"), Column("b")], sample=2)
    value = "".join(chr(ord("a") + i % 26) for i in range(200))
    table.print(Console(file=file, width=40), [("x", "y"), ("x", "y"), ("x", value)])
    lines = file.getvalue().splitlines()
    assert all(len(line) == len(lines[0]) <= 40 for line in lines)
    assert "".join(line.split("│")[2].strip() for line in lines[5:-1]) == value


def test_terminal_control_characters_are_shown_escaped_and_huge_cells_say_so() -> None:
    file = io.StringIO()
    table = StreamTable([Column("a")])
    table.print(Console(file=file, width=200, force_terminal=False),
                [("bot\x1b[2J\tx",), ("z" * (MAX_CELL_CHARS + 5),)])
    text = file.getvalue()
    assert "\x1b" not in text and "\t" not in text and "bot\\x1b[2J\\tx" in text
    assert "...(5morecharacters)" in "".join(text.replace("│", "").split())


def test_show_as_json_and_as_a_table_agree_on_a_real_log(
        capsys: pytest.CaptureFixture[str], recorded: dict[str, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "audit", "show", str(recorded["log"]), "--format", "json")
    events = [json.loads(line)["event"] for line in out.splitlines()]
    code, out, _ = run(capsys, "audit", "show", str(recorded["log"]))
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert code == 0 and [int(row.split("│")[1]) for row in rows] == events
    assert out.rstrip().endswith(f"{len(events):,} matching records")


@pytest.mark.slow  # a child process (~1-3 s)
def test_verify_refuses_a_50_mb_line_in_bounded_memory(tmp_path: Path,
                                                       recorded: dict[str, Path]) -> None:
    # verify read a regular file's lines whole: one endless line was read into memory.
    lines = recorded["log"].read_bytes().splitlines(keepends=True)
    path = tmp_path / "long-line.jsonl"
    with path.open("wb") as out:
        out.writelines(lines[:3])
        for _ in range(50):
            out.write(b"x" * 2**20)
        out.write(b"\n")
        out.writelines(lines[3:])
    code, err, peak = bounded(tmp_path, "audit", "verify", str(path))
    assert code == 1, err
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MB"
    report = verify_log(path)
    assert report.problem is Problem.MALFORMED and report.first_bad_line == 4
    assert f"line 4 is longer than {MAX_LINE_BYTES:,} bytes" in report.message
