"""An index over a whole run's decisions: compact rows, filters, and what-if counts.

The decision stream shows the most recent decisions with their full records; jumping to an
alert and filtering must reach the whole run. :class:`RunIndex` is a fold over the event
stream that keeps, per decision, a compact row instead of the event: its sequence number,
time and the position of its field values (:data:`tui.run_query.FIELDS`, which most
decisions share with many others), 20 bytes, so a run of a million decisions costs about
20 MB, not gigabytes. Full events are kept only for the most recent decisions and for the
decisions alerts point to (both bounded), so Enter on an alert's decision opens that very
record however long ago it was made. Past ``max_rows`` the oldest rows are dropped in chunks
(and counted).

The same fold counts, per shadow rule, how many decisions it matched and how many enforcing
it would have changed (:func:`engine.policy.what_if.would_change`), and records the rules the
run enforced after it began (``tighten_rule`` responses), so the screens read these figures
and never recompute them.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from operator import itemgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from engine.policy.what_if import shadow_effects, would_change
from sim.events import Event, EventKind
from tui.render.formatting import chain_text, clock, effect_label
from tui.run_query import FIELDS, Query

_EFFECT, _AGENT, _TOOL, _RESOURCE, _RULE, _REASON, _OUTCOME, _DATA, _CHAIN, _INCIDENT = range(
    len(FIELDS))

NO_RULE = {"no_matching_allow": "default deny", "invalid_token": "bad token",
           "error": "error: fail closed"}
"""The rule column when no rule decided, by the decision's reason."""

_FACTS = ("tool", "resource", "outcome", "data_class", "chain", "incident", "attacker")
_facts_of = itemgetter(*_FACTS)
"""A decision event's facts that, with its decision's effect, rule and reason and its agent,
make the kind of its row (one C call instead of seven lookups: this runs per decision)."""

Cells = tuple[str, str, str, str, str, str, str, str]
"""time, agent, chain, tool, resource, effect, rule, marker (the stream's columns)."""


def event_values(event: Event) -> tuple[str, ...]:
    """A decision event's field values in :data:`~tui.run_query.FIELDS` order, lower-case.

    What a row of the index holds, read straight off the event (for rows not indexed).
    """
    d = event.data
    record: Any = d.get("decision") or {}
    decision = getattr(record, "decision", None)
    if decision is not None:
        effect, rule, reason = record.effect, record.rule, decision.reason
    else:
        effect, rule, reason = record.get("effect"), record.get("rule"), record.get("reason")
    incident = d.get("incident")
    return tuple(str(v or "").lower() for v in (
        effect, event.agent, d.get("tool"), d.get("resource"), rule, reason, d.get("outcome"),
        d.get("data_class"), chain_text(d.get("chain")), incident))


class ShadowCount(NamedTuple):
    """How a shadow rule fared over the run so far."""

    rule: str
    effect: str
    """The effect it would have had."""
    matched: int
    """Decisions it matched."""
    changes: int
    """Of those, decisions whose effect enforcing it would have changed."""


class RunIndex:
    """Compact rows of every decision of a run, plus a few full records (all bounded).

    Most decisions of a run share their field values with many others (the same agent calls
    the same tool on the same resource and gets the same effect), so a row holds the
    position of its *kind*: the tuple of its field values, stored once. A row is then a
    sequence number, a time and a kind: 20 bytes in three arrays.

    Args:
        recent: Full events kept of the most recent decisions (for alerts raised later).
        pinned: Full events kept of decisions alerts point to.
        max_rows: Rows kept before the oldest are dropped (a tenth at a time).
    """

    def __init__(self, *, recent: int = 500, pinned: int = 500,
                 max_rows: int = 2_000_000) -> None:
        self.recent_capacity = recent
        self.pinned_capacity = pinned
        self.max_rows = max_rows
        self._kind_ids: dict[tuple[Any, ...], int] = {}
        self.kinds: list[tuple[str, ...]] = []
        """Distinct field values (:data:`~tui.run_query.FIELDS` order) that rows point to."""
        self.kind_flags: list[int] = []
        """Per kind: 0 an ordinary request, 1 an incident's, 2 an attacker's."""
        self.seqs = array("q")
        self.times = array("d")
        self.rows = array("I")
        """Per row, the position of its kind in :attr:`kinds`."""
        self._recent: deque[Event] = deque(maxlen=recent)
        self._pinned: OrderedDict[int, Event] = OrderedDict()
        self.dropped = 0
        """Rows dropped from the front because the run outgrew ``max_rows``."""
        self.total = 0
        """Decisions indexed since the run began."""
        self._shadow: dict[str, list[Any]] = {}
        self.enforced: list[tuple[float, str]] = []
        """(time, rule) of every rule the run enforced after it began, in order."""

    # --- the fold ----------------------------------------------------------------------

    def _new_kind(self, key: tuple[Any, ...], record: Any, decision: Any, event: Event) -> int:
        """Register the field values of a decision not seen before; returns its kind."""
        d = event.data
        if decision is not None:
            effect, rule, reason = record.effect, record.rule, decision.reason
        else:
            effect, rule, reason = record.get("effect"), record.get("rule"), record.get("reason")
        incident = d.get("incident")
        values = tuple(str(v or "") for v in (
            effect, event.agent, d.get("tool"), d.get("resource"), rule, reason,
            d.get("outcome"), d.get("data_class"), chain_text(d.get("chain")), incident))
        kind = self._kind_ids[key] = len(self.kinds)
        self.kinds.append(values)
        self.kind_flags.append(2 if d.get("attacker") else (1 if incident else 0))
        return kind

    def add_decisions(self, events: Iterable[Event]) -> None:
        """Index decision events (other kinds are skipped).

        Runs once per decision at full speed, so the common case (the simulator's own
        events) is done a batch at a time in comprehensions; read-back events take the
        slower path of :meth:`_add_one`.
        """
        decision_kind = EventKind.DECISION
        batch = [e for e in events if e.kind is decision_kind]
        if not batch:
            return
        try:
            records = [e.data["decision"] for e in batch]
            decisions = [r.decision for r in records]
            facts_of = _facts_of
            keys = [(r.effect, r.rule, dec.reason._value_, e.agent, *facts_of(e.data))
                    for e, r, dec in zip(batch, records, decisions, strict=True)]
            get = self._kind_ids.get
            kinds = [get(k) for k in keys]
        except (AttributeError, KeyError, TypeError):  # read-back events: one at a time
            for event in batch:
                self._add_one(event)
        else:
            if None in kinds:
                for i, kind in enumerate(kinds):
                    if kind is None:
                        kinds[i] = self._kind_ids.get(keys[i]) or self._new_kind(
                            keys[i], records[i], decisions[i], batch[i])
            self.seqs.extend([e.seq for e in batch])
            self.times.extend([e.time for e in batch])
            self.rows.extend(kinds)  # type: ignore[arg-type]
            self._recent.extend(batch)
            self.total += len(batch)
            for i, dec in enumerate(decisions):
                if dec.shadow or dec.sequences:
                    values = self.kinds[kinds[i]]  # type: ignore[index]
                    self._count_shadow(records[i], values[_EFFECT], values[_REASON])
        if len(self.seqs) > self.max_rows:
            self._drop(max(1, self.max_rows // 10))

    def _add_one(self, event: Event) -> None:
        """Index one decision event, whatever form its decision has."""
        d = event.data
        record = d["decision"]
        decision = getattr(record, "decision", None)
        if decision is not None:
            key: tuple[Any, ...] = (record.effect, record.rule, str(decision.reason),
                                    event.agent, *(d.get(k) for k in _FACTS))
            shadowed = bool(decision.shadow or decision.sequences)
        else:  # a recorded event: its decision is a plain mapping
            key = (record.get("effect"), record.get("rule"), record.get("reason"),
                   event.agent, *(d.get(k) for k in _FACTS))
            shadowed = bool(record.get("shadow") or record.get("sequences"))
        try:
            kind = self._kind_ids.get(key)
        except TypeError:  # an unhashable value (a chain read back as a list)
            key = tuple(str(v) for v in key)
            kind = self._kind_ids.get(key)
        if kind is None:
            kind = self._new_kind(key, record, decision, event)
        self.seqs.append(event.seq)
        self.times.append(event.time)
        self.rows.append(kind)
        self._recent.append(event)
        self.total += 1
        if shadowed:
            values = self.kinds[kind]
            self._count_shadow(record, values[_EFFECT], values[_REASON])

    def add_others(self, events: Iterable[Event]) -> None:
        """Fold the other events: pin alerts' decisions, note rules enforced mid-run."""
        for event in events:
            kind = event.kind
            if kind is EventKind.ALERT:
                seq = event.data.get("decision")
                if isinstance(seq, int):
                    self.pin(seq)
            elif kind is EventKind.RESPONSE:
                d = event.data
                if d.get("kind") == "tighten_rule" and d.get("applied"):
                    self.enforced.append((event.time, str(d.get("target"))))

    def _count_shadow(self, record: Mapping[str, Any], effect: str, reason: str) -> None:
        for rule, shadow_effect in shadow_effects(record):
            counts = self._shadow.get(rule)
            if counts is None:
                counts = self._shadow[rule] = [shadow_effect, 0, 0]
            counts[1] += 1
            if would_change(effect, reason, shadow_effect):
                counts[2] += 1

    def _drop(self, n: int) -> None:
        del self.seqs[:n], self.times[:n], self.rows[:n]
        self.dropped += n

    def pin(self, seq: int) -> bool:
        """Keep the full event of a recent decision (an alert names it); False if gone."""
        event = self._pinned.get(seq) or self._recent_event(seq)
        if event is None:
            return False
        self._pinned[seq] = event
        self._pinned.move_to_end(seq)
        if len(self._pinned) > self.pinned_capacity:
            self._pinned.popitem(last=False)
        return True

    # --- reading -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.seqs)

    def position(self, seq: int) -> int | None:
        """The row of the decision with this sequence number (None: not indexed or dropped)."""
        i = bisect_left(self.seqs, seq)
        if i < len(self.seqs) and self.seqs[i] == seq:
            return i
        return None

    def select(self, query: Query, start: int = 0) -> list[int]:
        """Sequence numbers of the rows from ``start`` on that satisfy ``query``, in order."""
        seqs = self.seqs
        if query.empty:
            return list(seqs[start:])
        keep = query.predicate()
        wanted = {k for k, values in enumerate(self.kinds)
                  if keep(tuple(v.lower() for v in values))}
        rows = self.rows
        return [seqs[i] for i in range(start, len(seqs)) if rows[i] in wanted]

    def values(self, row: int) -> tuple[str, ...]:
        """A row's field values in :data:`~tui.run_query.FIELDS` order."""
        return self.kinds[self.rows[row]]

    def cells(self, seq: int) -> Cells | None:
        """The stream's columns for a decision (None: not indexed)."""
        row = self.position(seq)
        if row is None:
            return None
        v = self.values(row)
        flag = self.kind_flags[self.rows[row]]
        rule = v[_RULE] or NO_RULE.get(v[_REASON], "")
        return (clock(self.times[row]), v[_AGENT], v[_CHAIN], v[_TOOL], v[_RESOURCE],
                effect_label(v[_EFFECT]), rule, "!" if flag == 2 else ("*" if flag else " "))

    def effect(self, seq: int) -> str:
        """A decision's effect ("" when not indexed)."""
        row = self.position(seq)
        return "" if row is None else self.values(row)[_EFFECT]

    def _recent_event(self, seq: int) -> Event | None:
        recent = self._recent
        if not recent or not recent[0].seq <= seq <= recent[-1].seq:
            return None
        for event in reversed(recent):  # alerts ask for decisions just made
            if event.seq == seq:
                return event
        return None

    def event(self, seq: int) -> Event | None:
        """The full event of a decision, if it is still kept (recent, or an alert's)."""
        return self._pinned.get(seq) or self._recent_event(seq)

    def summary(self, seq: int) -> Event | None:
        """The decision as its row remembers it: the full event, or an abridged one.

        An abridged event carries ``summary: True`` and the fields a row keeps (tool,
        resource, data class, outcome, chain, incident and a decision with effect, reason
        and rule); the decision detail says what is missing.
        """
        event = self.event(seq)
        if event is not None:
            return event
        row = self.position(seq)
        if row is None:
            return None
        v = self.values(row)
        chain = tuple(reversed(v[_CHAIN].split(">"))) if v[_CHAIN] else ()
        data = {
            "summary": True, "tool": v[_TOOL], "resource": v[_RESOURCE] or None,
            "data_class": v[_DATA] or None, "outcome": v[_OUTCOME], "chain": chain,
            "incident": v[_INCIDENT] or None,
            "attacker": self.kind_flags[self.rows[row]] == 2,
            "decision": MappingProxyType({"effect": v[_EFFECT], "reason": v[_REASON],
                                          "rule": v[_RULE] or None}),
        }
        return Event(seq, self.times[row], EventKind.DECISION, v[_AGENT] or None,
                     MappingProxyType(data))

    def shadow_counts(self) -> dict[str, ShadowCount]:
        """Per shadow rule (or sequence) that matched so far: its matches and would-be changes."""
        return {rule: ShadowCount(rule, str(c[0]), int(c[1]), int(c[2]))
                for rule, c in self._shadow.items()}
