"""Bounded reading (engine/audit/lines.py) and the log readers on top of it (query.py).

Issue 15, item 6: readers listed an events file as a log, said nothing of an empty file, read a
50 MB line whole and raised RecursionError on ``'[' * 200000``. Each test here failed before
the bounded reader (or its module did not exist).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit.errors import AuditFileError
from engine.audit.lines import (
    MAX_DEPTH,
    JsonLineError,
    JsonLines,
    LineError,
    LineLimitError,
    OpenError,
    nesting_within,
    parse_json,
)
from engine.audit.query import iter_records, read_header
from engine.audit.signing import derive_signing_key
from engine.audit.writer import AuditWriter

KEY = derive_signing_key(15)


def write_log(path: Path, n: int = 5) -> Path:
    with AuditWriter(path, KEY, run_id="readers", checkpoint_every=2) as log:
        for i in range(1, n + 1):
            log.append({"time": float(i), "kind": "decision", "agent": "bot",
                        "decision": {"effect": "allow", "rule": f"r{i}"}})
    return path


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


# -- parse_json: nesting is judged before anything parses recursively

def test_200000_open_brackets_are_not_json_and_raise_no_recursion_error() -> None:
    with pytest.raises(JsonLineError) as info:
        parse_json(b"[" * 200_000)
    assert "brackets do not balance" in info.value.problem and not info.value.limit


def test_nesting_past_the_limit_is_refused_and_at_the_limit_read() -> None:
    assert parse_json(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    with pytest.raises(JsonLineError) as info:
        parse_json(nested(MAX_DEPTH + 1))
    assert info.value.limit and f"more than {MAX_DEPTH} deep" in info.value.problem
    with pytest.raises(JsonLineError) as info:
        parse_json(nested(100_000))
    assert info.value.limit


def test_brackets_and_escaped_quotes_inside_strings_do_not_count() -> None:
    value = {"a": "[" * 500 + '\\"' + "{" * 500, "b": ['\\', '"[', "]]]]"]}
    assert parse_json(json.dumps(value).encode()) == value


@pytest.mark.parametrize("number", [-2**63 - 1, -2**63, 2**63, 2**64 - 1, 2**64, 10**30,
                                    -10**30])
def test_integers_beyond_64_bits_stay_integers(number: int) -> None:
    # orjson alone reads them as floats (-9223372036854775809 as -9.223372036854776e+18).
    assert type(parse_json(b'{"n": %d}' % number)["n"]) is int
    assert parse_json(b'[%d]' % number) == [number]


def test_bytes_that_are_not_utf8_are_named() -> None:
    with pytest.raises(JsonLineError, match="not UTF-8 text"):
        parse_json(b'{"a": "\xff"}\n')


def test_a_cut_off_line_is_told_apart_from_a_malformed_one() -> None:
    with pytest.raises(JsonLineError) as info:
        parse_json(b'{"seq": 1, "tool": "crm.re')
    assert info.value.cut
    with pytest.raises(JsonLineError) as info:
        parse_json(b'{"seq": 1 "tool": 2}')
    assert not info.value.cut and info.value.column == 11


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet='[]{}"\\ab\n'),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON, st.integers(min_value=0, max_value=8))
def test_the_depth_check_agrees_with_the_parsed_depth(value: Any, limit: int) -> None:
    raw = json.dumps(value).encode()
    assert nesting_within(raw, limit) is (depth_of(value) <= limit)
    if depth_of(value) <= limit:  # read as the standard library reads it, types and all
        assert json.dumps(parse_json(raw, max_depth=limit)) == json.dumps(json.loads(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(alphabet='[]{}"\\ ,:1a').map(str.encode))
def test_any_bytes_parse_or_raise_json_line_error(raw: bytes) -> None:
    try:
        parse_json(raw, max_depth=4)
    except JsonLineError:
        pass


# -- JsonLines: every line read with a cap

def test_a_line_longer_than_the_cap_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"x" * 100 + b"\n" + b"y" * 101 + b"\n" + b"z" * 10_000)
    with JsonLines(path, "a test file", max_line_bytes=100) as lines:
        rows = iter(lines)
        assert next(rows) == (1, b"x" * 100 + b"\n")
        with pytest.raises(LineLimitError) as info:
            next(rows)
    assert info.value.line == 2
    assert str(info.value) == (f"{path}: line 2 is longer than 100 bytes; expected a test "
                               "file, whose lines are shorter")


def test_a_nul_byte_is_binary_data_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"{}\nab\0cd\n")
    with JsonLines(path, "a test file") as lines, pytest.raises(LineError) as info:
        list(lines)
    assert (info.value.line, type(info.value)) == (2, LineError)
    assert "binary data (a NUL byte at byte 3)" in str(info.value)


@pytest.mark.parametrize(("make", "why"), [
    (lambda p: p, "no such file"),
    (lambda p: (p.mkdir(), p)[1], "a directory, not a file"),
])
def test_missing_paths_and_directories_are_open_errors(tmp_path: Path, make: Any,
                                                       why: str) -> None:
    path = make(tmp_path / "x.jsonl")
    with pytest.raises(OpenError) as info, JsonLines(path, "a test file"):
        pass
    assert info.value.why == why
    assert str(info.value) == f"{path}: cannot read: {why}; expected a test file"


# -- iter_records and read_header: only an audit log is read as one

def test_an_empty_file_is_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(AuditFileError, match="the file is empty; expected an agentrange "
                       "audit log"):
        list(iter_records(path))
    with pytest.raises(AuditFileError, match="empty"):
        read_header(path)


def test_an_events_file_is_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    events = [{"seq": 0, "time": 0.0, "kind": "run_started", "agent": None, "data": {}},
              {"seq": 1, "time": 1.0, "kind": "decision", "agent": "bot", "data": {}}]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    with pytest.raises(LineError) as info:
        list(iter_records(path))
    assert info.value.line == 1
    assert "line 1 is not an agentrange audit log header (found the first event of an " \
           "events file" in str(info.value)


def test_lines_after_the_header_must_be_records(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl")
    events = b'{"seq": 1, "time": 1.0, "kind": "decision", "agent": "bot", "data": {}}\n'
    log.write_bytes(log.read_bytes() + events)
    with pytest.raises(LineError) as info:
        list(iter_records(log))
    assert info.value.line == 10
    assert "line 10 is an object with keys agent, data, kind, seq, time; expected an audit " \
           "record" in str(info.value)


def test_a_second_header_is_refused(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl")
    data = log.read_bytes()
    log.write_bytes(data + data.splitlines(keepends=True)[0])
    with pytest.raises(LineError, match="line 10 is a second log header"):
        list(iter_records(log))


def test_a_deep_line_inside_a_log_is_a_limit_error(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl")
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([*lines[:3], nested(10_000) + b"\n", *lines[3:]]))
    with pytest.raises(LineLimitError) as info:
        list(iter_records(log))
    assert info.value.line == 4


def test_records_stream_one_at_a_time(tmp_path: Path) -> None:
    # The first record comes back although a later line is unreadable: nothing past the
    # record yielded has been parsed (the old reader did not stream either, but a table did).
    log = write_log(tmp_path / "log.jsonl", n=50)
    log.write_bytes(log.read_bytes() + b"\0" * 100 + b"\n")
    records = iter_records(log)
    assert next(records)["seq"] == 1
    assert [r["seq"] for r in (next(records), next(records))] == [2, 3]
    with pytest.raises(LineError, match="binary data"):
        list(records)


def test_a_valid_log_still_reads_and_a_partial_last_line_is_skipped(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl")
    assert [r["seq"] for r in iter_records(log)] == [1, 2, 3, 4, 5]
    assert read_header(log)["run"] == "readers"
    log.write_bytes(log.read_bytes() + b'{"seq":6,"prev":"ab')
    assert [r["seq"] for r in iter_records(log)] == [1, 2, 3, 4, 5]
