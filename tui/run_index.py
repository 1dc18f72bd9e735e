"""An index over a whole run's decisions: compact rows, filters, and what-if counts.

The decision stream shows the most recent decisions with their full records; jumping to an
alert and filtering must reach the whole run. :class:`RunIndex` is a fold over the event
stream that keeps, per decision, a compact row (its sequence number, time and interned
strings for each field of :data:`tui.run_query.FIELDS`: about 60 bytes) instead of the event,
so a run of a million decisions costs tens of megabytes, not gigabytes. Full events are kept
only for the most recent decisions and for the decisions alerts point to (both bounded), so
Enter on an alert's decision opens that very record however long ago it was made. Past
``max_rows`` the oldest rows are dropped in chunks (and counted).

The same fold counts, per shadow rule, how many decisions it matched and how many enforcing
it would have changed (:func:`engine.policy.what_if.would_change`), and records the rules the
run enforced after it began (``tighten_rule`` responses), so the screens read these figures
and never recompute them.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Mapping
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
        self.strings: list[str] = [""]
        """Interned values; a row holds their positions."""
        self._ids: dict[str, int] = {"": 0}
        self._chains: dict[Any, int] = {}
        self.seqs = array("q")
        self.times = array("d")
        self.cols = [array("I") for _ in FIELDS]
        self.flags = array("B")
        """0: an ordinary request, 1: an incident's, 2: an attacker's."""
        self._recent: OrderedDict[int, Event] = OrderedDict()
        self._pinned: OrderedDict[int, Event] = OrderedDict()
        self.dropped = 0
        """Rows dropped from the front because the run outgrew ``max_rows``."""
        self.total = 0
        """Decisions indexed since the run began."""
        self._shadow: dict[str, list[Any]] = {}
        self.enforced: list[tuple[float, str]] = []
        """(time, rule) of every rule the run enforced after it began, in order."""

    # --- the fold ----------------------------------------------------------------------

    def _intern(self, value: str) -> int:
        ids = self._ids
        i = ids.get(value)
        if i is None:
            i = ids[value] = len(self.strings)
            self.strings.append(value)
        return i

    def add_decisions(self, events: Iterable[Event]) -> None:
        """Index decision events (other kinds are skipped)."""
        intern = self._intern
        chains = self._chains
        recent = self._recent
        cols = self.cols
        decision_kind = EventKind.DECISION
        for event in events:
            if event.kind is not decision_kind:
                continue
            d = event.data
            record = d["decision"]
            decision = getattr(record, "decision", None)
            if decision is not None:
                effect, rule, reason = record.effect, record.rule, decision.reason
                shadowed = bool(decision.shadow or decision.sequences)
            else:
                effect, rule = record.get("effect"), record.get("rule")
                reason = record.get("reason")
                shadowed = bool(record.get("shadow") or record.get("sequences"))
            chain = d.get("chain")
            key = tuple(chain) if chain else None
            chain_id = chains.get(key)
            if chain_id is None:
                chain_id = chains[key] = intern(chain_text(chain))
            incident = d.get("incident")
            self.seqs.append(event.seq)
            self.times.append(event.time)
            cols[_EFFECT].append(intern(str(effect or "")))
            cols[_AGENT].append(intern(event.agent or ""))
            cols[_TOOL].append(intern(str(d.get("tool") or "")))
            cols[_RESOURCE].append(intern(str(d.get("resource") or "")))
            cols[_RULE].append(intern(str(rule or "")))
            cols[_REASON].append(intern(str(reason or "")))
            cols[_OUTCOME].append(intern(str(d.get("outcome") or "")))
            cols[_DATA].append(intern(str(d.get("data_class") or "")))
            cols[_CHAIN].append(chain_id)
            cols[_INCIDENT].append(intern(str(incident or "")))
            self.flags.append(2 if d.get("attacker") else (1 if incident else 0))
            self.total += 1
            recent[event.seq] = event
            if len(recent) > self.recent_capacity:
                recent.popitem(last=False)
            if shadowed:
                self._count_shadow(record, str(effect), str(reason))
        if len(self.seqs) > self.max_rows:
            self._drop(max(1, self.max_rows // 10))

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
        del self.seqs[:n], self.times[:n], self.flags[:n]
        for col in self.cols:
            del col[:n]
        self.dropped += n

    def pin(self, seq: int) -> bool:
        """Keep the full event of a recent decision (an alert names it); False if gone."""
        event = self._recent.get(seq) or self._pinned.get(seq)
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
        lowered = [s.lower() for s in self.strings]
        every = range(len(self.cols))
        checks: list[tuple[bool, tuple[int, ...], frozenset[int]]] = []
        for group in query.groups():
            cols: set[int] = set()
            ids: set[int] = set()
            negate = group[0].negate
            for term in group:
                wanted = frozenset(i for i, s in enumerate(lowered) if term.accepts(s))
                if term.field is None:
                    cols.update(every)
                else:
                    cols.add(FIELDS.index(term.field))
                ids.update(wanted)
            checks.append((negate, tuple(sorted(cols)), frozenset(ids)))
        columns = self.cols
        out: list[int] = []
        for row in range(start, len(seqs)):
            for negate, cols_, ids_ in checks:
                hit = any(columns[c][row] in ids_ for c in cols_)
                if hit == negate:
                    break
            else:
                out.append(seqs[row])
        return out

    def values(self, row: int) -> tuple[str, ...]:
        """A row's field values in :data:`~tui.run_query.FIELDS` order."""
        strings = self.strings
        return tuple(strings[col[row]] for col in self.cols)

    def cells(self, seq: int) -> Cells | None:
        """The stream's columns for a decision (None: not indexed)."""
        row = self.position(seq)
        if row is None:
            return None
        v = self.values(row)
        flag = self.flags[row]
        rule = v[_RULE] or NO_RULE.get(v[_REASON], "")
        return (clock(self.times[row]), v[_AGENT], v[_CHAIN], v[_TOOL], v[_RESOURCE],
                effect_label(v[_EFFECT]), rule, "!" if flag == 2 else ("*" if flag else " "))

    def effect(self, seq: int) -> str:
        """A decision's effect ("" when not indexed)."""
        row = self.position(seq)
        return "" if row is None else self.strings[self.cols[_EFFECT][row]]

    def event(self, seq: int) -> Event | None:
        """The full event of a decision, if it is still kept (recent, or an alert's)."""
        return self._recent.get(seq) or self._pinned.get(seq)

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
            "incident": v[_INCIDENT] or None, "attacker": self.flags[row] == 2,
            "decision": MappingProxyType({"effect": v[_EFFECT], "reason": v[_REASON],
                                          "rule": v[_RULE] or None}),
        }
        return Event(seq, self.times[row], EventKind.DECISION, v[_AGENT] or None,
                     MappingProxyType(data))

    def shadow_counts(self) -> dict[str, ShadowCount]:
        """Per shadow rule (or sequence) that matched so far: its matches and would-be changes."""
        return {rule: ShadowCount(rule, str(c[0]), int(c[1]), int(c[2]))
                for rule, c in self._shadow.items()}
