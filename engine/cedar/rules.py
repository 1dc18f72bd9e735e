"""Cedar decides the rules: its answer read back as the native engine combines rules.

Enforced policies form one Cedar policy set. Cedar's answer names its *determining*
policies: the satisfied ``permit`` policies when it allows, the satisfied ``forbid`` policies
when it denies (none for the default deny). Read through their annotations: any ``deny`` among
them denies (the first in policy order decides, as natively), else ``require_approval``, else
``allow``; the obligations are those of the determining policies with the deciding effect.
A policy whose evaluation errs is skipped by Cedar and reported; as natively, one whose
effect is stricter than the outcome turns it into a fail-closed deny. Shadow policies are
asked separately, each as a ``permit``, so that every shadow policy that matches is named
whatever the others say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from engine.cedar.policyset import CedarPolicy
from engine.cedar.runtime import cedarpy
from engine.policy.decision import RESTRICTIVENESS, Effect, Reason, ShadowMatch

_ERROR = re.compile(r"policy `(policy\d+)`:?\s*(.*)", re.S)
REASONS = {Effect.DENY: Reason.EXPLICIT_DENY, Effect.REQUIRE_APPROVAL: Reason.APPROVAL_REQUIRED,
           Effect.ALLOW: Reason.ALLOWED}


class Outcome(NamedTuple):
    """The rules' decision of one request, in the native engine's terms."""

    effect: Effect
    reason: Reason
    rule: CedarPolicy | None
    matched: tuple[str, ...]
    obligations: tuple[str, ...]
    shadow: tuple[ShadowMatch, ...]
    errors: tuple[str, ...]


class _Set:
    """One parsed Cedar policy set and the policy behind each positional id."""

    def __init__(self, policies: Sequence[CedarPolicy], *, as_permits: bool) -> None:
        self.policies = list(policies)
        self.by_id = {f"policy{i}": p for i, p in enumerate(self.policies)}
        text = "\n".join(p.as_permit() if as_permits else p.text for p in self.policies)
        self.handle = cedarpy().PolicySet.from_str(text) if self.policies else None

    def ask(self, requests: list[dict[str, Any]], entities: Any) -> list[Any]:
        if self.handle is None:
            return [None] * len(requests)
        result: list[Any] = cedarpy().is_authorized_batch(requests, self.handle, entities)
        return result

    def errors(self, result: Any) -> list[tuple[CedarPolicy, str]]:
        out = []
        for text in result.diagnostics.errors:
            m = _ERROR.search(str(text))
            policy = self.by_id.get(m.group(1)) if m else None
            if policy is None:
                raise RuntimeError(f"Cedar reported an error agentrange cannot place: {text}")
            out.append((policy, " ".join(m.group(2).split()) if m else str(text)))
        return out


class CedarRules:
    """The rules of one policy set as Cedar evaluates them.

    Args:
        policies: Every policy, enforced and shadow, in policy order.
        enforced: Ids of shadow policies enforced since (tightened).
        entities: The parsed entities (a cedarpy ``Entities`` handle).
    """

    def __init__(self, policies: Sequence[CedarPolicy], enforced: frozenset[str],
                 entities: Any) -> None:
        self.order = {p.id: i for i, p in enumerate(policies)}
        on = [p for p in policies if p.mode == "enforce" or p.id in enforced]
        self._enforced = _Set(on, as_permits=False)
        self._shadow = _Set([p for p in policies if p not in on], as_permits=True)
        self._entities = entities

    @property
    def calls_per_request(self) -> int:
        """Cedar authorisations one request costs (the enforced set, and the shadow set)."""
        return int(self._enforced.handle is not None) + int(self._shadow.handle is not None)

    def decide(self, requests: list[dict[str, Any]]) -> list[Outcome]:
        """Decide a batch of Cedar requests (one Cedar call per policy set)."""
        enforced = self._enforced.ask(requests, self._entities)
        shadow = self._shadow.ask(requests, self._entities)
        return [self._outcome(e, s) for e, s in zip(enforced, shadow, strict=True)]

    def _outcome(self, result: Any, shadow_result: Any) -> Outcome:
        matched: list[CedarPolicy] = []
        errored: list[tuple[CedarPolicy, str]] = []
        if result is not None:
            by_id = self._enforced.by_id
            matched = sorted((by_id[r] for r in result.diagnostics.reasons),
                             key=lambda p: self.order[p.id])
            errored = sorted(self._enforced.errors(result), key=lambda e: self.order[e[0].id])
        decider: CedarPolicy | None = None
        best = -1
        for p in matched:  # the first deny, else the first approval, else the first allow
            rank = RESTRICTIVENESS[p.effect]
            if rank > best:
                best, decider = rank, p
                if rank == 2:
                    break
        if decider is None:
            effect, reason = Effect.DENY, Reason.NO_MATCHING_ALLOW
            obligations: tuple[str, ...] = ()
        else:
            effect, reason = decider.effect, REASONS[decider.effect]
            obligations = tuple(dict.fromkeys(o for p in matched if p.effect is effect
                                              for o in p.obligations))
        for policy, _why in errored:
            if RESTRICTIVENESS[policy.effect] > RESTRICTIVENESS[effect]:
                # Fail closed: a rule that might have restricted the request was skipped.
                effect, reason, decider, obligations = Effect.DENY, Reason.ERROR, policy, ()
                break
        shadow: list[CedarPolicy] = []
        if shadow_result is not None:
            shadow = [self._shadow.by_id[r] for r in shadow_result.diagnostics.reasons]
            errored += self._shadow.errors(shadow_result)
        shadow.sort(key=lambda p: self.order[p.id])
        errored.sort(key=lambda e: self.order[e[0].id])
        return Outcome(effect, reason, decider, tuple(p.id for p in matched), obligations,
                       tuple(ShadowMatch(p.id, p.effect) for p in shadow),
                       tuple(f"rule {p.id} skipped: Cedar: {why}" for p, why in errored))
