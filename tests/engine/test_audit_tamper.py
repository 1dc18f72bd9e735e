"""Every kind of tampering is found, labelled rightly, and nothing after it is called proven.

The verdict states three things: records proven by the last valid signed checkpoint before the
problem, the unverified records read after them, and the first problem with its label. The
re-hash attacks (a forger who knows the format but not the key re-hashes the chain around an
edit) are the ones that used to be reported as "intact".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.verdict import Problem, VerifyReport
from engine.audit.verifier import verify_log
from tests.engine.audit_support import (
    KEY,
    index_of_checkpoint,
    index_of_seq,
    lines_of,
    objects,
    record,
    rehashed,
    relink,
    rewrite,
    write_log,
)


def verify(path: Path) -> VerifyReport:
    return verify_log(path, KEY.public_key())


def verdict(report: VerifyReport) -> tuple[Problem, int | None, int | None, int, int]:
    return (
        report.problem,
        report.first_bad_line,
        report.first_bad_seq,
        report.proven,
        report.unverified,
    )


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """10 records, checkpoints after seq 4 and 8, closing checkpoint after seq 10.

    Lines: 1 header | 2-5 seq 1-4 | 6 cp(4) | 7-10 seq 5-8 | 11 cp(8) | 12-13 seq 9-10 | 14 cp.
    """
    return write_log(tmp_path / "audit.jsonl")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """2,500 records with a checkpoint every 1,000: cp(1000), cp(2000), closing cp(2500)."""
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    return write_log(path, n=2500, every=1000).read_bytes()


@pytest.fixture
def big_log(tmp_path: Path, big: bytes) -> Path:
    path = tmp_path / "big.jsonl"
    path.write_bytes(big)
    return path


# --------------------------------------------------------------------------- the re-hash attacks


def test_a_record_edited_and_rehashed_up_to_the_next_checkpoint_is_not_called_intact(
    big_log: Path,
) -> None:
    # Issue 15, failure 1: this used to say "records 1..2000 before it are intact".
    objs = objects(big_log)
    at = index_of_seq(objs, 1500)
    objs[at]["records"] = 0
    cp = index_of_checkpoint(objs, 2000)
    report = verify(rewrite(big_log, relink(objs, at, cp)))
    assert verdict(report) == (Problem.ALTERED, cp + 1, None, 1000, 1000)
    assert report.suspect == (1001, 2000)
    assert "records in seqs 1001..2000 were altered and the chain re-hashed" in report.message
    assert "intact" not in report.message


def test_a_deletion_then_renumbering_is_missing_not_reordered(big_log: Path) -> None:
    # Issue 15, failure 2: the forger deletes seq 1500 and renumbers (and re-hashes) every
    # record after it; the genuine checkpoints stay where they were.
    objs = objects(big_log)
    at = index_of_seq(objs, 1500)
    del objs[at]
    report = verify(rewrite(big_log, relink(objs, at)))
    cp = index_of_checkpoint(objs, 2000)
    assert verdict(report) == (Problem.MISSING, cp + 1, None, 1000, 999)
    assert report.suspect == (1001, 2000)
    assert "1 record missing in seqs 1001..2000" in report.message


def test_a_deletion_renumbered_only_up_to_the_checkpoint_is_missing_too(big_log: Path) -> None:
    objs = objects(big_log)
    at = index_of_seq(objs, 1500)
    del objs[at]
    cp = index_of_checkpoint(objs, 2000)
    report = verify(rewrite(big_log, relink(objs, at, cp)))
    assert verdict(report)[:2] == (Problem.MISSING, cp + 1)
    assert (report.proven, report.suspect) == (1000, (1001, 2000))


def test_an_insertion_then_renumbering_is_inserted(big_log: Path) -> None:
    objs = objects(big_log)
    at = index_of_seq(objs, 1500)
    objs.insert(at, dict(record(7777), seq=0, prev="", hash=""))
    report = verify(rewrite(big_log, relink(objs, at)))
    cp = index_of_checkpoint(objs, 2000)
    assert verdict(report) == (Problem.INSERTED, cp + 1, None, 1000, 1001)
    assert report.suspect == (1001, 2001)


def test_forged_records_appended_after_removing_the_final_checkpoint_are_unverified(
    big_log: Path,
) -> None:
    objs = objects(big_log)
    del objs[index_of_checkpoint(objs, 2500, final=True)]
    start = len(objs)
    objs += [dict(record(9000 + i), seq=0, prev="", hash="") for i in range(5)]
    report = verify(rewrite(big_log, relink(objs, start)))
    assert verdict(report) == (Problem.TRUNCATED, len(objs) + 1, None, 2000, 505)
    assert "intact" not in report.message


def test_a_rehashed_unsigned_tail_is_unverified(big_log: Path) -> None:
    # Without its closing checkpoint the tail after seq 2000 was never signed: a forger can
    # rewrite it at will, so it is counted, never proven.
    objs = objects(big_log)
    del objs[index_of_checkpoint(objs, 2500, final=True)]
    at = index_of_seq(objs, 2200)
    objs[at]["records"] = 0
    report = verify(rewrite(big_log, relink(objs, at)))
    assert verdict(report) == (Problem.TRUNCATED, len(objs) + 1, None, 2000, 500)


def test_a_rehashed_tail_under_the_closing_checkpoint_is_altered(big_log: Path) -> None:
    objs = objects(big_log)
    at = index_of_seq(objs, 2200)
    objs[at]["records"] = 0
    final = index_of_checkpoint(objs, 2500, final=True)
    report = verify(rewrite(big_log, relink(objs, at, final)))
    assert verdict(report) == (Problem.ALTERED, final + 1, None, 2000, 500)
    assert report.suspect == (2001, 2500)


def test_a_forged_record_before_the_final_checkpoint_leaves_that_checkpoint_genuine(
    log: Path,
) -> None:
    # Issue 15, failure 2: the genuine, validly signed closing checkpoint used to be the one
    # called "inserted". It proves seq 1..10; the forged seq 11 is what was inserted.
    objs = objects(log)
    final = index_of_checkpoint(objs, 10, final=True)
    forged = rehashed(dict(record(11), seq=11, prev=objs[final - 1]["hash"]))
    lines = lines_of(log)
    lines.insert(final, forged)
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.INSERTED, final + 1, 11, 10, 0)
    assert "inserted before the checkpoint signed for seq 10" in report.message


def test_a_forged_record_between_a_periodic_and_the_closing_checkpoint(tmp_path: Path) -> None:
    # 8 records every 4: cp(4), cp(8), then the closing checkpoint repeats seq 8.
    path = write_log(tmp_path / "even.jsonl", n=8, every=4)
    objs = objects(path)
    final = index_of_checkpoint(objs, 8, final=True)
    lines = lines_of(path)
    lines.insert(final, rehashed(dict(record(9), seq=9, prev=objs[final - 2]["hash"])))
    report = verify(rewrite(path, lines))
    assert verdict(report) == (Problem.INSERTED, final + 1, 9, 8, 0)


def test_a_forged_record_before_a_periodic_checkpoint(log: Path) -> None:
    objs = objects(log)
    cp = index_of_checkpoint(objs, 4)
    lines = lines_of(log)
    lines.insert(cp, rehashed(dict(record(99), seq=5, prev=objs[cp - 1]["hash"])))
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.INSERTED, cp + 1, 5, 4, 0)


# --------------------------------------------------------------------------- one class each


def test_altered_record_without_rehash(log: Path) -> None:
    lines = lines_of(log)
    lines[6] = lines[6].replace(b'"records":15', b'"records":0')  # seq 5
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.ALTERED, 7, 5, 4, 0)


def test_altered_record_rehashed_alone_is_found_where_it_is(log: Path) -> None:
    objs = objects(log)
    objs[7]["records"] = 0  # seq 6, re-hashed; seq 7 still links to the original
    lines = lines_of(log)
    lines[7] = rehashed(objs[7])
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.ALTERED, 8, 6, 4, 1)
    assert "re-hashed" in report.message


def test_missing_record(log: Path) -> None:
    lines = lines_of(log)
    del lines[6]  # seq 5
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.MISSING, 7, 5, 4, 0)


def test_missing_record_renumbered_on_one_line(log: Path) -> None:
    lines = lines_of(log)
    del lines[2]  # seq 2; the forger renumbers seq 3 to 2 and re-hashes that line
    forged = json.loads(lines[2])
    forged["seq"] = 2
    lines[2] = rehashed(forged)
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.MISSING, 3, 2, 0, 1)


def test_missing_record_just_before_a_checkpoint(log: Path) -> None:
    lines = lines_of(log)
    del lines[4]  # seq 4, the last before cp(4)
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.MISSING, 5, None, 0, 3)
    assert report.suspect == (1, 4)


def test_missing_checkpoint(log: Path) -> None:
    lines = lines_of(log)
    del lines[5]  # cp(4)
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.MISSING, 6, None, 0, 4)
    assert "checkpoint after seq 4" in report.message


@pytest.mark.parametrize(("a", "b", "bad_seq"), [(2, 3, 3), (11, 12, 10), (6, 7, 6)])
def test_swapped_records_are_reordered(log: Path, a: int, b: int, bad_seq: int) -> None:
    lines = lines_of(log)
    lines[a], lines[b] = lines[b], lines[a]
    report = verify(rewrite(log, lines))
    assert verdict(report)[:3] == (Problem.REORDERED, a + 1, bad_seq)


def test_record_moved_later_is_reordered(log: Path) -> None:
    lines = lines_of(log)
    lines.insert(8, lines.pop(2))  # seq 2 goes after seq 7
    report = verify(rewrite(log, lines))
    assert verdict(report)[:2] == (Problem.REORDERED, 3)


def test_record_moved_earlier_is_reordered(log: Path) -> None:
    lines = lines_of(log)
    lines.insert(2, lines.pop(8))  # seq 7 goes before seq 2
    report = verify(rewrite(log, lines))
    assert verdict(report)[:3] == (Problem.REORDERED, 3, 7)


def test_checkpoint_moved_later_is_reordered_and_still_proves_its_records(log: Path) -> None:
    lines = lines_of(log)
    lines.insert(7, lines.pop(5))  # cp(4) goes after seq 5
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.REORDERED, 6, None, 4, 0)


def test_checkpoint_moved_earlier_is_reordered(log: Path) -> None:
    lines = lines_of(log)
    lines.insert(4, lines.pop(5))  # cp(4) goes before seq 4
    report = verify(rewrite(log, lines))
    assert verdict(report)[:2] == (Problem.REORDERED, 5)


@pytest.mark.parametrize(
    ("source", "target", "bad_line"),
    [(2, 3, 4), (2, 9, 10), (12, 13, 14), (5, 6, 7), (13, 14, 15)],
    ids=["adjacent", "later", "last-record", "checkpoint", "closing-checkpoint"],
)
def test_duplicated_lines(log: Path, source: int, target: int, bad_line: int) -> None:
    lines = lines_of(log)
    lines.insert(target, lines[source])
    report = verify(rewrite(log, lines))
    assert verdict(report)[:2] == (Problem.DUPLICATED, bad_line)


def test_inserted_record_that_fits_the_chain_is_found_by_its_successor(log: Path) -> None:
    lines = lines_of(log)
    fake = dict(record(99), seq=3, prev=json.loads(lines[2])["hash"])
    lines.insert(3, rehashed(fake))
    report = verify(rewrite(log, lines))
    assert verdict(report) == (Problem.INSERTED, 4, 3, 0, 2)


@pytest.mark.parametrize("seq", [1, 3, 99])
def test_inserted_record_with_a_foreign_seq(log: Path, seq: int) -> None:
    lines = lines_of(log)
    lines.insert(3, rehashed(dict(record(99), seq=seq, prev="f" * 64)))
    report = verify(rewrite(log, lines))
    assert verdict(report)[:3] == (Problem.INSERTED, 4, seq)


def test_record_appended_after_the_closing_checkpoint(log: Path) -> None:
    lines = lines_of(log)
    lines.append(rehashed(dict(record(11), seq=11, prev=json.loads(lines[12])["hash"])))
    report = verify(rewrite(log, lines))
    assert verdict(report)[:2] == (Problem.INSERTED, 15)
    assert report.proven == 10


def test_checkpoint_from_another_run_signed_by_the_same_key(log: Path, tmp_path: Path) -> None:
    other = lines_of(write_log(tmp_path / "other.jsonl", run_id="run-2"))
    lines = lines_of(log)
    lines[5] = other[5]
    report = verify(rewrite(log, lines))
    assert verdict(report)[:2] == (Problem.INSERTED, 6)


def test_checkpoint_of_a_rerun_with_the_same_key_and_run_id(log: Path, tmp_path: Path) -> None:
    # Same key, run id and records: only the nonce tells the runs apart, and it is enough.
    other = lines_of(write_log(tmp_path / "again.jsonl"))
    lines = lines_of(log)
    lines[5] = other[5]
    report = verify(rewrite(log, lines))
    assert verdict(report)[:2] == (Problem.INSERTED, 6)
    assert "another header" in report.message


def test_forger_who_resigns_with_own_key(log: Path, tmp_path: Path) -> None:
    from engine.audit.signing import derive_signing_key

    mallory = derive_signing_key("mallory")
    forged = write_log(tmp_path / "forged.jsonl", key=mallory)
    assert verify_log(forged).ok  # consistent on its own...
    report = verify(forged)  # ...but not against the trusted key
    assert verdict(report) == (Problem.WRONG_KEY, 1, None, 0, 0)
    lines = lines_of(log)
    lines[5] = lines_of(write_log(tmp_path / "f2.jsonl", key=mallory))[5]
    report = verify_log(rewrite(log, lines))
    assert verdict(report) == (Problem.BAD_SIGNATURE, 6, None, 0, 4)


def test_truncated_mid_line(log: Path) -> None:
    data = log.read_bytes()
    cut = data.index(b"\n", data.index(b'"seq":6')) - 10  # inside seq 6's line
    log.write_bytes(data[:cut])
    report = verify(log)
    assert verdict(report) == (Problem.TRUNCATED, 8, None, 4, 1)


# --------------------------------------------------------------------------- property


def checkpoint_before(seq: int, every: int) -> int:
    """The last periodic checkpoint strictly before ``seq``."""
    return (seq - 1) // every * every


ATTACKS = ("edit-rehash-segment", "edit-rehash-rest", "delete-renumber", "insert-renumber",
           "swap-rehash", "drop-final-and-append")


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(3, 40),
    every=st.integers(1, 9),
    attack=st.sampled_from(ATTACKS),
    data=st.data(),
)
def test_no_rehash_attack_gets_a_record_proven_past_its_edit(
    tmp_path: Path, n: int, every: int, attack: str, data: st.DataObject
) -> None:
    path = tmp_path / f"p-{n}-{every}.jsonl"
    path.unlink(missing_ok=True)
    write_log(path, n=n, every=every)
    objs = objects(path)
    seq = data.draw(st.integers(1, n - 1), label="seq")
    at = index_of_seq(objs, seq)
    if attack.startswith("edit"):
        objs[at]["records"] = -1
        stop = None
        if attack == "edit-rehash-segment":
            stop = next((i for i in range(at, len(objs)) if "checkpoint" in objs[i]), None)
        lines = relink(objs, at, stop, renumber=False)
    elif attack == "delete-renumber":
        del objs[at]
        lines = relink(objs, at)
    elif attack == "insert-renumber":
        objs.insert(at, dict(record(4242), seq=0, prev="", hash=""))
        lines = relink(objs, at)
    elif attack == "swap-rehash":
        nxt = index_of_seq(objs, seq + 1)
        objs[at], objs[nxt] = objs[nxt], objs[at]
        lines = relink(objs, at, nxt + 1)
    else:
        objs = [o for o in objs if not ("checkpoint" in o and o["checkpoint"]["final"])]
        objs.append(dict(record(4343), seq=0, prev="", hash=""))
        seq = n + 1
        lines = relink(objs, len(objs) - 1)
    report = verify(rewrite(path, lines))
    assert not report.ok, (attack, report)
    assert report.proven <= checkpoint_before(seq, every), (attack, seq, report)
    assert "intact" not in report.message
    assert report.first_bad_line is not None
