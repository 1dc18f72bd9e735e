"""Verdicts: stop sets that decide alike share one explanation; each decision keeps its own.

A decision holds the verdict of its stop set (effect, deciding rule, obligations, shadow
matches), shared by every stop set that decides alike, and its own stop set, from which the
matched and failed rules are spelled out when first read. So deciding allocates no
explanation per stop set, and every decision still reads as a fresh engine's.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from policy_support import make_request, policy_from_text

import engine.policy.bitcore as bitcore
from engine.model import Scenario
from engine.policy import Decision, PolicyEngine

# Four rules on one per-call value: 0-3 records match both allows, 4-10 the wider one, 11-20
# none, 21-50 the approval, over 50 the approval and the deny. Five stop sets; the first two
# decide alike (the wider allow comes first), so four verdicts.
POLICY = """
policy: p
legal_owner: dpo
rules:
  - {id: small-reads, envelope: security, effect: allow,
     target: {principals: ["role:support"]}, when: {attr: request.records, lte: 10}}
  - {id: tiny-reads, envelope: business, effect: allow,
     target: {principals: ["role:support"]}, when: {attr: request.records, lte: 3}}
  - {id: big-reads, envelope: security, effect: require_approval,
     target: {principals: ["role:support"]}, when: {attr: request.records, gt: 20}}
  - {id: bulk, envelope: security, effect: deny,
     target: {principals: ["role:support"]}, when: {attr: request.records, gt: 50}}
"""

RECORDS = range(61)


def fresh_decision(scenario: Scenario, tmp_path: Path, records: int) -> Decision:
    """What an engine deciding this request alone decides."""
    engine = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path, f"alone-{records}.yaml"))
    return engine.decide(make_request(records=records))


def test_stop_sets_that_decide_alike_share_one_verdict(scenario: Scenario,
                                                       tmp_path: Path) -> None:
    engine = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path))
    decisions = [engine.decide(make_request(records=n)) for n in RECORDS]
    assert len({d._stops for d in decisions}) == 5
    assert len({id(d._core) for d in decisions}) == 4
    for n, d in zip(RECORDS, decisions, strict=True):
        alone = fresh_decision(scenario, tmp_path, n)
        assert d == alone
        assert (d.matched, d.failed, d.owner) == (alone.matched, alone.failed, alone.owner)
    by_records = dict(zip(RECORDS, decisions, strict=True))
    assert by_records[2].matched == ("small-reads", "tiny-reads")
    assert by_records[7].matched == ("small-reads",)
    assert [(f.rule, f.actual) for f in by_records[7].failed] == [
        ("tiny-reads", 7), ("big-reads", 7), ("bulk", 7)]
    assert by_records[60].rule == "bulk"
    assert by_records[60].matched == ("big-reads", "bulk")


def test_deciding_allocates_no_explanation_per_stop_set(scenario: Scenario,
                                                        tmp_path: Path) -> None:
    engine = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path))
    decisions = [engine.decide(make_request(records=n)) for n in RECORDS]
    verdicts = {id(d._core) for d in decisions}
    assert all(type(d._core) is bitcore.Verdict for d in decisions)
    # Nothing joins a verdict and a stop set into one object until a chain or a sequence
    # wraps the explanation.
    joined = [o for o in gc.get_objects()
              if type(o) is bitcore.BitCore and id(o.verdict) in verdicts]
    assert joined == []


def test_spelled_lists_are_bounded_and_stay_exact(scenario: Scenario, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bitcore, "MAX_SPELLED", 1)
    engine = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path))
    decisions = [engine.decide(make_request(records=n)) for n in RECORDS]
    alone = {n: fresh_decision(scenario, tmp_path, n) for n in (0, 7, 15, 30, 60)}
    for _ in range(2):  # read again once each verdict's memo has started afresh
        for n in (60, 0, 30, 7, 15, 7, 0):
            got, want = decisions[n], alone[n]
            assert (got.matched, got.failed) == (want.matched, want.failed)
    for d in decisions:
        spelled = d._core._spelled
        assert spelled is None or len(spelled) <= 1


def test_a_delegated_decision_keeps_the_rules_matched_and_failed(scenario: Scenario,
                                                                 tmp_path: Path) -> None:
    engine = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path))
    plain = engine.decide(make_request(records=7))
    chained = plain._in_chain(("support-bot", "ops-bot"), None)
    assert chained.chain == ("support-bot", "ops-bot")
    assert (chained.effect, chained.rule, chained.matched, chained.failed) == (
        plain.effect, plain.rule, plain.matched, plain.failed)
