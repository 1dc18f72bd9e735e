"""What one decision point keeps while deciding: value classes, explanations, entries.

Plans are built ahead and shared (:mod:`engine.policy.plans`); what fills while deciding is
each decision point's own, so a fresh engine starts cold and engines never contend:

- per candidate set a :class:`SetCache`: per per-call path, value class -> the local stop
  bits it adds; stop set -> verdict (:class:`~engine.policy.bitcore.Verdict`). The set's
  generated probe (:mod:`engine.policy.probes`) is bound to these caches;
- per (principal, tool, resource) views and action an :class:`Entry`: the plan, the static
  stop set of these views, the one frozen decision its requests share when no per-call
  value stops anything (nothing failed, or only conditions on the views), its accountable
  owners, and (while the engine's :class:`MemoSwitch` is on) per-call values -> the
  decision requests bringing those values share.

Any other request gets one small decision that reads its failed conditions' actual values
from the request itself on demand (and keeps the counter values of the moment): a request
allocates no explanation and copies nothing out of the request. Nothing here refers back to
the engine, so a dropped engine is freed by reference counting.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from engine.policy.bitcore import Verdict, make_stop_decision
from engine.policy.decision import Decision, Envelope, owner_of
from engine.policy.plans import CandidateSet, Plan, stops_of
from engine.policy.probes import UNKNOWN, ProbeFn, bind_probe
from engine.policy.request import EMPTY, Request
from engine.policy.tables import PathTable, Tables
from engine.policy.values import Snapshot, actual_value, typed

MAX_CORES = 20_000
"""Explanations (one per distinct stop set) kept per candidate set before starting afresh."""
MAX_BITS = 4096
"""Value classes whose stop bits are kept per path of a candidate set before starting
afresh."""
MAX_MEMO = 4096
"""Shared decisions kept per entry before starting afresh."""
_new = object.__new__


class MemoSwitch:
    """Whether an engine still shares decisions between requests that bring equal values.

    Requests of one entry that bring the same per-call values share one decision (the
    simulator renders each decision once, and a hit skips classifying the values). When
    nearly every request brings values never seen before (record counts, timestamps),
    keeping a decision per combination only fills memory and the collector's passes; after
    a window of such misses the engine stops keeping them, and each request gets its own
    decision bound to the request instead.

    Attributes:
        on: Decisions are still kept and shared.
        count: Advanced once per lookup (by the generated probes: a C call).
    """

    __slots__ = ("_start", "count", "misses", "on")

    WINDOW = 1024
    """Misses between two looks at the share of lookups that missed."""
    MOSTLY = 0.75
    """The share of misses above which keeping decisions is given up."""

    def __init__(self) -> None:
        self.on = True
        self.count = itertools.count()
        self.misses = 0
        self._start = 0

    def missed(self) -> None:
        """Count a lookup that found nothing; give up when most of a window did."""
        self.misses += 1
        if self.misses % self.WINDOW == 0:
            looked = next(self.count)
            if self.WINDOW > self.MOSTLY * (looked - self._start):
                self.on = False
            self._start = looked


class SetCache:
    """One decision point's caches for one candidate set.

    Args:
        shared: The candidate set.
        tables: The decision point's own condition tables (classes fill per engine).
        legal_owner: The policy's legal owner.
        switch: The engine's memo switch.
    """

    __slots__ = ("cores", "dyn", "kinds", "legal_owner", "shared", "statics", "switch",
                 "tables")

    def __init__(self, shared: CandidateSet, tables: Tables, legal_owner: str | None,
                 switch: MemoSwitch) -> None:
        self.shared = shared
        self.tables = tables
        self.legal_owner = legal_owner
        self.switch = switch
        self.dyn: tuple[tuple[PathTable, dict[int, int]], ...] = tuple(
            (tables.paths[p], dict(ahead)) for p, ahead in zip(shared.dynamic, shared.prelocal,
                                                               strict=True))
        """Per per-call path: (its table, class -> local stop bits)."""
        self.cores: dict[int, Verdict] = {}
        """Stop set -> its verdict (one of ``kinds``)."""
        self.kinds: dict[tuple[int, int, int], Verdict] = {}
        """The verdicts met, by what they are made of (see :meth:`CandidateSet.core`)."""
        self.statics: dict[tuple[Any, ...], int | None] = {}
        """Static values not foreseen by the plan book -> their stop set (this engine's)."""

    def bound_probe(self) -> ProbeFn:
        """The set's probe, bound to these caches.

        It refers to them: keep it beside them, never on them, or the two would make a
        reference cycle.
        """
        return bind_probe(self)

    def local(self, i: int, k: int) -> int:
        """The local stop bits of class ``k`` of the ``i``-th per-call path (then cached)."""
        table, of_class = self.dyn[i]
        found = self.shared.localise(table.entries[k])
        if len(of_class) >= MAX_BITS:
            of_class.clear()
        of_class[k] = found
        return found

    def core(self, s: int) -> Verdict:
        """The verdict of stop set ``s`` (then cached)."""
        if len(self.cores) >= MAX_CORES:
            self.cores.clear()
            self.kinds.clear()
        core = self.cores[s] = self.shared.core(s, self.kinds)
        return core

    def static_stops(self, req: Request) -> int | None:
        """The static stop set of the request's views (None: a value cannot be classed)."""
        shared = self.shared
        values = tuple([actual_value(req, p) for p in shared.static])
        key = typed(values)
        try:
            found = shared.statics.get(key)  # what the plan book foresaw
            if found is None:
                found = self.statics[key]
        except TypeError:
            return None
        except KeyError:
            found = stops_of(shared, values, self.tables)
            if len(self.statics) >= MAX_BITS:
                self.statics.clear()
            self.statics[key] = found
        return found


class ViewCanon:
    """Read-only views met by identity -> the first view met with the same content.

    Another caller (a test harness, a second simulator run on a warmed engine) builds its own
    views of the same agents, tools and resources: mapped to the views met first, each of its
    combinations finds the entry already built, with no key to compute per combination.
    Holds every view it has met, so their ids stay theirs while it is kept: clear it together
    with whatever is keyed by those ids.
    """

    __slots__ = ("by_content", "by_id")

    def __init__(self) -> None:
        self.by_id: dict[int, tuple[Any, Any]] = {}
        """id(view) -> (the view, kept alive; its canonical view)."""
        self.by_content: dict[Any, Any] = {}

    def of(self, view: Any) -> Any:
        """The canonical view of ``view`` (itself when first met or not hashable as content)."""
        found = self.by_id.get(id(view))
        if found is not None:
            return found[1]
        try:
            canonical = self.by_content.setdefault(content_key(view), view)
        except TypeError:
            canonical = view
        self.by_id[id(view)] = (view, canonical)
        return canonical

    def clear(self) -> None:
        """Forget every view."""
        self.by_id = {}
        self.by_content = {}


def content_key(value: Any) -> Any:
    """A hashable key equal for values with the same content, items' types and order.

    Like :func:`~engine.policy.values.typed` all the way down: ``True``, ``1`` and ``1.0``
    stay apart, mappings keep their keys' order, and anything unhashable that is not a
    mapping, list or tuple raises ``TypeError``.
    """
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return kind, value
    if isinstance(value, Mapping):
        return (kind, tuple([content_key(k) for k in value]),
                tuple([content_key(v) for v in value.values()]))
    if kind is list or kind is tuple:
        return kind, tuple([content_key(v) for v in value])
    if kind is frozenset:
        return kind, frozenset([content_key(v) for v in value])
    hash(value)
    return kind, value


class Entry:
    """One combination of principal, tool and resource views and action, in one engine.

    Attributes:
        plan: Its plan.
        probe: The bound probe of its candidate set.
        static: The local stop set of its views (None: decided rule by rule).
        fixed: The decision shared by its requests whose per-call values stop nothing
            (None until first made).
        memo: Per-call values -> the decision requests bringing them share.
        owners: Envelope (its plain text, or None) -> accountable owner, as far as
            computed. Keyed by plain strings so that the dict holds only atoms and the
            cycle collector untracks it (an envelope member is itself a tracked object).
        stable: The views are read-only (kept and recognised by identity); else the entry
            serves one request and keeps nothing.
        run: The plan's generated decide-and-record function
            (:mod:`engine.policy.runners`) when it is stateful, else None.
    """

    __slots__ = ("_views", "action", "cache", "fixed", "memo", "owners", "p", "plan", "probe",
                 "r", "run", "stable", "stateful", "static", "t")

    def __init__(self, req: Request, plan: Plan, cache: SetCache, probe: ProbeFn,
                 stable: bool) -> None:
        self.p, self.t, self.r, self.action = req.principal, req.tool, req.resource, req.action
        self.plan = plan
        self.stateful = plan.stateful
        self.run: Any = None
        """The plan's decide-and-record function when it is stateful (set by the engine)."""
        self.cache = cache
        self.probe = probe
        self.stable = stable
        self.static = cache.static_stops(req)
        self.fixed: Decision | None = None
        self.memo: dict[tuple[Any, ...], Decision] = {}
        self.owners: dict[str | None, str | None] = {}
        self._views: Request | None = None

    def alias(self, req: Request) -> Entry:
        """This entry for the request's own views, whose content equals this entry's views.

        Shares everything it keeps (the decision of requests whose per-call values stop
        nothing, the shared decisions, the owners); only the views it holds, and is found
        by, are the request's.
        """
        e: Entry = _new(Entry)
        e.p, e.t, e.r, e.action = req.principal, req.tool, req.resource, req.action
        e.plan, e.stateful, e.cache, e.probe = self.plan, self.stateful, self.cache, self.probe
        e.stable, e.static, e.fixed, e.memo = self.stable, self.static, self.fixed, self.memo
        e.owners, e.run, e._views = self.owners, self.run, self._views
        return e

    def views(self) -> Request:
        """A request holding only this entry's views (what static actual values are read from)."""
        if self._views is None:
            self._views = Request(self.p, self.action, self.t, EMPTY, self.r)
        return self._views

    def owner_for(self, envelope: Envelope | None) -> str | None:
        """The accountable owner of a decision in ``envelope`` (then kept)."""
        found = owner_of(envelope, self.p, self.cache.legal_owner)
        self.owners[None if envelope is None else envelope.value] = found
        return found

    def fix(self) -> Decision:
        """The decision of the requests whose per-call values stop nothing (then kept)."""
        assert self.static is not None
        cache = self.cache
        core = cache.cores.get(self.static)
        if core is None:
            core = cache.core(self.static)
        known: Any = self.owners.get(core.envelope, UNKNOWN)
        owner: str | None = self.owner_for(core.envelope) if known is UNKNOWN else known
        # What it reports comes from the views alone: a request holding them is the source.
        found = make_stop_decision(core, self.views() if self.static else (), owner,
                                   self.static)
        if self.stable:
            self.fixed = found
        return found

    def keep(self, key: tuple[Any, ...], decision: Decision) -> Decision:
        """Keep ``decision`` for requests bringing the per-call values ``key``."""
        memo = self.memo
        if len(memo) >= MAX_MEMO:
            memo.clear()
        memo[key] = decision
        self.cache.switch.missed()
        return decision

    def share(self, core: Verdict, stops: int, key: tuple[Any, ...], owner: str | None
              ) -> Decision:
        """A decision for every request bringing the per-call values ``key`` (then kept)."""
        found = make_stop_decision(
            core, Snapshot(self.views(), self.cache.shared.key_index, key), owner, stops)
        return self.keep(key, found)
