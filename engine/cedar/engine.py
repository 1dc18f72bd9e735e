"""The Cedar-backed decider: Cedar decides the rules, agentrange everything Cedar cannot hold.

A :class:`CedarEngine` stands where a :class:`~engine.policy.PolicyEngine` stands (the
simulator, replay, the dashboard) and returns the engine's own
:class:`~engine.policy.Decision` objects, built through their public constructor, so every
event, collector and view works unchanged. Per request, as the native engine does:

1. a token that did not verify is denied before any rule (agentrange verifies tokens);
2. a delegated request deeper than the policy's ``max_depth`` is denied (``delegation.max_depth``);
3. the counters the Cedar policies read are computed (with the request counted) and passed
   as ``context.counter``; Cedar decides the rules (:mod:`engine.cedar.rules`);
4. sequence rules the request completes override the rules' decision by the native rules;
5. with delegation attenuation, every earlier actor's own rules decision is asked of Cedar
   too and the most restrictive wins;
6. an allowed request is recorded: counters add, sequence automata advance.

What a Cedar decision cannot say: ``matched`` lists Cedar's determining policies (Cedar does
not name the permits a forbid overrode), and ``failed`` is empty (Cedar does not explain a
policy that did not match). Cedar's answers are memoised by everything the policies read, so
a run asks Cedar once per distinct request, and a request that does not fit the schema is
denied with what is wrong (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from engine.cedar.context import Encoder
from engine.cedar.policyset import EVERYTHING, CedarPolicy, context_reads
from engine.cedar.rules import CedarRules, Outcome
from engine.cedar.runtime import cedarpy
from engine.cedar.schema import Model
from engine.cedar.state import CedarState, Hits, Plan, number, target_key
from engine.cedar.values import NotInSchema
from engine.policy import CompiledPolicy, Decision, PolicyEngine, Request
from engine.policy.decision import (
    RESTRICTIVENESS,
    Effect,
    Envelope,
    Reason,
    ShadowMatch,
    owner_of,
)
from engine.policy.engine import DEPTH_RULE
from engine.policy.request import EMPTY, principal_attributes

_ALLOW, _DENY = Effect.ALLOW, Effect.DENY
MAX_MEMO = 50_000


class CedarEngine(PolicyEngine):
    """A policy decision point whose rules Cedar decides (every public method overridden).

    Args:
        policy: The compiled policy: agentrange keeps its counters, sequences, delegation
            settings and legal owner; Cedar decides its rules.
        policies: The Cedar policies, in policy order (enforced and shadow).
        model: The scenario's Cedar data model.
        entities: The scenario's entities as Cedar JSON.
        facts: What views read about every rule, when ``policy``'s rules are not the Cedar
            policies (a profile written in Cedar: :func:`engine.cedar.profile.facts_policy`);
            None: ``policy`` itself.
        memo: Remember Cedar's answer per distinct request (off: ask Cedar every time, to
            measure it).
    """

    def __init__(self, policy: CompiledPolicy, policies: Sequence[CedarPolicy], model: Model,
                 entities: list[dict[str, Any]], *, facts: CompiledPolicy | None = None,
                 memo: bool = True) -> None:
        # PolicyEngine.__init__ is not called: nothing of the native machinery is used, and a
        # public method this class did not override would fail loudly instead of deciding.
        self._given = policy
        self._facts_base = facts if facts is not None else policy
        self._cedar = list(policies)
        self._model = model
        self._entities = cedarpy().Entities.from_json_str(json.dumps(entities))
        self._reads = context_reads(self._cedar)
        self._encoder = Encoder(model, self._reads)
        self._hop_views: dict[str, Mapping[str, Any] | None] = {}
        self._keep = MAX_MEMO if memo else 0
        self.calls = 0
        """Cedar authorisations asked so far (memo hits are not asked)."""
        self.reset()

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def policy(self) -> CompiledPolicy:
        """The policy in force (after any :meth:`tighten`), with every rule's facts."""
        return self._facts

    def reset(self) -> None:
        """Forget all state and tightenings: back to the policy as loaded."""
        self._in_force = self._given
        self._facts = self._facts_base
        self._tightened: frozenset[str] = frozenset()
        self._rules = CedarRules(self._cedar, self._tightened, self._entities)
        self._kept = CedarState(self._given)
        self._memo: dict[tuple[Any, ...], tuple[Outcome, dict[Any, Decision]]] = {}
        self._counter_reads = self._read_counters()

    def _read_counters(self) -> tuple[Any, ...]:
        reads = self._reads
        every = (EVERYTHING, EVERYTHING) in reads or ("counter", EVERYTHING) in reads
        return tuple(c for c in self._in_force.counters if every or ("counter", c.id) in reads)

    def tighten(self, rule_id: str) -> None:
        """Enforce shadow rule or sequence ``rule_id`` from now on.

        Raises:
            UnknownRuleError: when the policy has no rule or sequence with that id.
        """
        separate = self._facts_base is not self._given
        self._facts = self._facts.with_enforced(rule_id)
        if not separate:
            self._in_force = self._facts
        elif rule_id in self._in_force.rule_ids():
            self._in_force = self._in_force.with_enforced(rule_id)
        self._kept.use(self._in_force)
        if any(p.id == rule_id for p in self._cedar):
            self._tightened = self._tightened | {rule_id}
            self._rules = CedarRules(self._cedar, self._tightened, self._entities)
            self._memo = {}

    def end_session(self, session_id: str) -> None:
        """Drop the counters and sequence state of a finished task run."""
        self._kept.end_session(session_id)

    def end_chain(self, chain_id: str) -> None:
        """Drop the counters and sequence state of a finished delegation chain."""
        self._kept.end_chain(chain_id)

    def state_size(self) -> int:
        """Number of scope keys holding state."""
        return self._kept.size()

    # --- deciding ----------------------------------------------------------------------------

    def decide(self, req: Request) -> Decision:
        """Decide a request; records it in the state when the effect is ALLOW.

        Never raises for a bad request: it is denied (fail closed) with the problem in
        ``errors``.
        """
        try:
            if req.token.get("valid") is not True:
                return self._invalid_token(req)
            chain = req.chain
            if chain:
                depth = chain.get("depth")
                if depth or (depth is None and len(chain.get("actors") or ()) > 1):
                    return self._decide_delegated(req)
            decision, plan, hits, now = self._stateful(req)
            if decision.effect is _ALLOW and (plan.counters or hits):
                self._kept.apply(req, plan, hits, now)
            return decision
        except NotInSchema as exc:
            return Decision(_DENY, Reason.ERROR, errors=(
                f"the request does not fit the Cedar schema: {exc}",))
        except Exception as exc:  # the engine fails closed; it never raises on a request
            return Decision(_DENY, Reason.ERROR, errors=(f"internal error: {exc!r}",))

    def rules_verdict(self, req: Request) -> Decision:
        """What Cedar would decide of a request whose token was refused; records nothing.

        As if the token had been valid, with the counters and sequences (see the native
        engine's :meth:`~engine.policy.engine.PolicyEngine.rules_verdict`).
        """
        try:
            return self._stateful(replace(req, token={**req.token, "valid": True}))[0]
        except NotInSchema as exc:
            return Decision(_DENY, Reason.ERROR, errors=(
                f"the request does not fit the Cedar schema: {exc}",))
        except Exception as exc:
            return Decision(_DENY, Reason.ERROR, errors=(f"internal error: {exc!r}",))

    def commit(self, req: Request) -> None:
        """Record a request executed after approval."""
        try:
            plan = self._kept.plan(target_key(req, req.principal))
        except (TypeError, AttributeError):
            return
        if self._counter_reads or plan.counters or plan.steps:
            self._kept.commit(req, plan, self._needs_time(plan))

    def decide_rules(self, requests: Sequence[tuple[Request, Mapping[str, Any]]]
                     ) -> list[Decision]:
        """The rules' decisions of many (request, principal) pairs in one Cedar batch.

        No counters, sequences or state: what :meth:`decide` asks Cedar, for callers (and
        benchmarks) with many independent requests.
        """
        return self._rules_decisions([(r, p, EMPTY) for r, p in requests])

    # --- the parts ---------------------------------------------------------------------------

    def _needs_time(self, plan: Plan) -> bool:
        return bool(plan.steps) or any(c.window is not None
                                       for c in (*self._counter_reads, *plan.counters))

    def _stateful(self, req: Request) -> tuple[Decision, Plan, Hits, float | None]:
        plan = self._kept.plan(target_key(req, req.principal))
        now = number(req.time.get("now"))
        stateful = bool(self._counter_reads or plan.counters or plan.steps)
        if stateful and now is None and self._needs_time(plan):
            return (Decision(_DENY, Reason.ERROR, errors=(
                "time.now is absent or not a number: the counters and sequence rules that "
                "apply to this request need it",)), plan, [], None)
        cv = (self._kept.counter_values(req, plan, self._counter_reads, now)
              if self._counter_reads else EMPTY)
        (base,) = self._rules_decisions([(req, req.principal, cv)])
        if not plan.steps:
            return base, plan, [], now
        steps = self._kept.steps(req, plan, now, cv)
        if not steps.completions and not steps.errors:
            return base, plan, steps.hits, now
        return self._with_sequences(req, base, steps.completions, steps.errors), plan, \
            steps.hits, now

    def _rules_decisions(self, items: Sequence[tuple[Request, Mapping[str, Any],
                                                     Mapping[str, Any]]]) -> list[Decision]:
        keys = [self._encoder.key(r, p, cv) for r, p, cv in items]
        memo = self._memo
        missing = list(dict.fromkeys(k for k in keys if k not in memo))
        if missing:
            if len(memo) + len(missing) > self._keep:
                memo = self._memo = {}
                missing = list(dict.fromkeys(keys))
            by_key: dict[tuple[Any, ...], Request] = {}
            for (r, _p, _cv), k in zip(items, keys, strict=True):
                by_key.setdefault(k, r)
            requests = [self._encoder.request(by_key[k], k) for k in missing]
            outcomes = self._rules.decide(requests)
            self.calls += len(requests) * self._rules.calls_per_request
            for k, outcome in zip(missing, outcomes, strict=True):
                memo[k] = (outcome, {})
        return [self._decision(memo[k], p) for k, (_r, p, _cv) in zip(keys, items,
                                                                       strict=True)]

    def _decision(self, memo: tuple[Outcome, dict[Any, Decision]],
                  principal: Mapping[str, Any]) -> Decision:
        outcome, by_owner = memo
        rule = outcome.rule
        envelope = None if rule is None else Envelope(rule.envelope)
        owner = owner_of(envelope, principal, self._in_force.legal_owner)
        decision = by_owner.get(owner)
        if decision is None:
            decision = by_owner[owner] = Decision(
                outcome.effect, outcome.reason, None if rule is None else rule.id,
                outcome.matched, outcome.shadow, (), (), outcome.obligations, envelope, owner,
                outcome.errors)
        return decision

    def _with_sequences(self, req: Request, base: Decision, completions: list[Any],
                        seq_errors: list[Any]) -> Decision:
        """The rules' decision overridden by the sequences completed or errored (native rules)."""
        effect, reason, rule = base.effect, base.reason, base.rule
        envelope, obligations, owner = base.envelope, base.obligations, base.owner
        if reason not in (Reason.EXPLICIT_DENY, Reason.ERROR):
            best = None
            for seq, _ in completions:
                if seq.shadow:
                    continue
                if best is None or RESTRICTIVENESS[seq.effect] > RESTRICTIVENESS[best.effect]:
                    best = seq
            if best is not None and (
                    RESTRICTIVENESS[best.effect] > RESTRICTIVENESS[effect]
                    or (reason is Reason.NO_MATCHING_ALLOW and best.effect is _DENY)):
                effect, reason, rule = best.effect, Reason.SEQUENCE, best.id
                envelope, obligations = best.envelope, best.obligations
                owner = owner_of(envelope, req.principal, self._in_force.legal_owner)
        for seq, _ in seq_errors:
            if not seq.shadow and RESTRICTIVENESS[seq.effect] > RESTRICTIVENESS[effect]:
                effect, reason, rule = _DENY, Reason.ERROR, seq.id
                envelope, obligations = seq.envelope, ()
                owner = owner_of(envelope, req.principal, self._in_force.legal_owner)
                break
        shadow = base.shadow + tuple(ShadowMatch(s.id, s.effect) for s, _ in completions
                                     if s.shadow)
        return Decision(effect, reason, rule, base.matched, shadow, base.failed,
                        tuple(m for _, m in completions), obligations, envelope, owner,
                        base.errors + tuple(text for _, text in seq_errors))

    def _invalid_token(self, req: Request) -> Decision:
        token = req.token
        reason = token.get("reason") if "valid" in token else "not verified (token.valid absent)"
        owner = owner_of(Envelope.SECURITY, req.principal, self._in_force.legal_owner)
        return Decision(_DENY, Reason.INVALID_TOKEN, envelope=Envelope.SECURITY, owner=owner,
                        errors=(f"token {reason or 'invalid'}",), chain=_actors(req.chain))

    def _decide_delegated(self, req: Request) -> Decision:
        chain = req.chain
        actors = tuple(chain.get("actors") or ())
        depth = chain.get("depth")
        if not isinstance(depth, int) or isinstance(depth, bool):
            depth = max(len(actors) - 1, 0)
        policy = self._in_force
        if policy.max_depth is not None and depth > policy.max_depth:
            owner = owner_of(Envelope.SECURITY, req.principal, policy.legal_owner)
            return Decision(
                _DENY, Reason.EXPLICIT_DENY, DEPTH_RULE, envelope=Envelope.SECURITY,
                owner=owner, chain=actors,
                errors=(f"delegation depth {depth} exceeds the policy's max_depth "
                        f"{policy.max_depth}",))
        decision, plan, hits, now = self._stateful(req)
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
                hop_plan = self._kept.plan(target_key(hop_req, principal))
                cv = (self._kept.counter_values(hop_req, hop_plan, self._counter_reads, now)
                      if self._counter_reads else EMPTY)
                (hop_decision,) = self._rules_decisions([(hop_req, principal, cv)])
                if RESTRICTIVENESS[hop_decision.effect] > RESTRICTIVENESS[decision.effect]:
                    decision, restricting = hop_decision, name
        decision = decision.replace(chain=_actors(chain), hop=restricting)
        if decision.effect is _ALLOW and (plan.counters or hits):
            self._kept.apply(req, plan, hits, now)
        return decision

    def _hops(self, req: Request, actors: tuple[str, ...]
              ) -> list[tuple[str, Mapping[str, Any] | None]]:
        names = actors[1:]
        if req.hops is not None and len(req.hops) == len(names):
            return list(zip(names, req.hops, strict=True))
        scenario = self._in_force.scenario
        out: list[tuple[str, Mapping[str, Any] | None]] = []
        for name in names:
            if name not in self._hop_views:
                try:
                    self._hop_views[name] = principal_attributes(scenario, name)
                except KeyError:
                    self._hop_views[name] = None
            out.append((name, self._hop_views[name]))
        return out


def _actors(chain: Mapping[str, Any]) -> tuple[str, ...]:
    actors = tuple(chain.get("actors") or ()) if chain else ()
    return actors if len(actors) >= 2 else ()
