"""What the plan book builds ahead for every engine, and what an engine keeps per entry."""

from __future__ import annotations

import gc
from collections.abc import Callable

from policy_support import make_request

from engine.policy import PolicyEngine
from engine.policy.plans import plan_book

Make = Callable[[str], PolicyEngine]

THRESHOLDS = """
    policy: p
    legal_owner: dpo
    rules:
      - id: small
        envelope: security
        effect: allow
        when: {attr: request.records, lte: 10}
      - id: huge
        envelope: legal
        effect: deny
        when:
          - {attr: request.records, gt: 1000}
          - {attr: request.destination, eq: external}
"""


def test_the_book_holds_the_local_stop_bits_of_every_class_classed_ahead(make_engine: Make
                                                                          ) -> None:
    book = plan_book(make_engine(THRESHOLDS).policy)
    dynamic = [s for s in book.sets.values() if s.dynamic]
    assert dynamic
    for shared in dynamic:
        for path, ahead in zip(shared.dynamic, shared.prelocal, strict=True):
            entries = book.tables.paths[path].entries
            assert ahead == {k: shared.localise(bits) for k, bits in entries.items()}
            assert len(ahead) > 1  # absence and each gap between the thresholds at least


def test_a_fresh_engine_starts_its_own_copy_of_the_local_stop_bits_built_ahead(
        make_engine: Make) -> None:
    engine = make_engine(THRESHOLDS)
    decision = engine.decide(make_request(records=5000, destination="external"))
    assert decision.rule == "huge"
    (cache, _probe), = engine._sets.values()
    for (_table, of_class), ahead in zip(cache.dyn, cache.shared.prelocal, strict=True):
        assert of_class is not ahead  # an engine fills its own, the book's stays as built
        assert of_class.items() >= ahead.items()


def test_an_entry_keeps_its_owners_as_atoms_which_the_collector_untracks(
        make_engine: Make) -> None:
    """An envelope member is itself a tracked object: a dict keyed by it was a tracked
    container per entry, scanned by every pass of the cycle collector."""
    engine = make_engine(THRESHOLDS)
    allowed = engine.decide(make_request(records=5))
    denied = engine.decide(make_request(records=5000, destination="external"))
    assert (allowed.rule, allowed.owner, denied.rule, denied.owner) == (
        "small", "sec1", "huge", "dpo")
    (entry,) = engine._entries.values()
    assert entry.owners == {"security": "sec1", "legal": "dpo"}
    assert not gc.is_tracked(entry.owners)
