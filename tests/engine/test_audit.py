"""Tamper-evident audit log: writer, verifier (every tampering found and located), keys, query."""

from __future__ import annotations

import hashlib
import itertools
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.chain import GENESIS
from engine.audit.errors import AuditError, AuditFileError
from engine.audit.query import iter_records
from engine.audit.signing import (
    derive_signing_key,
    key_id,
)
from engine.audit.verdict import Problem
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter
from tests.engine.audit_support import (
    KEY,
    NONCE,
    lines_of,
    record,
    rehashed,
    rewrite,
    write_log,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """10 records, checkpoints after seq 4 and 8, closing checkpoint after seq 10.

    Lines: 1 header | 2-5 seq 1-4 | 6 cp(4) | 7-10 seq 5-8 | 11 cp(8) | 12-13 seq 9-10 | 14 cp.
    """
    return write_log(tmp_path / "audit.jsonl")


# --------------------------------------------------------------------------- writing


def test_clean_log_verifies_with_and_without_pinned_key(log: Path) -> None:
    for key in (None, KEY.public_key()):
        report = verify_log(log, key)
        assert report.ok, report.message
        assert (report.proven, report.unverified, report.checkpoints) == (10, 0, 3)
        assert report.problem is Problem.OK
        assert report.message == "OK: 10 records, all proven by 3 signed checkpoints"
        assert report.key_pinned is (key is not None)
        assert report.run == "run-1"


def test_lines_are_header_records_and_checkpoints_in_place(log: Path) -> None:
    objs = [json.loads(raw) for raw in lines_of(log)]
    assert len(objs) == 14
    assert objs[0]["seq"] == 0 and objs[0]["prev"] == GENESIS
    assert objs[0]["header"]["kid"] == key_id(KEY.public_key())
    assert [o["checkpoint"]["seq"] for o in objs if "checkpoint" in o] == [4, 8, 10]
    assert [o["checkpoint"]["final"] for o in objs if "checkpoint" in o] == [False, False, True]
    records = [o for o in objs[1:] if "checkpoint" not in o]
    assert [r["seq"] for r in records] == list(range(1, 11))
    chain = [objs[0], *records]
    for before, after in itertools.pairwise(chain):
        assert after["prev"] == before["hash"]


def test_hash_is_sha256_of_canonical_record_without_hash(log: Path) -> None:
    raw = lines_of(log)[1]
    obj = json.loads(raw)
    body = {k: v for k, v in obj.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert obj["hash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert "résumé ✓".encode() in raw


def test_same_key_nonce_and_records_give_a_byte_identical_log(tmp_path: Path) -> None:
    a = write_log(tmp_path / "a.jsonl", key=derive_signing_key(7), nonce=NONCE)
    b = write_log(tmp_path / "b.jsonl", key=derive_signing_key(7), nonce=NONCE)
    c = write_log(tmp_path / "c.jsonl", key=derive_signing_key(8), nonce=NONCE)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_every_log_draws_its_own_nonce(tmp_path: Path) -> None:
    # Two runs of the same records with the same key are still two runs: their headers differ,
    # so no checkpoint of one can vouch for the other.
    a = write_log(tmp_path / "a.jsonl")
    b = write_log(tmp_path / "b.jsonl")
    nonces = [json.loads(lines_of(p)[0])["header"]["nonce"] for p in (a, b)]
    assert nonces[0] != nonces[1] and all(len(n) == 32 for n in nonces)
    assert verify_log(a).identity != verify_log(b).identity


def test_append_returns_one_based_seq_and_checkpoints_land_on_the_interval(
    tmp_path: Path,
) -> None:
    with AuditWriter(tmp_path / "x.jsonl", KEY, run_id="r", checkpoint_every=3) as log:
        assert [log.append(record(i)) for i in range(6)] == [1, 2, 3, 4, 5, 6]
        assert log.seq == 6
    # Closing right after a periodic checkpoint adds the final one for the same seq.
    report = verify_log(tmp_path / "x.jsonl")
    assert report.ok and report.checkpoints == 3


def test_the_verdict_on_one_record_and_one_checkpoint_is_in_the_singular(
    tmp_path: Path,
) -> None:
    # The report's JSON quotes this sentence; it read "1 checkpoints".
    path = write_log(tmp_path / "one.jsonl", n=1, every=5)
    assert verify_log(path).message == "OK: 1 record, all proven by 1 signed checkpoint"


def test_empty_log_closed_is_ok(tmp_path: Path) -> None:
    AuditWriter(tmp_path / "e.jsonl", KEY, run_id="r").close()
    report = verify_log(tmp_path / "e.jsonl", KEY.public_key())
    assert report.ok and report.records == 0 and report.checkpoints == 1


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"seq": 5}, "reserved"),
        ({"hash": "x"}, "reserved"),
        ({"checkpoint": {}}, "reserved"),
        ({"value": {1, 2}}, "JSON-compatible"),
        ({"value": float("nan")}, "JSON-compatible"),
        ({"value": object()}, "JSON-compatible"),
    ],
)
def test_records_the_log_cannot_hold_are_refused_and_leave_it_valid(
    tmp_path: Path, bad: dict[str, Any], why: str
) -> None:
    with AuditWriter(tmp_path / "x.jsonl", KEY, run_id="r") as log:
        log.append(record(1))
        with pytest.raises(AuditError, match=why):
            log.append(bad)
        log.append(record(2))
    report = verify_log(tmp_path / "x.jsonl")
    assert report.ok and report.records == 2


def test_cyclic_record_is_refused(tmp_path: Path) -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with AuditWriter(tmp_path / "x.jsonl", KEY, run_id="r") as log:
        with pytest.raises(AuditError, match="JSON-compatible"):
            log.append(cyclic)


def test_append_after_close_is_an_error(tmp_path: Path) -> None:
    log = AuditWriter(tmp_path / "x.jsonl", KEY, run_id="r")
    log.close()
    log.close()
    assert log.closed
    with pytest.raises(AuditError, match="closed"):
        log.append(record(1))


def test_existing_log_is_not_overwritten_unless_asked(log: Path) -> None:
    before = log.read_bytes()
    with pytest.raises(AuditFileError, match="already exists") as info:
        AuditWriter(log, KEY, run_id="r")
    assert info.value.path == str(log)
    assert log.read_bytes() == before
    AuditWriter(log, KEY, run_id="again", overwrite=True).close()
    assert verify_log(log).run == "again"


def test_records_with_nested_prev_and_seq_keys_verify(tmp_path: Path) -> None:
    # Such records leave the verifier's fast path; the careful path must accept them too.
    path = tmp_path / "nested.jsonl"
    with AuditWriter(path, KEY, run_id="r", checkpoint_every=2) as log:
        for i in range(5):
            log.append({"step": {"seq": i, "prev": "0" * 64}, "time": float(i)})
    assert verify_log(path, KEY.public_key()).ok
    lines = lines_of(path)
    lines[2] = lines[2].replace(b'"time":1.0', b'"time":1.5')
    report = verify_log(rewrite(path, lines))
    assert (report.problem, report.first_bad_line, report.first_bad_seq) == (
        Problem.ALTERED,
        3,
        2,
    )


def test_a_nested_prev_cannot_vouch_for_a_forged_predecessor(tmp_path: Path) -> None:
    # An agent that can get text into a record could plant the hash of a forged predecessor in a
    # nested "prev"; the verifier must link through the top-level member only.
    path = tmp_path / "planted.jsonl"
    with AuditWriter(path, KEY, run_id="r") as log:
        log.append(record(1))
        forged = rehashed(dict(record(77), seq=2, prev=log.last_hash))
        planted = json.loads(forged)["hash"]
        log.append(record(2))
        log.append({**record(3), "zz": {"prev": planted}})
    lines = lines_of(path)
    lines[2] = forged
    report = verify_log(rewrite(path, lines), KEY.public_key())
    # Seq 3 still links to the genuine seq 2, so the forged line is named as the altered one.
    assert not report.ok
    assert (report.problem, report.first_bad_line, report.first_bad_seq) == (Problem.ALTERED, 3, 2)
    assert (report.proven, report.unverified) == (0, 1)


# --------------------------------------------------------------------------- byte flips


def fresh_write(path: Path, data: bytes) -> None:
    # Rewriting a file in place costs about 3 ms on ext4 (truncating a file with data flushes
    # it at close); a new file costs a tenth of that, and these loops write thousands.
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


@pytest.mark.parametrize("mask", [0x01, 0x20, 0x80])
def test_every_byte_flip_is_detected_and_located(tmp_path: Path, mask: int) -> None:
    # Header, seq 1-2, cp(2), seq 3-4, cp(4), closing cp(4): every kind of line.
    original = write_log(tmp_path / "small.jsonl", n=4, every=2).read_bytes()
    path = tmp_path / "flipped.jsonl"
    for offset in range(len(original)):
        data = bytearray(original)
        data[offset] ^= mask
        fresh_write(path, bytes(data))
        report = verify_log(path, KEY.public_key())
        where = f"offset {offset} ({original[offset : offset + 1]!r})"
        assert not report.ok, where
        assert report.first_bad_line == line_of_offset(original, offset), (where, report)


def test_wrong_public_key_fails(log: Path) -> None:
    report = verify_log(log, derive_signing_key(43).public_key())
    assert not report.ok
    assert report.problem is Problem.WRONG_KEY
    assert report.first_bad_line == 1 and (report.proven, report.unverified) == (0, 0)
    assert key_id(KEY.public_key()) in report.message


def test_non_json_line(log: Path) -> None:
    lines = lines_of(log)
    lines[3] = b"this is not json\n"
    report = verify_log(rewrite(log, lines))
    assert (report.problem, report.first_bad_line, report.unverified) == (Problem.MALFORMED, 4, 2)


def test_re_encoded_line_with_the_same_content_is_malformed(log: Path) -> None:
    lines = lines_of(log)
    lines[3] = json.dumps(json.loads(lines[3])).encode() + b"\n"
    report = verify_log(rewrite(log, lines))
    assert (report.problem, report.first_bad_line) == (Problem.MALFORMED, 4)


@pytest.mark.parametrize(
    "content", [b"", b"{}\n", b'{"hello": 1}\n', b"[1,2]\n", b"\xff\xfe\n", b"NaN\n"]
)
def test_not_a_log(tmp_path: Path, content: bytes) -> None:
    report = verify_log(rewrite(tmp_path / "x.jsonl", [content]))
    assert not report.ok and report.first_bad_line == 1
    assert report.problem in (Problem.MALFORMED, Problem.TRUNCATED)


def test_unreadable_path_raises_our_error_naming_it(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.jsonl", tmp_path):
        with pytest.raises(AuditFileError) as info:
            verify_log(path)
        assert info.value.path == str(path)


# --------------------------------------------------------------------------- truncation


def test_truncation_at_every_offset_proves_only_what_a_checkpoint_signed(tmp_path: Path) -> None:
    log = write_log(tmp_path / "small.jsonl", n=4, every=2)
    original = log.read_bytes()
    ends = [i + 1 for i, byte in enumerate(original) if byte == ord("\n")]
    lines = lines_of(log)
    cut_path = tmp_path / "cut.jsonl"
    for size in range(len(original)):
        cut = original[:size]
        fresh_write(cut_path, cut)
        report = verify_log(cut_path, KEY.public_key())
        complete = sum(1 for e in ends if e <= size)
        read = sum(1 for raw in lines[1:complete] if not raw.startswith(b'{"checkpoint"'))
        signed = [json.loads(raw)["checkpoint"]["seq"] for raw in lines[1:complete]
                  if raw.startswith(b'{"checkpoint"')]
        proven = signed[-1] if signed else 0
        assert report.problem is Problem.TRUNCATED, (size, report)
        assert (report.proven, report.unverified) == (proven, read - proven), (size, report)
        assert report.first_bad_line == complete + 1, (size, report)


def test_missing_closing_checkpoint_proves_up_to_the_last_checkpoint(log: Path) -> None:
    lines = lines_of(log)
    report = verify_log(rewrite(log, lines[:-1]))
    assert report.problem is Problem.TRUNCATED
    assert (report.proven, report.unverified) == (8, 2)
    assert "without its closing checkpoint" in report.message and "intact" not in report.message


CHILD = textwrap.dedent(
    """
    import sys
    from engine.audit.signing import derive_signing_key
    from engine.audit.writer import AuditWriter
    log = AuditWriter(sys.argv[1], derive_signing_key(1), run_id="killed",
                      checkpoint_every=100, buffer_size=4096)
    i = 0
    while True:
        i += 1
        log.append({"time": float(i), "agent": "spiffe://acme.example/agent/bot",
                    "decision": {"effect": "allow"}, "pad": "x" * (i % 97)})
        if i == 300:  # the checkpoint after seq 300 is on disk now
            print("flushed", flush=True)
    """
)


def test_log_of_a_run_killed_midway_verifies_up_to_its_last_complete_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "killed.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "flushed"
        time.sleep(0.2)  # let it write (and partly flush) many more records
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    report = verify_log(path, derive_signing_key(1).public_key())
    assert report.problem is Problem.TRUNCATED
    assert report.proven >= 300 and report.proven % 100 == 0
    complete = [raw for raw in lines_of(path) if raw.endswith(b"\n")]
    read = sum(1 for raw in complete[1:] if b'"checkpoint"' not in raw[:15])
    assert report.proven + report.unverified == read > 300
    # What survived is readable: every record read is there, in order.
    seqs = [r["seq"] for r in iter_records(path)]
    assert seqs == list(range(1, read + 1))


# --------------------------------------------------------------------------- robustness


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_change_to_a_log_fails_and_never_raises(log: Path, data: st.DataObject) -> None:
    original = log.read_bytes()
    start = data.draw(st.integers(0, len(original)), label="start")
    end = data.draw(st.integers(start, min(len(original), start + 80)), label="end")
    new = data.draw(st.binary(max_size=40), label="replacement")
    mutated = original[:start] + new + original[end:]
    path = log.with_name("mutated.jsonl")
    path.write_bytes(mutated)
    report = verify_log(path, KEY.public_key())
    assert report.ok is (mutated == original)
    if not report.ok:
        assert report.first_bad_line is not None and report.message


# --------------------------------------------------------------------------- query


def seqs(path: Path, **filters: Any) -> list[int]:
    return [r["seq"] for r in iter_records(path, **filters)]


def test_query_without_filters_yields_every_record_in_order(log: Path) -> None:
    assert seqs(log) == list(range(1, 11))


def test_query_filters(log: Path) -> None:
    # record(i): agent AGENTS[i % 3]; effect by i % 3; rule-(i % 4); chain AGENTS[: i % 3 + 1];
    # time 30 * i.
    assert seqs(log, agent="spiffe://acme.example/agent/planner") == [1, 4, 7, 10]
    assert seqs(log, agent="planner") == [1, 4, 7, 10]
    assert seqs(log, agent="nobody") == []
    assert seqs(log, effect="deny") == [1, 4, 7, 10]
    assert seqs(log, effect="require_approval") == [2, 5, 8]
    assert seqs(log, rule="rule-3") == [3, 7]
    assert seqs(log, rule="baseline") == list(range(1, 11))
    assert seqs(log, chain="planner") == [1, 2, 4, 5, 7, 8, 10]
    assert seqs(log, chain="coder") == [2, 5, 8]
    assert seqs(log, since=90, until=150) == [3, 4, 5]
    assert seqs(log, since=271) == [10]
    assert seqs(log, effect="deny", since=100, chain="support-bot") == [4, 7, 10]


def test_query_is_liberal_about_record_shape(tmp_path: Path) -> None:
    path = tmp_path / "shapes.jsonl"
    with AuditWriter(path, KEY, run_id="r") as log:
        log.append({"agent": {"spiffe_id": "spiffe://acme.example/agent/a", "name": "a"}})
        log.append({"agent": "b", "chain": [{"name": "a"}], "decision": "weird"})
        log.append({"decision": {"matched": [{"rule": "r1"}, {"id": "r2"}]}, "time": "noon"})
        log.append({"decision": {"chain": {"origin": "a", "actors": ["c", "a"]}}})
        log.append({"chain": {"origin": "d", "actors": ["e"]}})
    assert seqs(path, agent="a") == [1]
    assert seqs(path, chain="a") == [1, 2, 4]
    assert seqs(path, chain="c") == [4]
    assert seqs(path, chain="d") == [5]
    assert seqs(path, rule="r2") == [3]
    assert seqs(path, effect="allow") == []
    assert seqs(path, since=0) == []


def test_query_skips_a_partial_last_line_and_rejects_a_damaged_one(log: Path) -> None:
    lines = lines_of(log)
    rewrite(log, [*lines[:8], lines[8][:40]])
    assert seqs(log) == [1, 2, 3, 4, 5, 6]
    rewrite(log, [*lines[:3], b"garbage\n", *lines[3:]])
    with pytest.raises(AuditFileError, match="line 4 is not JSON"):
        seqs(log)
    with pytest.raises(AuditFileError, match="cannot read"):
        seqs(log.with_name("missing.jsonl"))


@pytest.mark.parametrize("record", [
    {"blob": "x" * (2 * 1024 * 1024)},  # one line beyond MAX_LINE_BYTES
    {"deep": json.loads("[" * 70 + "]" * 70)},  # nested beyond MAX_DEPTH
], ids=["long", "deep"])
def test_the_writer_refuses_a_record_its_readers_would_refuse(tmp_path: Path,
                                                             record: dict[str, Any]) -> None:
    # It used to write it, and every reader then refused the whole log at that line.
    with AuditWriter(tmp_path / "x.jsonl", KEY, run_id="r") as log:
        log.append({"kind": "ok"})
        with pytest.raises(AuditError, match="record 2 is beyond what the log's readers accept"):
            log.append(record)
        log.append({"kind": "after"})
    report = verify_log(tmp_path / "x.jsonl", KEY.public_key())
    assert report.ok and report.records == 2, report.message
