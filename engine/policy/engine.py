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
it stops. Candidate rules for a (principal, action, tool, resource) combination are found
once, by ANDing per-facet rule bitmasks (agents, tools, actions, resources, data classes),
into a *plan* (:mod:`engine.policy.plans`). Deciding a request runs the plan's generated
probe (:mod:`engine.policy.probes`): it reads the paths its candidates' conditions name,
maps each value to its class — local to the candidate set: classes that stop the same items
of these rules are one — and looks the combination up in the set's memo (what it reads from
the read-only principal, tool and resource views is read and classed once per view). A
combination not seen before ORs the classes' bitsets into the request's stop set, from which
the effect, the deciding rule and the whole explanation (matched rules, shadow matches, each
unmatched rule's first failed item) follow with a few integer operations; stop sets seen
before share their explanation. Rules with an item that reads several paths run their
generated check per request (:mod:`engine.policy.codegen`), and any request on which a
condition raises is decided rule by rule, so errors say exactly where and what. Decisions
carry their own attribute values, so failed conditions report each request's actual values.
Nothing refers back to the engine, so a dropped engine and its decisions are freed by
reference counting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from engine.policy.compiled import CompiledPolicy
from engine.policy.decision import (
    RESTRICTIVENESS,
    Decision,
    Effect,
    Envelope,
    Reason,
    owner_of,
)
from engine.policy.plans import (
    MAX_PLANS,
    CandidateSet,
    Plan,
    ProbeContext,
    ProbeFn,
    StaticsFn,
    bit_indexes,
    target_key,
)
from engine.policy.probes import probe_function
from engine.policy.request import EMPTY, Request, principal_attributes
from engine.policy.rules import CompiledCounter, TargetKey
from engine.policy.state import EngineState, Hits

DEPTH_RULE = "delegation.max_depth"
"""The rule id of a denial for a delegation chain deeper than the policy's max_depth."""

_ALLOW, _DENY = Effect.ALLOW, Effect.DENY
_NO_CV: Mapping[str, Any] = EMPTY


class PolicyEngine:
    """A stateful policy decision point over one compiled policy.

    Args:
        compiled: The policy, from :func:`~engine.policy.loading.load_policy` or
            :func:`~engine.policy.compiler.compile_policy`.
    """

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._base = compiled
        self._policy = compiled
        self._plans: dict[TargetKey, Plan] = {}
        self._by_identity: dict[tuple[int, int, int, Any],
                                tuple[Any, Any, Any, Plan, tuple[Any, ...] | None]] = {}
        self._shared: dict[int, tuple[CandidateSet, ProbeFn, StaticsFn | None]] = {}
        self._state = EngineState(compiled.legal_owner)
        self._hop_principals: dict[str, Mapping[str, Any]] = {}
        self._small: dict[tuple[Any, ...], Decision] = {}
        self._ctx: ProbeContext | None = None
        self.reset()

    @property
    def policy(self) -> CompiledPolicy:
        """The policy in force (after any :meth:`tighten`)."""
        return self._policy

    # --- lifecycle ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all state and tightenings: back to the compiled policy as loaded.

        Compiled caches (candidate sets, memoised stateless decisions) are kept unless a
        tightening changed the rules: they depend only on the policy.
        """
        if self._policy is not self._base:
            self._plans = {}
            self._by_identity = {}
            self._shared = {}
            self._ctx = None
        self._policy = self._base
        self._state = EngineState(self._base.legal_owner)
        self._small = {}

    def tighten(self, rule_id: str) -> None:
        """Enforce shadow rule or sequence ``rule_id`` from now on (no-op if already enforced).

        Raises:
            UnknownRuleError: when the policy has no rule or sequence with that id.
        """
        self._policy = self._policy.with_enforced(rule_id)
        self._plans = {}
        self._by_identity = {}
        self._shared = {}
        self._ctx = None
        self._small = {}

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
            # identity stands for their content: look the plan up by identity first.
            p, t, r = req.principal, req.tool, req.resource
            known = self._by_identity.get((id(p), id(t), id(r), req.action))
            if known is not None and known[0] is p and known[1] is t and known[2] is r:
                plan, st = known[3], known[4]
            else:
                plan, st = self._plan_by_value(req), None
            if not plan.stateful:
                return plan.probe(req, _NO_CV, st)
            state = self._state
            decision, hits, now = state.decide(req, plan, st)
            if decision.effect is _ALLOW:
                state.apply(req, plan, hits, now)
            return decision
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
            plan = self._plan_for(req)
            if plan.stateful:
                return self._state.decide(req, plan)[0]
            return plan.probe(req, _NO_CV, None)
        except Exception as exc:
            return Decision(_DENY, Reason.ERROR, errors=(f"internal error: {exc!r}",))

    def commit(self, req: Request) -> None:
        """Record a request executed after approval (see the module docstring)."""
        try:
            plan = self._plan_for(req)
        except (TypeError, AttributeError):
            return
        if plan.stateful:
            self._state.commit(req, plan)

    # --- plans -------------------------------------------------------------------------------

    def _plan_by_value(self, req: Request) -> Plan:
        p, t, r = req.principal, req.tool, req.resource
        key = target_key(req, p)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(key)
        if type(p) is MappingProxyType and type(t) is MappingProxyType and (
                r is None or type(r) is MappingProxyType):
            if len(self._by_identity) >= MAX_PLANS:
                self._by_identity = {}
            # What the candidates read from these immutable views is read and classed once.
            st = plan.statics(req) if plan.statics is not None else None
            self._by_identity[(id(p), id(t), id(r), req.action)] = (p, t, r, plan, st)
        return plan

    def _plan_for(self, req: Request) -> Plan:
        key = target_key(req, req.principal)
        plan = self._plans.get(key)
        return plan if plan is not None else self._plan(key)

    def _plan(self, key: TargetKey) -> Plan:
        if type(key[2]) is not tuple:
            roles = key[2]
            norm = tuple(roles) if isinstance(roles, list | tuple) else roles
            key = (key[0], key[1], norm, *key[3:])
            hash(key)  # an unhashable principal/tool value fails here, and decide fails closed
            found = self._plans.get(key)
            if found is not None:
                return found
        policy = self._policy
        mask = policy.candidate_mask(key)
        known = self._shared.get(mask)
        if known is None:
            rules = tuple(policy.rules[i] for i in bit_indexes(mask))
            ctx = self._context(policy)
            counter_reads: tuple[CompiledCounter, ...] = ()
            if policy.counters:
                read = {p for r in rules for p in ctx.tables.rule_paths.get(r.index, ())}
                counter_reads = tuple(c for c in policy.counters if "counter." + c.id in read)
            shared = CandidateSet(rules, mask, counter_reads, ctx.tables)
            known = self._shared[mask] = (shared, *probe_function(shared, ctx))
        shared, probe, statics = known
        counters = tuple(c for c in policy.counters if c.target.matches(key))
        # Highest step first within a sequence, so that recording a request never lets it
        # serve as two consecutive steps.
        steps = tuple(
            (s, j, None if step.cond is None else step.test or step.cond.test,
             j == len(s.steps) - 1)
            for s in policy.sequences
            for j, step in reversed(list(enumerate(s.steps))) if step.target.matches(key))
        plan = Plan(shared, probe, statics, counters, steps)
        if len(self._plans) >= MAX_PLANS:
            self._plans = {}
            self._by_identity = {}
            self._shared = {}
        self._plans[key] = plan
        return plan

    def _stateless(self, req: Request, plan: Plan, cv: Mapping[str, Any]) -> Decision:
        """The rules' decision (no sequences), memoised per equivalence class of requests."""
        return plan.probe(req, cv, None)

    def _context(self, policy: CompiledPolicy) -> ProbeContext:
        """What deciding against this policy needs beyond a candidate set (built once)."""
        if self._ctx is None:
            self._ctx = ProbeContext(policy)
        return self._ctx

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
        return Decision._make(decision._core, decision._values, decision.owner, actors, hop)

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
        plan = self._plan_for(req)
        hits: Hits = []
        now: float | None = None
        state = self._state
        if plan.stateful:
            decision, hits, now = state.decide(req, plan)
        else:
            decision = self._stateless(req, plan, _NO_CV)
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
                hop_plan = self._plan_for(hop_req)
                cv = (state.counter_values(hop_req, hop_plan, now)
                      if hop_plan.counter_reads else _NO_CV)
                hop_decision = self._stateless(hop_req, hop_plan, cv)
                if RESTRICTIVENESS[hop_decision.effect] > RESTRICTIVENESS[decision.effect]:
                    decision, restricting = hop_decision, name
        decision = self._in_chain(decision, chain, restricting)
        if decision.effect is _ALLOW and plan.stateful:
            state.apply(req, plan, hits, now)
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

