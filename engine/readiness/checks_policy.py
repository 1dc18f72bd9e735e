"""Checks over the compiled policies: what the enforced rules let agents do.

Each check asks the call-space analysis (:mod:`.analysis`) what the rules can decide and
reports a gap: a delegated admin granting privileges without approval (AR007), a
customer-facing tool with no gate or cap (AR008), external egress after a sensitive read with
no sequence rule (AR009), delegation without a depth limit or attenuation (AR010), and shadow
rules left in a production profile (AR011).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.model import SENSITIVITY_RANK, DelegateStep, Scenario
from engine.policy.compiler import CompiledPolicy, CompiledRule
from engine.policy.decision import Effect
from engine.readiness.analysis import Call, call_space, profile_effects, tool_steps
from engine.readiness.findings import Check, Finding, as_check
from engine.readiness.subject import Subject

GRANT_ACTIONS = frozenset({"grant", "assign", "elevate", "assign_role", "grant_role",
                           "add_member", "create_credential", "create_key", "impersonate"})
"""Tool actions that hand out privileges (AR007)."""
WRITE_ACTIONS = frozenset({"write", "update", "delete", "create", "send", "publish", "deploy",
                           "refund", "grant", "revoke", "assign", "execute", "post", "push"})
"""Tool actions that put data somewhere rather than read it (not a "read" for AR009)."""
SENSITIVE = SENSITIVITY_RANK["confidential"]
"""Data classes at or above this sensitivity count as sensitive (AR009)."""


def _values_text(values: Mapping[str, Any]) -> str:
    if not values:
        return ""
    shown = ", ".join(f"{k}={'absent' if v is None else v!r}" for k, v in values.items())
    return f" (e.g. {shown})"


@as_check("AR007", "admin-grant-without-approval", "critical",
          "Delegated-admin agents cannot grant privileges without an approval gate", ("ASI03",))
def check_admin_grants(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A delegated-admin agent whose policy allows a privilege-granting tool (an action such as
    grant, assign or create_credential, or a tool marked critical) outright, with no
    require_approval or deny in the way, can escalate itself or others.
    """
    for policy, profiles, pid in subject.policy_groups():
        for call in call_space(subject):
            if call.agent.kind != "delegated_admin":
                continue
            if call.tool.action not in GRANT_ACTIONS and call.tool.risk != "critical":
                continue
            found = profile_effects(subject, pid, call)
            if not found or Effect.ALLOW not in found:
                continue
            rule = _deciding_allow(policy, call)
            where = (subject.at_rule(pid, rule) if rule is not None
                     else subject.at_policy(pid, ("policy",)))
            yield check.finding(
                where,
                f"policy {policy.name} lets delegated-admin agent {call.label()} "
                f"({call.tool.action}) without approval"
                f"{_values_text(found[Effect.ALLOW].values)}",
                f"add a require_approval rule targeting {call.tool.id} for "
                f"{call.agent.name} (or kind:delegated_admin)", profiles=profiles)


def _deciding_allow(policy: CompiledPolicy, call: Call) -> CompiledRule | None:
    return next((r for r in policy.candidates(call.key)
                 if r.effect is Effect.ALLOW and not r.shadow), None)


def _monetary_tools(scenario: Scenario) -> frozenset[str]:
    return frozenset(s.tool for s in tool_steps(scenario) if s.amount is not None)


def _reads(policy: CompiledPolicy, call: Call, path: str) -> bool:
    return any(r.cond is not None and any(a.path == path for a in r.cond.atoms)
               for r in policy.candidates(call.key) if not r.shadow)


@as_check("AR008", "customer-facing-unguarded", "high",
          "Customer-facing tools need an approval gate, an amount cap or a contextual condition",
          ("LLM06:2025", "ASI02"))
def check_customer_facing(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A customer-facing tool reached with no approval gate is an agent acting on customers
    unsupervised: tools that move money need an amount cap (a condition on request.amount),
    other customer-facing tools at least a contextual condition (recipient, records).
    """
    money = _monetary_tools(subject.scenario)
    for policy, profiles, pid in subject.policy_groups():
        for call in call_space(subject):
            if not call.tool.customer_facing:
                continue
            found = profile_effects(subject, pid, call)
            if not found or Effect.ALLOW not in found:
                continue
            rules = [r for r in policy.candidates(call.key) if not r.shadow]
            if call.tool.id in money:
                if _reads(policy, call, "request.amount"):
                    continue
                gap = "no approval gate and no amount cap (no rule reads request.amount)"
                fix = (f"cap the amount (a deny or require_approval rule on {call.tool.id} "
                       "when request.amount gt <limit>)")
            else:
                if any(r.cond is not None for r in rules):
                    continue
                gap = "no approval gate and no contextual condition"
                fix = (f"add a condition (e.g. request.recipient eq customer) to the allow "
                       f"rule for {call.tool.id}, or a require_approval rule")
            rule = _deciding_allow(policy, call)
            where = (subject.at_rule(pid, rule) if rule is not None
                     else subject.at_policy(pid, ("policy",)))
            yield check.finding(
                where, f"policy {policy.name}: customer-facing {call.label()} is allowed with "
                f"{gap}", fix, profiles=profiles)


@as_check("AR009", "egress-after-sensitive-read", "high",
          "External egress after a sensitive read is covered by a sequence rule",
          ("ASI01", "ASI02"))
def check_egress_chain(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    An agent that can read a sensitive (confidential or restricted) data class and can then
    call an external-egress tool can exfiltrate what it read; an enforced sequence rule whose
    steps cover the read and then the egress is what stops the step that completes the chain.
    """
    for policy, profiles, pid in subject.policy_groups():
        by_agent: dict[str, tuple[list[Call], list[tuple[Call, Effect, bool]]]] = {}
        for call in call_space(subject):
            found = profile_effects(subject, pid, call)
            if not found:
                continue
            reachable = [e for e in (Effect.ALLOW, Effect.REQUIRE_APPROVAL) if e in found]
            if not reachable:
                continue
            reads, egress = by_agent.setdefault(call.agent.name, ([], []))
            if call.tool.egress == "external":
                unconditional = Effect.ALLOW in found and not any(
                    r.cond is not None for r in policy.candidates(call.key) if not r.shadow)
                egress.append((call, reachable[0], unconditional))
            elif call.sensitivity is not None and call.tool.action not in WRITE_ACTIONS \
                    and SENSITIVITY_RANK[call.sensitivity] >= SENSITIVE:
                reads.append(call)
        grouped: dict[tuple[str, tuple[str, ...], Effect, bool], list[str]] = {}
        for agent, (reads, egress) in by_agent.items():
            for out, effect, unconditional in egress:
                uncovered = tuple(sorted({r.data_class for r in reads if r.data_class
                                          and not _sequence_covers(policy, r, out)}))
                agents = grouped.setdefault((out.tool.id, uncovered, effect, unconditional), [])
                if uncovered and agent not in agents:
                    agents.append(agent)
        for (tool, uncovered, effect, unconditional), agents in grouped.items():
            if not agents:
                continue
            how = "allowed" if effect is Effect.ALLOW else "reachable with approval"
            who = agents[0] if len(agents) == 1 else f"{len(agents)} agents ({', '.join(agents)})"
            yield check.finding(
                subject.at_policy(pid, ("sequences",) if policy.sequences else ("policy",)),
                f"policy {policy.name}: {who} can read {', '.join(uncovered)} and then call "
                f"external-egress {tool} ({how}) with no sequence rule covering that chain",
                f"add a sequence rule (effect deny or require_approval) with a first step "
                f"targeting data_classes [{', '.join(uncovered)}] and a later step targeting "
                f"tools [{tool}]",
                severity="high" if unconditional else "medium", profiles=profiles)


def _sequence_covers(policy: CompiledPolicy, read: Call, out: Call) -> bool:
    for seq in policy.sequences:
        if seq.shadow:
            continue
        steps = seq.steps
        for i, first in enumerate(steps):
            if first.target.matches(read.key) and any(
                    later.target.matches(out.key) for later in steps[i + 1:]):
                return True
    return False


def _delegates(scenario: Scenario) -> bool:
    return any(isinstance(s, DelegateStep) for a in scenario.agents for t in a.tasks
               for s in t.steps) or any(
        i.kind == "overbroad_delegated_admin" for i in scenario.incidents)


@as_check("AR010", "delegation-limits", "high",
          "Delegation has a depth limit and attenuation", ("ASI03", "ASI07"))
def check_delegation(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    Where agents delegate to each other, a policy without ``delegation.max_depth`` lets
    chains grow without bound, and one without ``delegation.attenuation`` lets a delegate use
    privileges the agent that asked never had (confused deputy).
    """
    if not _delegates(subject.scenario):
        return
    for policy, profiles, pid in subject.policy_groups():
        where = subject.at_policy(pid, ("delegation",) if ("delegation",) in
                                  subject.policy_docs[pid].positions else ("policy",))
        if policy.max_depth is None:
            yield check.finding(
                where, f"policy {policy.name} sets no delegation depth limit",
                "set delegation.max_depth (e.g. 2) in the policy", profiles=profiles)
        if not policy.attenuation:
            yield check.finding(
                where, f"policy {policy.name} does not attenuate delegated requests",
                "set delegation.attenuation: true so every actor in the chain must be allowed",
                severity="medium", profiles=profiles)


@as_check("AR011", "shadow-in-production", "medium",
          "No shadow-mode rules remain in a production profile", ("L6", "GOVERN 1.4"))
def check_shadow(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A rule in ``mode: shadow`` is evaluated and reported but never enforced: fine while
    tuning, a silent gap in a profile marked ``production: true``.
    """
    for policy, profiles, pid in subject.policy_groups():
        prod = [p for p in profiles if p.production]
        if not prod:
            continue
        for rule in policy.rules:
            if rule.shadow:
                yield check.finding(
                    subject.at_policy(pid, ("rules", rule.index, "mode")),
                    f"rule {rule.id} of policy {policy.name} is in shadow mode in production "
                    f"profile(s) {', '.join(p.id for p in prod)}",
                    f"enforce rule {rule.id} (remove mode: shadow) or delete it",
                    profiles=prod)
        for seq in policy.sequences:
            if seq.shadow:
                yield check.finding(
                    subject.at_policy(pid, ("sequences", seq.index, "mode")),
                    f"sequence {seq.id} of policy {policy.name} is in shadow mode in "
                    f"production profile(s) {', '.join(p.id for p in prod)}",
                    f"enforce sequence {seq.id} (remove mode: shadow) or delete it",
                    profiles=prod)


CHECKS: tuple[Check, ...] = (check_admin_grants, check_customer_facing, check_egress_chain,
                             check_delegation, check_shadow)
"""This family's checks, in source order."""
