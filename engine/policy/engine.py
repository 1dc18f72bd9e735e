"""The policy decision point: decides requests against a compiled policy, with state.

State (sequence automata per scope key, counters; :mod:`engine.policy.state`) changes at
exactly two moments:

- :meth:`PolicyEngine.decide` records the request when its final effect is ALLOW (the
  caller executes it): counters whose target matches add its measure; sequence steps it
  matches advance their scope's automaton.
- :meth:`PolicyEngine.commit` records a request that was executed after an approval
  (``require_approval``) — call it once, when the step actually runs.

A denied request never changes state, and deciding the same request twice without
executing it changes nothing. Sessions and chains whose task runs finished are dropped with
:meth:`PolicyEngine.end_session` / :meth:`PolicyEngine.end_chain`; agent- and task-scoped
state is bounded by the number of agents and tasks, and windows are pruned on access.

Speed: conditions are compiled with the policy into per-path *condition tables*
(:mod:`engine.policy.tables`): for each value of an attribute path (for numbers: each
position among the thresholds the policy compares the path with), a bitset of the rule items
it stops. Before the first decision, the policy's plan book (:mod:`engine.policy.plans`)
builds every (principal, action, tool, resource) combination the scenario can reach: its
candidate rules, found by ANDing per-facet rule bitmasks, and the *static stop set* of the
views the scenario declares (what the principal, tool and resource already stop). Deciding a
request finds its entry by the identity of its read-only views (:mod:`engine.policy.caches`;
views met for the first time share the entry of earlier views with the same content),
runs the candidate set's generated probe (:mod:`engine.policy.probes`), which ORs the cached
stop bits of each per-call value into the static stop set, and looks the result up: the
effect, the deciding rule and the whole explanation (matched rules, shadow matches, each
unmatched rule's first failed item) follow from that stop set with a few integer operations,
once per distinct stop set; a plan with counters or sequence steps runs its generated
decide-and-record function (:mod:`engine.policy.runners`), which reads the counter values,
runs the probe, finds completed sequences and records an allowed request in one pass. A
request whose explanation reads nothing it brought shares one
frozen decision; any other gets one small decision that reads its failed conditions' actual
values from the request on demand (and keeps the counter values it was decided with). Rules
with an item that reads several paths run their generated check per request
(:mod:`engine.policy.codegen`), and any request on which a condition raises is decided rule
by rule, so errors say exactly where and what. Nothing refers back to the engine, so a
dropped engine and its decisions are freed by reference counting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from engine.policy.caches import Entry, MemoSwitch, SetCache, ViewCanon
from engine.policy.compiled import CompiledPolicy
from engine.policy.decision import (
    RESTRICTIVENESS,
    Decision,
    Effect,
    Envelope,
    Reason,
    owner_of,
)
from engine.policy.plans import MAX_PLANS, CandidateSet, Plan, PlanBook, plan_book, target_key
from engine.policy.probes import ProbeFn
from engine.policy.request import EMPTY, Request, principal_attributes
from engine.policy.runners import plan_runner
from engine.policy.state import EngineState, Hits
from engine.policy.tables import Tables

DEPTH_RULE = "delegation.max_depth"
"""The rule id of a denial for a delegation chain deeper than the policy's max_depth."""

_ALLOW, _DENY = Effect.ALLOW, Effect.DENY
_NO_CV: Mapping[str, Any] = EMPTY


class PolicyEngine:
    """A stateful policy decision point over one compiled policy.

    Args:
        compiled: The policy, from :func:`~engine.policy.loading.load_policy` or
            :func:`~engine.policy.compiler.compile_policy`. Its plans are built now unless
            an earlier engine of the same policy built them (how long that took:
            ``plan_book(compiled).seconds``, :mod:`engine.policy.plans`).
    """

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._base = compiled
        self._policy = compiled
        self._book: PlanBook = plan_book(compiled)
        self._tables: Tables = self._book.tables.fresh()
        self._sets: dict[CandidateSet, tuple[SetCache, ProbeFn]] = {}
        self._switch = MemoSwitch()
        self._entries: dict[tuple[int, int, int, Any], Entry] = {}
        self._canon = ViewCanon()
        """Views met -> the first met with their content (keeps the ids of both keys)."""
        self._state = EngineState(compiled.legal_owner)
        self._hop_principals: dict[str, Mapping[str, Any]] = {}
        self._small: dict[tuple[Any, ...], Decision] = {}
        self.reset()

    @property
    def policy(self) -> CompiledPolicy:
        """The policy in force (after any :meth:`tighten`)."""
        return self._policy

    # --- lifecycle ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all state and tightenings: back to the compiled policy as loaded.

        Caches (value classes, explanations, entries) are kept unless a tightening changed
        the rules: they depend only on the policy.
        """
        if self._policy is not self._base:
            self._use(self._base)
        self._policy = self._base
        self._state = EngineState(self._base.legal_owner)
        self._small = {}

    def tighten(self, rule_id: str) -> None:
        """Enforce shadow rule or sequence ``rule_id`` from now on (no-op if already enforced).

        Raises:
            UnknownRuleError: when the policy has no rule or sequence with that id.
        """
        self._policy = self._policy.with_enforced(rule_id)
        self._use(self._policy)
        self._small = {}

    def _use(self, policy: CompiledPolicy) -> None:
        self._book = plan_book(policy)
        self._tables = self._book.tables.fresh()
        self._sets = {}
        self._entries = {}
        self._canon.clear()
        self._switch = MemoSwitch()

    def end_session(self, session_id: str) -> None:
        """Drop the counters and sequence state of a finished task run."""
        self._state.end_session(session_id)

    def end_chain(self, chain_id: str) -> None:
        """Drop the counters and sequence state of a finished delegation chain."""
        self._state.end_chain(chain_id)

    def state_size(self) -> int:
        """Number of scope keys holding state (to check that memory stays bounded)."""
        return self._state.size()

    # --- deciding ---------------------------------------------------------------------------

    def decide(self, req: Request) -> Decision:
        """Decide a request; records it in the state when the effect is ALLOW.

        Never raises for a bad request: anything that cannot be evaluated is denied
        (fail-closed) with the problem in ``errors``.
        """
        try:
            if req.token.get("valid") is not True:
                return self._invalid_token(req)
            chain = req.chain
            if chain:
                depth = chain.get("depth")
                if depth or (depth is None and len(chain.get("actors") or ()) > 1):
                    return self._decide_delegated(req)
            # Read-only views (what the *_attributes helpers build) cannot change, so their
            # identity stands for their content: the entry is found by identity. An entry
            # holds its views, so while it is kept no other object can have their ids: a
            # hit is the same views, with no identity check to make.
            e = self._entries.get((id(req.principal), id(req.tool), id(req.resource),
                                   req.action))
            if e is None:
                e = self._entry(req)
            run = e.run
            if run is None:
                return e.probe(req, _NO_CV, e)
            return run(self._state, req, e)
        except Exception as exc:  # the engine fails closed; it never raises on a request
            return Decision(_DENY, Reason.ERROR, errors=(f"internal error: {exc!r}",))

    def rules_verdict(self, req: Request) -> Decision:
        """What the rules would decide of a request whose token was refused; records nothing.

        As if the token had been valid, counters and sequences included (issue 22: a refusal
        by the token also names the rule that would have denied it). Delegation limits are
        not applied. Never raises: a request that cannot be evaluated gives an error decision.
        """
        try:
            req = replace(req, token={**req.token, "valid": True})
            e = self._entry(req)
            if not e.stateful:
                return e.probe(req, _NO_CV, e)
            return self._state.decide(req, e)[0]
        except Exception as exc:
            return Decision(_DENY, Reason.ERROR, errors=(f"internal error: {exc!r}",))

    def commit(self, req: Request) -> None:
        """Record a request executed after approval (see the module docstring)."""
        try:
            plan = self._book.plan(target_key(req, req.principal))
        except (TypeError, AttributeError):
            return
        if plan.stateful:
            self._state.commit(req, plan)

    # --- entries -----------------------------------------------------------------------------

    def _entry(self, req: Request) -> Entry:
        """The entry of a request's views: kept when they are read-only, else for this call.

        Read-only views met for the first time whose content equals that of views met before
        (another caller building its own views of the same agent, tool and resource) share
        that entry's caches: a warmed engine stays warm for them. Each such view is mapped
        once to the first view met with its content, so a combination of them finds the
        entry of the same combination of those.
        """
        if len(self._entries) >= MAX_PLANS:
            self._entries = {}
            self._canon.clear()
        p, t, r = req.principal, req.tool, req.resource
        stable = type(p) is MappingProxyType and type(t) is MappingProxyType and (
            r is None or type(r) is MappingProxyType)
        canonical: tuple[int, int, int, Any] | None = None
        if stable:
            of = self._canon.of
            cp, ct = of(p), of(t)
            cr = None if r is None else of(r)
            if cp is not p or ct is not t or cr is not r:
                canonical = (id(cp), id(ct), id(cr), req.action)
                twin = self._entries.get(canonical)
                if twin is not None:
                    return self._remember(twin.alias(req))
        plan = self._book.plan(target_key(req, p))
        found = self._sets.get(plan.shared)
        if found is None:
            cache = SetCache(plan.shared, self._tables, self._policy.legal_owner,
                             self._switch)
            found = self._sets[plan.shared] = (cache, cache.bound_probe())
        e = Entry(req, plan, found[0], found[1], stable)
        if plan.stateful:
            e.run = plan_runner(plan)
        if stable:
            self._remember(e)
            if canonical is not None:
                self._entries[canonical] = e  # the canon keeps those ids theirs
        return e

    def _remember(self, e: Entry) -> Entry:
        """Find ``e`` by its views' identities from now on (it keeps them alive)."""
        self._entries[(id(e.p), id(e.t), id(e.r), e.action)] = e
        return e

    def _plan_for(self, req: Request) -> Plan:
        return self._book.plan(target_key(req, req.principal))

    # --- special decisions -----------------------------------------------------------------

    def _invalid_token(self, req: Request) -> Decision:
        token = req.token
        reason = token.get("reason") if "valid" in token else "not verified (token.valid absent)"
        owner = owner_of(Envelope.SECURITY, req.principal, self._policy.legal_owner)
        key = ("token", str(reason), owner)
        decision = self._small.get(key)
        if decision is None:
            decision = Decision(_DENY, Reason.INVALID_TOKEN, envelope=Envelope.SECURITY,
                                owner=owner, errors=(f"token {reason or 'invalid'}",))
            self._small[key] = decision
        return self._in_chain(decision, req.chain)

    def _in_chain(self, decision: Decision, chain: Mapping[str, Any], hop: str | None = None
                  ) -> Decision:
        actors = tuple(chain.get("actors") or ()) if chain else ()
        if len(actors) < 2:
            actors = ()
        return decision._in_chain(actors, hop)

    def _decide_delegated(self, req: Request) -> Decision:
        chain = req.chain
        actors = tuple(chain.get("actors") or ())
        depth = chain.get("depth")
        if not isinstance(depth, int) or isinstance(depth, bool):
            depth = max(len(actors) - 1, 0)
        policy = self._policy
        if policy.max_depth is not None and depth > policy.max_depth:
            owner = owner_of(Envelope.SECURITY, req.principal, policy.legal_owner)
            return Decision(
                _DENY, Reason.EXPLICIT_DENY, DEPTH_RULE, envelope=Envelope.SECURITY,
                owner=owner, chain=actors,
                errors=(f"delegation depth {depth} exceeds the policy's max_depth "
                        f"{policy.max_depth}",))
        t, r = req.tool, req.resource
        e = self._entries.get((id(req.principal), id(t), id(r), req.action))
        if e is None:
            e = self._entry(req)
        hits: Hits = []
        now: float | None = None
        state = self._state
        if e.stateful:
            decision, hits, now = state.decide(req, e)
        else:
            decision = e.probe(req, _NO_CV, e)
        restricting: str | None = None
        if policy.attenuation and len(actors) > 1:
            for name, principal in self._hops(req, actors):
                if principal is None:
                    decision = Decision(_DENY, Reason.ERROR, errors=(
                        f"delegation hop {name!r} is not an agent of the scenario; cannot "
                        "attenuate",))
                    restricting = name
                    break
                hop_req = replace(req, principal=principal)
                hop = self._entries.get((id(principal), id(t), id(r), req.action))
                if hop is None:
                    hop = self._entry(hop_req)
                cv = (state.counter_values(hop_req, hop.plan, now)
                      if hop.plan.counter_reads else _NO_CV)
                hop_decision = hop.probe(hop_req, cv, hop)
                if RESTRICTIVENESS[hop_decision.effect] > RESTRICTIVENESS[decision.effect]:
                    decision, restricting = hop_decision, name
        decision = self._in_chain(decision, chain, restricting)
        if decision.effect is _ALLOW and e.stateful:
            state.apply(req, e.plan, hits, now)
        return decision

    def _hops(self, req: Request, actors: tuple[str, ...]
              ) -> list[tuple[str, Mapping[str, Any] | None]]:
        names = actors[1:]
        if req.hops is not None and len(req.hops) == len(names):
            return list(zip(names, req.hops, strict=True))
        out: list[tuple[str, Mapping[str, Any] | None]] = []
        scenario = self._policy.scenario
        for name in names:
            principal = self._hop_principals.get(name)
            if principal is None:
                try:
                    principal = principal_attributes(scenario, name)
                except KeyError:
                    out.append((name, None))
                    continue
                self._hop_principals[name] = principal
            out.append((name, principal))
        return out
