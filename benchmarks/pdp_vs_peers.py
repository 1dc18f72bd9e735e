"""Policy decision point benchmark: agentrange against Cedar (cedarpy) and PyCasbin.

One seeded workload (1,000 rules, 50 agents in 5 roles, 20 tools, 5 data classes, conditions
on record counts, data class sensitivity, egress destination, time of day and principal role)
is expressed three ways, from the same rule list:

- agentrange: a Scenario and a PolicyDocument built in code, compiled once;
- Cedar: permit/forbid policies with ``when`` clauses over context and entity attributes,
  parsed once into a ``PolicySet``, entities parsed once, decided by
  ``cedarpy.is_authorized_batch``;
- PyCasbin: one ``p`` line per rule, a matcher with ``keyMatch``, ``g`` (roles and agent kinds)
  and attribute comparisons, effect ``some(allow) && !some(deny)``.

The same requests go through each; every decision is checked against a plain-Python
reference evaluation of the workload (allow / explicit deny / no match, and which rules
matched), so a disagreement fails the run loudly. Then the run prints decisions/s (medians over
repeats), the ratios and whether the targets were met. A separate line measures agentrange with
session tracking and 10 sequence rules (the peers have no sequence rules), checked against a
reference of the sequence semantics.

agentrange is timed two ways: a fresh engine per repeat (its per-candidate-set code and memo
are built while deciding, as at the start of a run), and "steady": an engine that has already
decided as many other requests of the same fleet (another seed), as in a long simulation. The
peers are given their cheapest inputs: Cedar gets its context pre-serialised to JSON, Casbin
gets integers in its p lines (no parsing in the matcher). Before timing, the heap that setup
built (three workloads, ~200k objects) is frozen with ``gc.freeze()``, as a long-running
decision point freezes what it loaded, so that the cycle collector's full passes do not
rescan it; ``--no-freeze`` times without. The share of agentrange's time spent in the
collector is printed either way.

Two more lines put the 300,000/s target (3.33 us per decision) against what this machine can
do: agentrange when every explanation is already memoised (the same requests decided again:
the memo design's ceiling), and a "CPython floor", a hand-written loop that does only what any
decision point returning per-request explanations must do (check the token, find the candidate
set with one dict lookup, read the request's condition values, build one Decision holding
them) and decides nothing.

Run: ``python benchmarks/pdp_vs_peers.py [--quick] [--seed S] [--repeats R] [--cedar-repeats R]
[--casbin-repeats R] [--no-freeze] [--profile fresh|steady|sequences|sequences-steady]``
(about 5 minutes at full size, most of it in the peers). It prints figures; it is not a test
(``tests/engine/test_bench_pdp_smoke.py`` runs the quick mode for agreement only).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.loader import as_tuples
from engine.model import SENSITIVITY_RANK, Scenario
from engine.policy import (
    Decision,
    Effect,
    PolicyEngine,
    Reason,
    Request,
    chain_attributes,
    compile_policy,
    principal_attributes,
    resource_attributes,
    step_attributes,
    time_attributes,
    tool_attributes,
)
from engine.policy.model import PolicyDocument
from engine.references import reference_problems

TARGET_RATE = 300_000.0
"""agentrange decisions/s with full explanations kept (stateless policy)."""
TARGET_VS_CEDAR = 25.0
"""agentrange rate over cedarpy's batch rate, measured in the same run."""
TARGET_SEQUENCE_RATE = 100_000.0
"""agentrange decisions/s with session tracking and the sequence rules active."""

ALLOW, DENY, NO_MATCH = "allow", "deny", "no_match"
"""Outcomes: an allow rule matched and no deny did; a deny rule matched; nothing matched."""

SENSITIVITY_NAMES = tuple(sorted(SENSITIVITY_RANK, key=SENSITIVITY_RANK.__getitem__))
NO_LIMIT = 10**12
"""Casbin's stand-in for "no upper bound on records" (its p lines have fixed fields)."""


# --- the estate (fixed: 5 roles, 20 tools, 5 data classes) -----------------------------------


@dataclass(frozen=True)
class ToolSpec:
    """A tool: one action on some resources, with its egress."""

    id: str
    action: str
    egress: str
    risk: str
    resources: tuple[str, ...]


@dataclass(frozen=True)
class ResourceSpec:
    """A resource: records of one data class in one system."""

    id: str
    system: str
    data_class: str
    records: int


@dataclass(frozen=True)
class AgentSpec:
    """An agent: its roles (the first is its main role), kind and vendor."""

    name: str
    roles: tuple[str, ...]
    kind: str
    vendor: str | None


DATA_CLASSES: dict[str, str] = {
    "public-content": "public",
    "internal-docs": "internal",
    "financial": "confidential",
    "customer-pii": "restricted",
    "secrets": "restricted",
}

RESOURCES: tuple[ResourceSpec, ...] = (
    ResourceSpec("kb.articles", "kb", "public-content", 800),
    ResourceSpec("web.pages", "web", "public-content", 300),
    ResourceSpec("wiki.pages", "wiki", "internal-docs", 5_000),
    ResourceSpec("helpdesk.tickets", "helpdesk", "internal-docs", 20_000),
    ResourceSpec("cloud.logs", "cloud", "internal-docs", 50_000),
    ResourceSpec("ledger.entries", "ledger", "financial", 100_000),
    ResourceSpec("warehouse.sales", "warehouse", "financial", 2_000_000),
    ResourceSpec("crm.customers", "crm", "customer-pii", 250_000),
    ResourceSpec("warehouse.customers", "warehouse", "customer-pii", 1_000_000),
    ResourceSpec("vault.secrets", "vault", "secrets", 400),
    ResourceSpec("cloud.config", "cloud", "secrets", 150),
)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("kb.search", "read", "none", "low", ("kb.articles", "web.pages")),
    ToolSpec("kb.publish", "write", "external", "medium", ("kb.articles", "web.pages")),
    ToolSpec("wiki.read", "read", "none", "low", ("wiki.pages",)),
    ToolSpec("wiki.edit", "write", "none", "low", ("wiki.pages",)),
    ToolSpec("helpdesk.read", "read", "none", "low", ("helpdesk.tickets",)),
    ToolSpec("helpdesk.update", "write", "none", "medium", ("helpdesk.tickets",)),
    ToolSpec("crm.lookup", "read", "none", "medium", ("crm.customers",)),
    ToolSpec("crm.update", "write", "none", "medium", ("crm.customers",)),
    ToolSpec("crm.export", "export", "external", "critical", ("crm.customers",)),
    ToolSpec("ledger.read", "read", "none", "medium", ("ledger.entries",)),
    ToolSpec("payments.refund", "write", "external", "high", ("ledger.entries",)),
    ToolSpec("warehouse.query", "read", "none", "medium",
             ("warehouse.sales", "warehouse.customers")),
    ToolSpec("vault.read", "read", "none", "high", ("vault.secrets",)),
    ToolSpec("vault.rotate", "write", "none", "high", ("vault.secrets",)),
    ToolSpec("cloud.deploy", "write", "internal", "high", ("cloud.config",)),
    ToolSpec("cloud.logs", "read", "none", "low", ("cloud.logs",)),
    ToolSpec("email.send", "send", "external", "high",
             ("crm.customers", "helpdesk.tickets", "wiki.pages", "kb.articles",
              "ledger.entries")),
    ToolSpec("email.internal", "send", "internal", "low",
             ("wiki.pages", "helpdesk.tickets", "ledger.entries", "crm.customers")),
    ToolSpec("http.post", "send", "external", "high",
             ("wiki.pages", "warehouse.sales", "cloud.logs", "vault.secrets")),
    ToolSpec("slack.post", "send", "internal", "low",
             ("wiki.pages", "helpdesk.tickets", "cloud.logs")),
)

ROLES: dict[str, tuple[str, ...]] = {
    "support": ("kb.search", "helpdesk.read", "helpdesk.update", "crm.lookup", "crm.update",
                "email.send", "email.internal", "slack.post"),
    "finance": ("ledger.read", "payments.refund", "warehouse.query", "email.internal",
                "email.send", "wiki.read", "crm.lookup"),
    "devops": ("cloud.deploy", "cloud.logs", "vault.read", "vault.rotate", "wiki.read",
               "wiki.edit", "slack.post", "http.post"),
    "analyst": ("warehouse.query", "wiki.read", "kb.search", "crm.lookup", "ledger.read",
                "email.internal", "http.post"),
    "sales": ("crm.lookup", "crm.update", "crm.export", "email.send", "kb.search", "kb.publish",
              "warehouse.query"),
}
"""Each role's tool catalogue: what its agents mostly call (and what its role grants)."""

GUARDED_TOOLS: dict[str, str] = {
    "payments.refund": "finance",
    "vault.rotate": "devops",
    "cloud.deploy": "devops",
    "crm.export": "sales",
    "kb.publish": "sales",
}
"""Tools only agents holding the named role may use (separation of duties)."""

VENDORS = ("outsource-co", "helpdesk-saas")
TOOL_BY_ID = {t.id: t for t in TOOLS}
RESOURCE_BY_ID = {r.id: r for r in RESOURCES}
PREFIXES = sorted({t.id.split(".")[0] for t in TOOLS})
EXTERNAL_TOOLS = tuple(t.id for t in TOOLS if t.egress == "external")


def sensitivity(resource_id: str) -> int:
    """The sensitivity rank (0 public .. 3 restricted) of a resource's data class."""
    return SENSITIVITY_RANK[DATA_CLASSES[RESOURCE_BY_ID[resource_id].data_class]]


def tool_data_classes(tool_id: str) -> tuple[str, ...]:
    """The data classes a tool's resources hold, in declaration order."""
    out: list[str] = []
    for rid in TOOL_BY_ID[tool_id].resources:
        dc = RESOURCE_BY_ID[rid].data_class
        if dc not in out:
            out.append(dc)
    return tuple(out)


def tool_matches(pattern: str, tool_id: str) -> bool:
    """``*``, an exact tool id, or ``<prefix>.*`` (agentrange glob, Casbin keyMatch)."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return tool_id.startswith(pattern[:-1])
    return pattern == tool_id


# --- the workload ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """One rule, in the neutral form the three encodings and the reference are built from.

    Every condition given must hold; None means "no condition".

    Attributes:
        principal: ``*``, ``role:<id>``, ``kind:<agent kind>`` or ``agent:<name>``.
        tool: ``*``, a tool id or ``<prefix>.*``.
        data_class: ``*`` or a data class id.
        records_gt / records_lte: Bounds on the request's record count.
        sens_gte / sens_lte: Bounds on the resource's sensitivity rank.
        destination: The request's destination must be this.
        hours: ``(lo, hi)``: ``lo <= hour < hi``; when ``lo > hi`` the window wraps midnight
            (``hour >= lo or hour < hi``).
        lacks_role: The principal must not hold this role.
    """

    id: str
    effect: str
    envelope: str
    description: str
    principal: str = "*"
    tool: str = "*"
    data_class: str = "*"
    records_gt: int | None = None
    records_lte: int | None = None
    sens_gte: int | None = None
    sens_lte: int | None = None
    destination: str | None = None
    hours: tuple[int, int] | None = None
    lacks_role: str | None = None


@dataclass(frozen=True)
class StepSpec:
    """One step of a sequence rule: tool pattern, data class, action, destination, records."""

    tool: str = "*"
    data_class: str = "*"
    action: str = "*"
    destination: str | None = None
    records_gt: int | None = None


@dataclass(frozen=True)
class SequenceSpec:
    """A session-scoped deny sequence: steps in order within ``window`` seconds."""

    id: str
    description: str
    steps: tuple[StepSpec, ...]
    window: float


@dataclass(frozen=True)
class Call:
    """One tool call: who, what, on which resource, with which context, in which session."""

    agent: str
    tool: str
    resource: str
    records: int
    destination: str
    now: float
    session: str

    @property
    def hour(self) -> int:
        """Hour of day (runs start on a Monday at midnight, as in ``time_attributes``)."""
        return int(self.now // 3600) % 24


@dataclass(frozen=True)
class Sizes:
    """How big a run is."""

    agents: int
    rules: int
    requests: int
    repeats: int
    cedar_repeats: int


FULL = Sizes(agents=50, rules=1000, requests=20_000, repeats=5, cedar_repeats=3)
QUICK = Sizes(agents=15, rules=150, requests=1_500, repeats=3, cedar_repeats=2)


@dataclass
class Workload:
    """Agents, rules, sequence rules and calls generated from one seed."""

    seed: int
    agents: tuple[AgentSpec, ...]
    rules: tuple[RuleSpec, ...]
    sequences: tuple[SequenceSpec, ...]
    calls: tuple[Call, ...]
    session_last: frozenset[int]
    """Indexes of the calls that end their session (the engine drops its state after them)."""
    agent_by_name: dict[str, AgentSpec] = field(init=False)

    def __post_init__(self) -> None:
        self.agent_by_name = {a.name: a for a in self.agents}


KINDS_BY_SLOT = {3: "customer_facing", 7: "delegated_admin", 9: "vendor_hosted"}


def make_agents(n: int) -> tuple[AgentSpec, ...]:
    """``n`` agents spread over the 5 roles.

    Every eighth agent holds a second role; a few are customer-facing, delegated admin or
    vendor-hosted rather than internal.
    """
    roles = list(ROLES)
    out = []
    for i in range(n):
        role = roles[i % len(roles)]
        held: tuple[str, ...] = (role,)
        if i % 8 == 6:
            held = (role, roles[(i + 2) % len(roles)])
        kind = KINDS_BY_SLOT.get(i % 10, "internal")
        vendor = VENDORS[i % len(VENDORS)] if kind == "vendor_hosted" else None
        out.append(AgentSpec(f"{role}-bot-{i:02d}", held, kind, vendor))
    return tuple(out)


RECORD_CAPS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
BUSINESS_HOURS = ((7, 19), (8, 18), (6, 20), (9, 17))
OFF_HOURS = ((19, 7), (20, 6), (22, 6), (18, 8))


def make_rules(rng: random.Random, agents: Sequence[AgentSpec], n: int) -> tuple[RuleSpec, ...]:
    """``n`` rules in seven families, the kind a real agent policy holds.

    Role grants and per-agent grants (allow, with record caps, hours and destinations), legal
    bulk caps per data class, egress of sensitive data, off-hours limits per agent kind,
    separation of duties on guarded tools (``lacks_role``) and per-agent restrictions.
    """
    roles = list(ROLES)
    rules: list[RuleSpec] = []
    families = ("role_grant", "agent_grant", "bulk_cap", "egress", "off_hours", "duty",
                "agent_limit")
    weights = (22, 48, 5, 5, 4, 4, 12)
    while len(rules) < n:
        fam = rng.choices(families, weights)[0]
        rid = f"r{len(rules):04d}-{fam.replace('_', '-')}"
        if fam in ("role_grant", "agent_grant"):
            if fam == "role_grant":
                role = rng.choice(roles)
                principal = f"role:{role}"
                catalogue = ROLES[role]
            else:
                agent = rng.choice(agents)
                principal = f"agent:{agent.name}"
                catalogue = ROLES[agent.roles[0]]
            # Per-agent exceptions sometimes reach outside the role's catalogue.
            tid = rng.choice(catalogue) if rng.random() < 0.8 else rng.choice(TOOLS).id
            tool = tid
            if rng.random() < 0.12:
                tool = tid.split(".")[0] + ".*"
            dc = rng.choice(tool_data_classes(tid)) if rng.random() < 0.7 else "*"
            hours = None
            u = rng.random()
            if u < 0.55:
                hours = rng.choice(BUSINESS_HOURS)
            elif u < 0.7:
                hours = rng.choice(OFF_HOURS)
            destination = None
            if TOOL_BY_ID[tid].egress == "external" and rng.random() < 0.5:
                destination = "internal"
            sens_lte = rng.choice((1, 2)) if dc == "*" and rng.random() < 0.4 else None
            rules.append(RuleSpec(
                rid, "allow", rng.choice(("security", "business")),
                f"{principal} may use {tool}", principal=principal, tool=tool, data_class=dc,
                records_lte=rng.choice(RECORD_CAPS) if rng.random() < 0.85 else None,
                sens_lte=sens_lte, destination=destination, hours=hours))
        elif fam == "bulk_cap":
            dc = rng.choice(("customer-pii", "financial", "secrets", "internal-docs"))
            principal = rng.choice(("*", "*", "kind:vendor_hosted", "kind:customer_facing",
                                    f"role:{rng.choice(roles)}"))
            rules.append(RuleSpec(
                rid, "deny", "legal", f"no bulk reads of {dc}", principal=principal,
                data_class=dc, records_gt=rng.choice((500, 1000, 2000, 3000, 4000))))
        elif fam == "egress":
            rules.append(RuleSpec(
                rid, "deny", "legal", "sensitive data does not leave the company",
                principal=rng.choice(("*", "kind:vendor_hosted", f"role:{rng.choice(roles)}")),
                tool=rng.choice((*EXTERNAL_TOOLS, "*")), destination="external",
                sens_gte=rng.choice((2, 3)),
                records_gt=rng.choice((None, None, 0, 10, 50))))
        elif fam == "off_hours":
            rules.append(RuleSpec(
                rid, "deny", "security", "outside working hours",
                principal=rng.choice(("kind:vendor_hosted", "kind:customer_facing",
                                      "kind:delegated_admin", f"role:{rng.choice(roles)}")),
                tool=rng.choice(("*", *(p + ".*" for p in PREFIXES))),
                hours=rng.choice(OFF_HOURS), sens_gte=rng.choice((None, 1, 2, 3))))
        elif fam == "duty":
            tid, owner = rng.choice(sorted(GUARDED_TOOLS.items()))
            rules.append(RuleSpec(
                rid, "deny", "security", f"only {owner} may use {tid}",
                principal=rng.choice(("*", "*", f"role:{rng.choice(roles)}")), tool=tid,
                lacks_role=owner))
        else:
            agent = rng.choice(agents)
            tid = rng.choice(ROLES[agent.roles[0]])
            rules.append(RuleSpec(
                rid, "deny", "business", f"{agent.name} is limited on {tid}",
                principal=f"agent:{agent.name}",
                tool=rng.choice((tid, tid.split(".")[0] + ".*")),
                records_gt=rng.choice(RECORD_CAPS), hours=rng.choice((None, *OFF_HOURS))))
    return tuple(rules)


SEQUENCES: tuple[SequenceSpec, ...] = (
    SequenceSpec("pii-then-external-email", "customer data read, then mailed outside",
                 (StepSpec(data_class="customer-pii", action="read"),
                  StepSpec(tool="email.send", destination="external")), 600.0),
    SequenceSpec("secrets-then-http", "secrets read, then posted outside",
                 (StepSpec(data_class="secrets", action="read"),
                  StepSpec(tool="http.post", destination="external")), 600.0),
    SequenceSpec("secrets-then-deploy", "secrets read, then a deployment",
                 (StepSpec(tool="vault.read"), StepSpec(tool="cloud.deploy")), 300.0),
    SequenceSpec("export-then-send", "customer export, then any email",
                 (StepSpec(tool="crm.export"), StepSpec(tool="email.*")), 1800.0),
    SequenceSpec("financial-then-http", "financial data read, then posted outside",
                 (StepSpec(data_class="financial", action="read"),
                  StepSpec(tool="http.post", destination="external")), 600.0),
    SequenceSpec("bulk-query-then-email", "a bulk warehouse query, then an external email",
                 (StepSpec(tool="warehouse.query", records_gt=1000),
                  StepSpec(tool="email.send", destination="external")), 900.0),
    SequenceSpec("read-rotate-post", "secret read, rotated, then posted outside",
                 (StepSpec(tool="vault.read"), StepSpec(tool="vault.rotate"),
                  StepSpec(tool="http.post")), 900.0),
    SequenceSpec("ledger-then-refund", "a large ledger read, then a refund",
                 (StepSpec(tool="ledger.read", records_gt=100),
                  StepSpec(tool="payments.refund")), 600.0),
    SequenceSpec("pii-then-chat", "customer lookup, then a chat post",
                 (StepSpec(tool="crm.lookup"), StepSpec(tool="slack.post")), 300.0),
    SequenceSpec("kb-crm-external-email", "knowledge base, customer lookup, external email",
                 (StepSpec(tool="kb.search"), StepSpec(tool="crm.lookup"),
                  StepSpec(tool="email.send", destination="external")), 1200.0),
)
"""The 10 sequence rules of the stateful run (escalation chains; all deny, session scope)."""


def _records(rng: random.Random, action: str) -> int:
    if action in ("read", "export"):
        return int(10 ** rng.uniform(0, 3.8))
    if action == "send":
        return int(10 ** rng.uniform(0, 2.5))
    return rng.randint(1, 20)


def make_calls(rng: random.Random, agents: Sequence[AgentSpec], n: int
               ) -> tuple[tuple[Call, ...], frozenset[int]]:
    """``n`` calls in sessions of 3-12 steps a few seconds to minutes apart, over a week.

    Most calls use a tool of the agent's role catalogue; some are out-of-scope attempts.
    Three quarters of sessions start in working hours. Sessions interleave in time.
    """
    calls: list[Call] = []
    sid = 0
    while len(calls) < n:
        agent = rng.choice(agents)
        hour = rng.randint(7, 18) if rng.random() < 0.75 else rng.choice(
            (*range(0, 7), *range(19, 24)))
        now = rng.randrange(7) * 86400.0 + hour * 3600 + rng.uniform(0, 3000)
        session = f"s{sid:05d}"
        sid += 1
        catalogue = ROLES[agent.roles[rng.randrange(len(agent.roles))]]
        for _ in range(rng.randint(3, 12)):
            tool = TOOL_BY_ID[rng.choice(catalogue) if rng.random() < 0.85
                              else rng.choice(TOOLS).id]
            destination = "internal"
            if tool.egress == "external" and rng.random() < 0.7:
                destination = "external"
            calls.append(Call(agent.name, tool.id, rng.choice(tool.resources),
                              _records(rng, tool.action), destination, round(now, 3), session))
            now += rng.uniform(5, 120)
    del calls[n:]
    calls.sort(key=lambda c: c.now)
    last: dict[str, int] = {}
    for i, c in enumerate(calls):
        last[c.session] = i
    return tuple(calls), frozenset(last.values())


def make_workload(sizes: Sizes, seed: int) -> Workload:
    """The whole workload for one seed (deterministic: one ``random.Random(seed)``)."""
    rng = random.Random(seed)
    agents = make_agents(sizes.agents)
    rules = make_rules(rng, agents, sizes.rules)
    calls, last = make_calls(rng, agents, sizes.requests)
    return Workload(seed, agents, rules, SEQUENCES, calls, last)


# --- the plain-Python reference --------------------------------------------------------------


def rule_matches(rule: RuleSpec, agent: AgentSpec, call: Call) -> bool:
    """Does ``rule`` match ``call`` (target and every condition)?"""
    p = rule.principal
    if p != "*":
        kind, _, value = p.partition(":")
        if kind == "role" and value not in agent.roles:
            return False
        if kind == "kind" and value != agent.kind:
            return False
        if kind == "agent" and value != agent.name:
            return False
    if not tool_matches(rule.tool, call.tool):
        return False
    res = RESOURCE_BY_ID[call.resource]
    if rule.data_class not in ("*", res.data_class):
        return False
    if rule.records_gt is not None and not call.records > rule.records_gt:
        return False
    if rule.records_lte is not None and not call.records <= rule.records_lte:
        return False
    sens = sensitivity(call.resource)
    if rule.sens_gte is not None and not sens >= rule.sens_gte:
        return False
    if rule.sens_lte is not None and not sens <= rule.sens_lte:
        return False
    if rule.destination is not None and call.destination != rule.destination:
        return False
    if rule.hours is not None:
        lo, hi = rule.hours
        h = call.hour
        inside = lo <= h < hi if lo <= hi else (h >= lo or h < hi)
        if not inside:
            return False
    return rule.lacks_role is None or rule.lacks_role not in agent.roles


def reference_outcome(w: Workload, call: Call) -> tuple[str, frozenset[str]]:
    """The outcome of a call and the rules that decided it.

    Deny overrides allow and nothing matched means deny; the deciding rules are every
    matching deny rule, or every matching allow rule.
    """
    agent = w.agent_by_name[call.agent]
    allows: list[str] = []
    denies: list[str] = []
    for r in w.rules:
        if rule_matches(r, agent, call):
            (denies if r.effect == "deny" else allows).append(r.id)
    if denies:
        return DENY, frozenset(denies)
    if allows:
        return ALLOW, frozenset(allows)
    return NO_MATCH, frozenset()


def step_matches(step: StepSpec, call: Call) -> bool:
    """Does a sequence step match a call?"""
    tool = TOOL_BY_ID[call.tool]
    return (tool_matches(step.tool, call.tool)
            and step.data_class in ("*", RESOURCE_BY_ID[call.resource].data_class)
            and step.action in ("*", tool.action)
            and (step.destination is None or call.destination == step.destination)
            and (step.records_gt is None or call.records > step.records_gt))


def reference_sequence_allowed(w: Workload, base_allowed: Sequence[bool]) -> list[bool]:
    """Allowed (True) or not, per call, with the sequence rules active.

    A call that matches the last step of a sequence is denied when the earlier steps were
    matched, in order, by allowed calls of its session, the first of them within the window.
    Only allowed calls advance a sequence; a session's state ends with its last call.
    """
    # session -> sequence -> per step index: start time of the latest-starting partial match
    state: dict[str, dict[str, list[float | None]]] = {}
    out = []
    for i, (call, allowed) in enumerate(zip(w.calls, base_allowed, strict=True)):
        per_seq = state.setdefault(call.session, {})
        completes = False
        for seq in w.sequences:
            last = len(seq.steps) - 1
            if step_matches(seq.steps[last], call):
                partial = per_seq.get(seq.id)
                start = partial[last - 1] if partial else None
                if start is not None and call.now - start <= seq.window:
                    completes = True
        final = allowed and not completes
        out.append(final)
        if final:
            for seq in w.sequences:
                last = len(seq.steps) - 1
                partial = per_seq.setdefault(seq.id, [None] * last)
                # Highest step first, so one call never advances a sequence twice.
                for j in range(last - 1, -1, -1):
                    if not step_matches(seq.steps[j], call):
                        continue
                    if j == 0:
                        partial[0] = call.now
                        continue
                    prev = partial[j - 1]
                    if prev is None or call.now - prev > seq.window:
                        continue
                    cur = partial[j]
                    if cur is None or cur <= prev or call.now - cur > seq.window:
                        partial[j] = prev
        if i in w.session_last:
            state.pop(call.session, None)
    return out


# --- agentrange encoding ---------------------------------------------------------------------


def scenario_data(w: Workload) -> dict[str, Any]:
    """The agentrange scenario (plain data, as YAML would give it) declaring the estate."""
    owners = [{"id": "dpo", "name": "Data Protection Officer"}]
    for role in ROLES:
        owners += [{"id": f"{role}-lead", "name": f"{role.title()} lead"},
                   {"id": f"{role}-sec", "name": f"{role.title()} security"}]
    agents = []
    for a in w.agents:
        main = a.roles[0]
        agent: dict[str, Any] = {
            "name": a.name, "kind": a.kind, "roles": list(a.roles),
            "owners": {"business": f"{main}-lead", "security": f"{main}-sec",
                       "incident": f"{main}-sec"},
        }
        if a.vendor is not None:
            agent["vendor"] = a.vendor
        agents.append(agent)
    return {
        "name": "pdp-benchmark",
        "trust_domain": "acme.example",
        "duration": 7 * 86400,
        "owners": owners,
        "data_classes": [{"id": k, "sensitivity": v} for k, v in DATA_CLASSES.items()],
        "systems": [{"id": s} for s in sorted({r.system for r in RESOURCES})],
        "resources": [{"id": r.id, "system": r.system, "data_class": r.data_class,
                       "records": r.records} for r in RESOURCES],
        "tools": [{"id": t.id, "action": t.action, "egress": t.egress, "risk": t.risk,
                   "resources": list(t.resources)} for t in TOOLS],
        "roles": [{"id": role, "tools": list(tools)} for role, tools in ROLES.items()],
        "vendors": [{"id": v, "name": v, "trust_domain": f"{v}.example"} for v in VENDORS],
        "agents": agents,
        "profiles": [{"id": "bench", "credentials": {"mode": "jit", "ttl": 600},
                      "policy": "bench.yaml"}],
    }


def build_scenario(w: Workload) -> Scenario:
    """Validate the scenario (strict pydantic) and check its cross-references."""
    scenario = Scenario.model_validate(as_tuples(scenario_data(w)))
    problems = reference_problems(scenario)
    if problems:
        raise SystemExit(f"benchmark scenario is inconsistent: {problems[:5]}")
    return scenario


def _conditions(r: RuleSpec) -> list[dict[str, Any]]:
    conds: list[dict[str, Any]] = []
    if r.records_gt is not None:
        conds.append({"attr": "request.records", "gt": r.records_gt})
    if r.records_lte is not None:
        conds.append({"attr": "request.records", "lte": r.records_lte})
    if r.sens_gte is not None:
        conds.append({"attr": "resource.sensitivity", "gte": SENSITIVITY_NAMES[r.sens_gte]})
    if r.sens_lte is not None:
        conds.append({"attr": "resource.sensitivity", "lte": SENSITIVITY_NAMES[r.sens_lte]})
    if r.destination is not None:
        conds.append({"attr": "request.destination", "eq": r.destination})
    if r.hours is not None:
        lo, hi = r.hours
        pair = [{"attr": "time.hour", "gte": lo}, {"attr": "time.hour", "lt": hi}]
        conds.extend(pair) if lo <= hi else conds.append({"any": pair})
    if r.lacks_role is not None:
        conds.append({"not": {"attr": "principal.roles", "contains": r.lacks_role}})
    return conds


def _target(principal: str, tool: str, data_class: str, action: str = "*") -> dict[str, Any]:
    target: dict[str, Any] = {}
    if principal != "*":
        target["principals"] = [principal]
    if action != "*":
        target["actions"] = [action]
    if tool != "*":
        target["tools"] = [tool]
    if data_class != "*":
        target["data_classes"] = [data_class]
    return target


def policy_data(w: Workload, *, sequences: bool) -> dict[str, Any]:
    """The agentrange policy document (plain data) for the rules, and the sequences if asked."""
    rules = []
    for r in w.rules:
        rule: dict[str, Any] = {"id": r.id, "description": r.description,
                                "envelope": r.envelope, "effect": r.effect,
                                "target": _target(r.principal, r.tool, r.data_class)}
        conds = _conditions(r)
        if conds:
            rule["when"] = conds
        rules.append(rule)
    doc: dict[str, Any] = {"policy": "pdp-benchmark", "legal_owner": "dpo", "rules": rules}
    if sequences:
        seqs = []
        for s in w.sequences:
            steps = []
            for st in s.steps:
                step: dict[str, Any] = {"target": _target("*", st.tool, st.data_class,
                                                          st.action)}
                conds = []
                if st.destination is not None:
                    conds.append({"attr": "request.destination", "eq": st.destination})
                if st.records_gt is not None:
                    conds.append({"attr": "request.records", "gt": st.records_gt})
                if conds:
                    step["when"] = conds
                steps.append(step)
            seqs.append({"id": s.id, "description": s.description, "envelope": "legal",
                         "effect": "deny", "scope": "session", "window": s.window,
                         "steps": steps})
        doc["sequences"] = seqs
    return doc


def agentrange_requests(w: Workload, scenario: Scenario) -> list[Request]:
    """One Request per call.

    Principal, tool and resource views are built once and shared, as the simulator does.
    """
    principals = {a.name: principal_attributes(scenario, a.name) for a in w.agents}
    tools = {t.id: tool_attributes(scenario.tool(t.id)) for t in TOOLS}
    resources = {r.id: resource_attributes(scenario, r.id) for r in RESOURCES}
    token = {"valid": True, "reason": "ok", "mode": "jit", "ttl_remaining": 300.0,
             "age": 10.0, "scope": ("tool:*",), "sender_constrained": True, "chain_depth": 0}
    out = []
    for i, c in enumerate(w.calls):
        out.append(Request(
            principal=principals[c.agent], action=TOOL_BY_ID[c.tool].action,
            tool=tools[c.tool], token=token, resource=resources[c.resource],
            request=step_attributes(c.records, destination=c.destination),
            task={"id": "bench", "intent": "", "approved": True, "step": 1, "run": c.session},
            session={"id": c.session}, chain=chain_attributes(c.session, (c.agent,)),
            time=time_attributes(c.now), ref=i))
    return out


def compile_agentrange(w: Workload, scenario: Scenario, *, sequences: bool) -> Any:
    """Validate and compile the policy document against the scenario."""
    doc = PolicyDocument.model_validate(as_tuples(policy_data(w, sequences=sequences)))
    return compile_policy(doc, scenario, source="<pdp benchmark>")


def agentrange_outcome(effects: dict[str, str], d: Decision) -> tuple[str, frozenset[str]]:
    """Outcome and deciding rules of an agentrange decision, in the reference's terms.

    ``effects`` maps rule ids to their effect: ``matched`` lists every enforced rule that
    matched, the reference keeps those of the deciding effect.
    """
    if d.reason is Reason.ALLOWED:
        return ALLOW, frozenset(r for r in d.matched if effects[r] == "allow")
    if d.reason is Reason.EXPLICIT_DENY:
        return DENY, frozenset(r for r in d.matched if effects[r] == "deny")
    if d.reason is Reason.NO_MATCHING_ALLOW:
        return NO_MATCH, frozenset(d.matched)
    return f"unexpected:{d.reason}", frozenset(d.errors)


# --- Cedar encoding --------------------------------------------------------------------------


def _cedar_principal(p: str) -> tuple[str, list[str]]:
    if p == "*":
        return "principal", []
    kind, _, value = p.partition(":")
    if kind == "role":
        return f'principal in Role::"{value}"', []
    if kind == "agent":
        return f'principal == Agent::"{value}"', []
    return "principal", [f'principal.kind == "{value}"']


def cedar_policy_text(w: Workload) -> str:
    """One permit/forbid per rule, in rule order (Cedar names them ``policy0`` ...).

    The rule id is a comment above each policy; results map back to rules by that position.
    """
    out = []
    for r in w.rules:
        scope_p, conds = _cedar_principal(r.principal)
        if r.tool == "*":
            scope_a = "action"
        elif r.tool.endswith(".*"):
            scope_a = f'action in Action::"{r.tool}"'
        else:
            scope_a = f'action == Action::"{r.tool}"'
        if r.data_class != "*":
            conds.append(f'resource.data_class == "{r.data_class}"')
        if r.records_gt is not None:
            conds.append(f"context.records > {r.records_gt}")
        if r.records_lte is not None:
            conds.append(f"context.records <= {r.records_lte}")
        if r.sens_gte is not None:
            conds.append(f"resource.sensitivity >= {r.sens_gte}")
        if r.sens_lte is not None:
            conds.append(f"resource.sensitivity <= {r.sens_lte}")
        if r.destination is not None:
            conds.append(f'context.destination == "{r.destination}"')
        if r.hours is not None:
            lo, hi = r.hours
            if lo <= hi:
                conds.append(f"context.hour >= {lo} && context.hour < {hi}")
            else:
                conds.append(f"(context.hour >= {lo} || context.hour < {hi})")
        if r.lacks_role is not None:
            conds.append(f'!(principal in Role::"{r.lacks_role}")')
        head = "permit" if r.effect == "allow" else "forbid"
        when = f"\nwhen {{ {' && '.join(conds)} }}" if conds else ""
        # A comment, not an @id annotation: annotations cost cedarpy time in every response.
        out.append(f"// {r.id}\n{head} ({scope_p}, {scope_a}, resource){when};")
    return "\n\n".join(out)


def cedar_entities(w: Workload) -> list[dict[str, Any]]:
    """Agents (kind; parents: their roles), roles, resources, tools and tool groups."""
    ents: list[dict[str, Any]] = [
        {"uid": {"type": "Role", "id": role}, "attrs": {}, "parents": []} for role in ROLES]
    for a in w.agents:
        ents.append({"uid": {"type": "Agent", "id": a.name}, "attrs": {"kind": a.kind},
                     "parents": [{"type": "Role", "id": r} for r in a.roles]})
    for r in RESOURCES:
        ents.append({"uid": {"type": "Resource", "id": r.id},
                     "attrs": {"data_class": r.data_class, "records": r.records,
                               "sensitivity": sensitivity(r.id)},
                     "parents": []})
    for p in PREFIXES:
        ents.append({"uid": {"type": "Action", "id": f"{p}.*"}, "attrs": {}, "parents": []})
    for t in TOOLS:
        group = {"type": "Action", "id": t.id.split(".")[0] + ".*"}
        ents.append({"uid": {"type": "Action", "id": t.id}, "attrs": {}, "parents": [group]})
    return ents


def cedar_requests(w: Workload) -> list[dict[str, Any]]:
    """Cedar requests with the context already serialised (cedarpy's cheapest input)."""
    return [{"principal": f'Agent::"{c.agent}"', "action": f'Action::"{c.tool}"',
             "resource": f'Resource::"{c.resource}"',
             "context": json.dumps({"records": c.records, "destination": c.destination,
                                    "hour": c.hour})}
            for c in w.calls]


@dataclass
class CedarSetup:
    """Policies and entities parsed once, and the prepared requests."""

    policies: Any
    entities: Any
    requests: list[dict[str, Any]]


def cedar_setup(w: Workload) -> CedarSetup:
    """Parse the Cedar policies and entities once (reused by every batch)."""
    import cedarpy

    policies = cedarpy.PolicySet.from_str(cedar_policy_text(w))
    entities = cedarpy.Entities.from_json_str(json.dumps(cedar_entities(w)))
    return CedarSetup(policies, entities, cedar_requests(w))


def run_cedar(setup: CedarSetup) -> list[Any]:
    """Decide every request with one ``is_authorized_batch`` call."""
    import cedarpy

    return cedarpy.is_authorized_batch(setup.requests, setup.policies, setup.entities)


def cedar_outcome(w: Workload, result: Any) -> tuple[str, frozenset[str]]:
    """Outcome and deciding rules of a Cedar result, in the reference's terms."""
    if result.diagnostics.errors:
        return f"error:{result.diagnostics.errors}", frozenset()
    ids = frozenset(w.rules[int(p.removeprefix("policy"))].id
                    for p in result.diagnostics.reasons)
    if result.allowed:
        return ALLOW, ids
    return (DENY if ids else NO_MATCH), ids


# --- Casbin encoding -------------------------------------------------------------------------

CASBIN_MODEL = """
[request_definition]
r = sub, act, dc, sens, rec, dest, hour

[policy_definition]
p = sub, act, dc, rgt, rlte, sgte, slte, dest, hlo, hhi, nrole, eft

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = keyMatch(r.act, p.act) && (p.dc == "*" || r.dc == p.dc) \
&& (p.sub == "*" || g(r.sub, p.sub)) \
&& r.rec > p.rgt && r.rec <= p.rlte && r.sens >= p.sgte && r.sens <= p.slte \
&& (p.dest == "*" || r.dest == p.dest) \
&& (p.hlo <= p.hhi && r.hour >= p.hlo && r.hour < p.hhi \
|| p.hlo > p.hhi && (r.hour >= p.hlo || r.hour < p.hhi)) \
&& (p.nrole == "" || !g(r.sub, p.nrole))
"""
"""One matcher for every rule: a p line leaves a condition out with a neutral value."""


def casbin_policy_lines(w: Workload) -> list[list[Any]]:
    """One ``p`` line per rule. Numbers stay ints (no string parsing in the matcher)."""
    lines = []
    for r in w.rules:
        p = r.principal
        sub = p.partition(":")[2] if p.startswith("agent:") else p
        lo, hi = r.hours if r.hours is not None else (0, 24)
        lines.append([
            sub, r.tool, r.data_class,
            -1 if r.records_gt is None else r.records_gt,
            NO_LIMIT if r.records_lte is None else r.records_lte,
            0 if r.sens_gte is None else r.sens_gte,
            3 if r.sens_lte is None else r.sens_lte,
            r.destination or "*", lo, hi, f"role:{r.lacks_role}" if r.lacks_role else "",
            "allow" if r.effect == "allow" else "deny",
        ])
    return lines


def casbin_grouping_lines(w: Workload) -> list[list[str]]:
    """``g`` lines: each agent is in ``role:<role>`` for its roles and in ``kind:<kind>``."""
    lines = []
    for a in w.agents:
        lines += [[a.name, f"role:{r}"] for r in a.roles]
        lines.append([a.name, f"kind:{a.kind}"])
    return lines


def casbin_requests(w: Workload) -> list[tuple[Any, ...]]:
    """Casbin request tuples (sub, act, dc, sens, rec, dest, hour)."""
    return [(c.agent, c.tool, RESOURCE_BY_ID[c.resource].data_class, sensitivity(c.resource),
             c.records, c.destination, c.hour) for c in w.calls]


def casbin_enforcer(w: Workload) -> Any:
    """An enforcer with the model, the p lines and the g lines loaded."""
    import logging

    import casbin  # type: ignore[import-untyped]

    model = casbin.Enforcer.new_model(text=CASBIN_MODEL)
    enforcer = casbin.Enforcer(model)
    # Casbin logs every denied request at WARNING; silence it as a deployment would.
    logging.getLogger("casbin").setLevel(logging.ERROR)
    enforcer.add_policies(casbin_policy_lines(w))
    enforcer.add_named_grouping_policies("g", casbin_grouping_lines(w))
    return enforcer


def run_casbin(enforcer: Any, requests: Sequence[tuple[Any, ...]]) -> list[bool]:
    """Decide every request with ``batch_enforce``."""
    return list(enforcer.batch_enforce(requests))


# --- running and checking --------------------------------------------------------------------


def run_agentrange(compiled: Any, requests: Sequence[Request],
                   session_last: frozenset[int] = frozenset()) -> list[Decision]:
    """Decide every request with a fresh engine, keeping every Decision (its explanation).

    ``session_last``: after these request indexes the session ends (its state is dropped).
    """
    engine = PolicyEngine(compiled)
    decide = engine.decide
    if not session_last:
        return [decide(r) for r in requests]
    out = []
    end = engine.end_session
    for i, r in enumerate(requests):
        out.append(decide(r))
        if i in session_last:
            end(r.session["id"])
    return out


@dataclass
class Agreement:
    """What the cross-check found."""

    checked: int
    counts: dict[str, int]
    """Reference outcomes by kind."""
    mismatched: set[int] = field(default_factory=set)
    """Indexes of the calls some engine got wrong."""
    examples: list[str] = field(default_factory=list)
    """The first disagreements, as text."""

    @property
    def ok(self) -> bool:
        """True when every engine agreed with the reference on every request."""
        return not self.mismatched

    def add(self, i: int, text: str, limit: int = 20) -> None:
        """Record that call ``i`` was decided differently (keeping the first few texts)."""
        self.mismatched.add(i)
        if len(self.examples) < limit:
            self.examples.append(text)


def check_agreement(w: Workload, reference: Sequence[tuple[str, frozenset[str]]],
                    engines: dict[str, Sequence[tuple[str, frozenset[str]] | bool]]
                    ) -> Agreement:
    """Compare each engine's outcome with the reference, call by call.

    An engine's answer is either (outcome, deciding rules) — compared in full — or a bool
    (allowed), compared with ``outcome == allow``.
    """
    result = Agreement(len(reference), {ALLOW: 0, DENY: 0, NO_MATCH: 0})
    for i, (outcome, rules) in enumerate(reference):
        result.counts[outcome] += 1
        for name, answers in engines.items():
            got = answers[i]
            if isinstance(got, bool):
                same = got == (outcome == ALLOW)
            else:
                same = got == (outcome, rules)
            if not same:
                result.add(i, f"call {i} {w.calls[i]}: reference {outcome} {sorted(rules)}, "
                              f"{name} {got}")
    return result


class GcClock:
    """Time spent in the cyclic garbage collector while switched on (via ``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.timed = 0.0
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def run(self, fn: Callable[[], Any]) -> tuple[float, Any]:
        """Call ``fn``; its wall time (collections included) and result."""
        gc.callbacks.append(self._callback)
        start = time.perf_counter()
        try:
            result = fn()
        finally:
            elapsed = time.perf_counter() - start
            gc.callbacks.remove(self._callback)
        self.timed += elapsed
        return elapsed, result

    @property
    def share(self) -> float:
        """Collector time as a share of the timed calls."""
        return self.seconds / self.timed if self.timed else 0.0


def timed(fn: Callable[[], Any], repeats: int, clock: GcClock | None = None
          ) -> tuple[float, Any]:
    """Median wall time of ``fn`` over ``repeats`` runs, and the last result."""
    clock = clock or GcClock()
    times = []
    result = None
    for _ in range(repeats):
        elapsed, result = clock.run(fn)
        times.append(elapsed)
    return statistics.median(times), result


@dataclass
class Report:
    """Figures of one benchmark run."""

    sizes: Sizes
    agreement: Agreement
    sequence_agreement: Agreement
    rates: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def run(sizes: Sizes, seed: int, *, repeats: int | None = None, cedar_repeats: int | None = None,
        casbin_repeats: int = 1, time_it: bool = True, freeze: bool = True,
        out: Callable[[str], None] = print) -> Report:
    """Build the workload, cross-check the three engines, and time them.

    Args:
        sizes: Agents, rules, requests and repeats.
        seed: The workload seed.
        repeats: Override ``sizes.repeats`` (agentrange).
        cedar_repeats: Repeats for cedarpy (default: ``sizes.cedar_repeats``).
        casbin_repeats: Repeats for PyCasbin (it is by far the slowest).
        time_it: False: decide once per engine and check agreement only.
        freeze: Freeze the setup heap (``gc.freeze()``) before timing.
        out: Where lines go.
    """
    reps = repeats or sizes.repeats
    cedar_reps = cedar_repeats or sizes.cedar_repeats
    if not time_it:
        reps = cedar_reps = casbin_repeats = 1
    t0 = time.perf_counter()
    w = make_workload(sizes, seed)
    scenario = build_scenario(w)
    compiled = compile_agentrange(w, scenario, sequences=False)
    compiled_seq = compile_agentrange(w, scenario, sequences=True)
    requests = agentrange_requests(w, scenario)
    cedar = cedar_setup(w)
    enforcer = casbin_enforcer(w)
    casbin_reqs = casbin_requests(w)
    reference = [reference_outcome(w, c) for c in w.calls]
    setup_s = time.perf_counter() - t0
    n = len(w.calls)
    out(f"workload: seed {seed}, {len(w.rules)} rules ({_rule_mix(w)}), {len(w.agents)} agents "
        f"in {len(ROLES)} roles, {len(TOOLS)} tools, {len(DATA_CLASSES)} data classes, "
        f"{n} requests in {len(w.session_last)} sessions (setup {setup_s:.1f} s)")

    freeze = freeze and time_it
    if freeze:
        # What setup built (three engines' workloads) stays for the whole run: moved out of
        # the collector's way, as a long-running decision point does after loading.
        gc.collect()
        gc.freeze()
    clocks = {"fresh": GcClock(), "steady": GcClock()}
    ar_s, ar_decisions = timed(lambda: run_agentrange(compiled, requests), reps,
                               clocks["fresh"])
    cedar_s, cedar_results = timed(lambda: run_cedar(cedar), cedar_reps)
    casbin_s, casbin_results = timed(lambda: run_casbin(enforcer, casbin_reqs), casbin_repeats)
    base_allowed = [o == ALLOW for o, _ in reference]
    seq_s, seq_decisions = timed(
        lambda: run_agentrange(compiled_seq, requests, w.session_last), reps, clocks["fresh"])
    warm_s, warm_decisions, seq_warm_s = 1.0, ar_decisions, 1.0
    seq_warm_decisions: list[Decision] = []
    if time_it:
        warmup = warmup_requests(w, scenario)
        warm_s, warm_decisions = timed_steady(compiled, warmup, requests, frozenset(), reps,
                                              clocks["steady"])
        seq_warm_s, seq_warm_decisions = timed_steady(compiled_seq, warmup, requests,
                                                      w.session_last, reps, clocks["steady"])
        seen_s = timed_seen(compiled, warmup, requests, reps)
        floor_s = timed_floor(requests, ar_decisions[_first_failed(ar_decisions)], reps)

    # A decision keeps its explanation as the stop set it was read off; the lists of matched,
    # shadow and failed rules are spelled out as tuples when first read (once per distinct
    # explanation). What spelling out every kept decision costs, measured apart:
    start = time.perf_counter()
    for d in ar_decisions:
        d.matched, d.shadow, d.failed  # noqa: B018 - reading is the point
    spell_s = time.perf_counter() - start
    effects = {r.id: r.effect for r in w.rules}
    agreement = check_agreement(w, reference, {
        "agentrange": [agentrange_outcome(effects, d) for d in ar_decisions],
        "agentrange (warmed)": [agentrange_outcome(effects, d) for d in warm_decisions],
        "cedar": [cedar_outcome(w, r) for r in cedar_results],
        "casbin": casbin_results,
    })
    seq_reference = reference_sequence_allowed(w, base_allowed)
    runs = {"agentrange": seq_decisions}
    if seq_warm_decisions:
        runs["agentrange (warmed)"] = seq_warm_decisions
    seq_agreement = _check_sequences(w, seq_reference, runs)

    report = Report(sizes, agreement, seq_agreement)
    report.rates = {"agentrange": n / ar_s, "agentrange_steady": n / warm_s,
                    "cedarpy": n / cedar_s, "casbin": n / casbin_s,
                    "agentrange_sequences": n / seq_s,
                    "agentrange_sequences_steady": n / seq_warm_s}
    if time_it:
        report.rates.update({"agentrange_seen": n / seen_s, "floor": n / floor_s})
    report.extra = {"sequence_denials": sum(1 for d in seq_decisions
                                            if d.reason is Reason.SEQUENCE),
                    "gc_share": {mode: c.share for mode, c in clocks.items()},
                    "frozen": freeze,
                    "explanation": ar_decisions[_first_failed(ar_decisions)].explain(),
                    "spell_us": spell_s / n * 1e6}
    if time_it:
        # The simulator, the engine's main user, runs with fewer young-generation passes
        # (its hot path and the engine's make no reference cycles): the same passes again.
        from sim.runner import fewer_gc_passes
        with fewer_gc_passes():
            sim_fresh, _ = timed(lambda: run_agentrange(compiled, requests), reps)
            sim_steady, _ = timed_steady(compiled, warmup, requests, frozenset(), reps)
            sim_seq, _ = timed_steady(compiled_seq, warmup, requests, w.session_last, reps)
            threshold = gc.get_threshold()[0]
        report.extra["sim_gc"] = (threshold, n / sim_fresh, n / sim_steady, n / sim_seq)
    if freeze:
        gc.unfreeze()
    _print_agreement(out, agreement, seq_agreement, report.extra["sequence_denials"])
    if time_it:
        _print_rates(out, report, (reps, cedar_reps, casbin_repeats))
    return report


def warmup_requests(w: Workload, scenario: Scenario) -> tuple[list[Request], frozenset[int]]:
    """As many other requests of the same fleet (another seed), to warm an engine with."""
    calls, last = make_calls(random.Random(w.seed + 1_000_003), w.agents, len(w.calls))
    other = Workload(w.seed, w.agents, w.rules, w.sequences, calls, last)
    return agentrange_requests(other, scenario), last


def timed_steady(compiled: Any, warmup: tuple[list[Request], frozenset[int]],
                 requests: Sequence[Request], session_last: frozenset[int], repeats: int,
                 clock: GcClock | None = None) -> tuple[float, list[Decision]]:
    """Median time of one pass over ``requests`` by an engine that has already decided others.

    The engine first decides the warm-up requests (untimed), so its compiled caches are
    warm, then its session state is reset; each repeat starts from a new engine.
    """
    times = []
    decisions: list[Decision] = []
    for _ in range(repeats):
        engine = PolicyEngine(compiled)
        for i, r in enumerate(warmup[0]):
            engine.decide(r)
            if i in warmup[1]:
                engine.end_session(r.session["id"])
        engine.reset()
        decide, end = engine.decide, engine.end_session

        def one_pass(decide: Callable[[Request], Decision] = decide,
                     end: Callable[[str], None] = end) -> list[Decision]:
            if not session_last:
                return [decide(r) for r in requests]
            out = []
            for i, r in enumerate(requests):
                out.append(decide(r))
                if i in session_last:
                    end(r.session["id"])
            return out

        elapsed, decisions = (clock or GcClock()).run(one_pass)
        times.append(elapsed)
    return statistics.median(times), decisions


def timed_seen(compiled: Any, warmup: tuple[list[Request], frozenset[int]],
               requests: Sequence[Request], repeats: int) -> float:
    """Median time of a pass over ``requests`` by an engine that has decided them all before.

    Every candidate set, class, explanation and shared decision is then memoised: the
    memo design's best case (its ceiling), not a figure for the targets.
    """
    times = []
    for _ in range(repeats):
        engine = PolicyEngine(compiled)
        decide = engine.decide
        for r in (*warmup[0], *requests):
            decide(r)
        elapsed, _ = GcClock().run(lambda decide=decide: [decide(r) for r in requests])
        times.append(elapsed)
    return statistics.median(times)


def timed_floor(requests: Sequence[Request], like: Decision, repeats: int) -> float:
    """Median time of CPython's floor for this workload: nothing decided, nothing explained.

    Per request only what any decision point returning decisions that carry each request's
    own attribute values must do: check the token, find the candidate rules (one dict lookup
    by the request's agent, tool and resource views and action, filled beforehand), read the
    attribute values the conditions name, and build one Decision (on ``like``'s shared
    explanation) holding them. A hand-written loop with no calls of its own.
    """
    static = {}
    for r in requests:
        p, t, res = r.principal, r.tool, r.resource
        static[(id(p), id(t), id(res), r.action)] = (
            p, t, res, (res.get("sensitivity"), p.get("roles")) if res is not None else None)
    make, core = Decision._make, like._core  # the engine's own constructor and explanation

    def one_pass() -> list[Decision]:
        out = []
        append = out.append
        for req in requests:
            if req.token.get("valid") is not True:
                continue
            p, t, res = req.principal, req.tool, req.resource
            known = static.get((id(p), id(t), id(res), req.action))
            if known is None or known[0] is not p or known[1] is not t or known[2] is not res:
                continue
            # The per-request paths the conditions read; the view's were read beforehand.
            step = req.request
            values = (step.get("records"), step.get("destination"), req.time.get("hour"),
                      known[3])
            append(make(core, values, None))
        return out

    times = []
    for _ in range(repeats):
        elapsed, out = GcClock().run(one_pass)
        assert len(out) == len(requests)
        times.append(elapsed)
    return statistics.median(times)


def _rule_mix(w: Workload) -> str:
    allows = sum(1 for r in w.rules if r.effect == "allow")
    return f"{allows} allow, {len(w.rules) - allows} deny"


def _first_failed(decisions: Sequence[Decision]) -> int:
    for i, d in enumerate(decisions):
        if d.failed and d.effect is Effect.ALLOW:
            return i
    return 0


def _check_sequences(w: Workload, expected: Sequence[bool],
                     runs: dict[str, Sequence[Decision]]) -> Agreement:
    result = Agreement(len(expected), {ALLOW: 0, "not_allow": 0})
    for i, want in enumerate(expected):
        result.counts[ALLOW if want else "not_allow"] += 1
        for name, decisions in runs.items():
            d = decisions[i]
            if want != (d.effect is Effect.ALLOW):
                result.add(i, f"call {i} {w.calls[i]}: reference allowed={want}, {name} "
                              f"{d.headline()}")
    return result


def _print_agreement(out: Callable[[str], None], a: Agreement, s: Agreement,
                     seq_denials: int) -> None:
    c = a.counts
    out(f"decisions: {c[ALLOW]} allow, {c[DENY]} explicit deny, {c[NO_MATCH]} no match "
        f"(default deny)")
    if a.ok:
        out(f"agreement: agentrange, cedarpy and PyCasbin agree with the reference on all "
            f"{a.checked} requests (agentrange and Cedar also on the deciding rules)")
    else:
        out(f"DISAGREEMENT on {len(a.mismatched)} of {a.checked} requests:")
        for line in a.examples:
            out(f"  {line}")
    if s.ok:
        out(f"sequences: agentrange agrees with the sequence reference on all {s.checked} "
            f"requests ({seq_denials} denied by a sequence rule)")
    else:
        out(f"SEQUENCE DISAGREEMENT on {len(s.mismatched)} of {s.checked} requests:")
        for line in s.examples:
            out(f"  {line}")


def _print_rates(out: Callable[[str], None], r: Report, reps: tuple[int, int, int]) -> None:
    rates = r.rates
    out(f"machine: {os.cpu_count()} cores, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.machine()}, load average "
        f"{os.getloadavg()[0]:.1f} (a shared machine's figures are lower when it is high)")
    out(f"decisions/s, median of {reps[0]} repeats (cedarpy: {reps[1]}, PyCasbin: {reps[2]}); "
        "every decision kept:")
    rows = (
        ("agentrange, fresh engine (cold caches)", "agentrange"),
        ("agentrange, steady (engine warmed on other requests)", "agentrange_steady"),
        ("cedarpy is_authorized_batch (policies parsed once)", "cedarpy"),
        ("PyCasbin batch_enforce", "casbin"),
    )
    for label, key in rows:
        out(f"  {label:<58}{rates[key]:>12,.0f}")
    out(f"agentrange with session tracking and {len(SEQUENCES)} sequence rules (no peer has them):")
    out(f"  {'fresh engine (cold caches)':<58}{rates['agentrange_sequences']:>12,.0f}")
    out(f"  {'steady (engine warmed on other requests)':<58}"
        f"{rates['agentrange_sequences_steady']:>12,.0f}")
    cedar, casbin = rates["cedarpy"], rates["casbin"]
    out(f"ratios: agentrange / cedarpy = {rates['agentrange'] / cedar:.1f}x fresh, "
        f"{rates['agentrange_steady'] / cedar:.1f}x steady; agentrange / PyCasbin = "
        f"{rates['agentrange'] / casbin:.0f}x fresh; cedarpy / PyCasbin = {cedar / casbin:.0f}x")
    shares = r.extra["gc_share"]
    out(f"agentrange explanations spelled out afterwards (matched, shadow and failed rules of "
        f"every kept decision, as tuples): {r.extra['spell_us']:.2f} us per decision")
    out(f"agentrange time in the cyclic garbage collector: {shares['fresh']:.0%} fresh, "
        f"{shares['steady']:.0%} steady"
        + (" (setup heap frozen with gc.freeze() before timing)" if r.extra["frozen"]
           else " (--no-freeze: setup heap not frozen)"))
    if "sim_gc" in r.extra:
        threshold, fresh, steady, seq_steady = r.extra["sim_gc"]
        out(f"agentrange with the simulator's collector setting (young generation every "
            f"{threshold:,} allocations): {fresh:,.0f} fresh, {steady:,.0f} steady, "
            f"{seq_steady:,.0f} steady with sequences")
    budget = 1e6 / TARGET_RATE
    out(f"the {TARGET_RATE:,.0f}/s target leaves {budget:.2f} us per decision; against it, "
        "measured in this run:")
    for label, key in (
            ("agentrange, every explanation already seen (the ceiling of its memo)",
             "agentrange_seen"),
            ("CPython floor: read each request's values, build its Decision, decide nothing",
             "floor")):
        out(f"  {label:<78}{rates[key]:>10,.0f}/s = {1e6 / rates[key]:.2f} us")
    for mode, suffix in (("fresh", ""), ("steady", "_steady")):
        rate, seq = rates["agentrange" + suffix], rates["agentrange_sequences" + suffix]
        checks = (
            (f"agentrange >= {TARGET_RATE:,.0f}/s", rate >= TARGET_RATE),
            (f"agentrange >= {TARGET_VS_CEDAR:.0f}x cedarpy", rate / cedar >= TARGET_VS_CEDAR),
            (f"with sequences >= {TARGET_SEQUENCE_RATE:,.0f}/s", seq >= TARGET_SEQUENCE_RATE),
        )
        out(f"targets ({mode}): " + "; ".join(
            f"{label} {'met' if met else 'NOT met'}" for label, met in checks))


PROFILE_MODES = ("fresh", "steady", "sequences", "sequences-steady")


def profile(sizes: Sizes, seed: int, mode: str) -> None:
    """Profile agentrange deciding the workload with pyinstrument and print the call tree.

    Args:
        sizes: Workload sizes (the profile covers ``sizes.repeats`` passes).
        seed: Workload seed.
        mode: ``fresh`` (a new engine per pass), ``steady`` (an engine warmed on other
            requests, as in the benchmark), and the same two with the sequence rules.
    """
    from pyinstrument import Profiler

    sequences = mode.startswith("sequences")
    w = make_workload(sizes, seed)
    scenario = build_scenario(w)
    compiled = compile_agentrange(w, scenario, sequences=sequences)
    requests = agentrange_requests(w, scenario)
    ends = w.session_last if sequences else frozenset()
    warmup = warmup_requests(w, scenario) if mode.endswith("steady") else None
    profiler = Profiler(interval=0.0002)
    for _ in range(sizes.repeats):
        if warmup is None:
            profiler.start()
            run_agentrange(compiled, requests, ends)
        else:
            # timed_steady warms untimed; profile only its timed pass.
            engine = PolicyEngine(compiled)
            for r in warmup[0]:
                engine.decide(r)
            engine.reset()
            profiler.start()
            for i, r in enumerate(requests):
                engine.decide(r)
                if i in ends:
                    engine.end_session(r.session["id"])
        profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (a couple of seconds)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=None,
                        help="agentrange repeats (default 5; quick 3)")
    parser.add_argument("--cedar-repeats", type=int, default=None,
                        help="cedarpy repeats (default 3: ~20 s each at full size)")
    parser.add_argument("--casbin-repeats", type=int, default=1,
                        help="PyCasbin repeats (default 1: ~100 s at full size)")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the setup heap to the cycle collector (no gc.freeze())")
    parser.add_argument("--profile", choices=PROFILE_MODES, default=None,
                        help="profile agentrange with pyinstrument instead of benchmarking")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.profile:
        profile(sizes, args.seed, args.profile)
        return 0
    report = run(sizes, args.seed, repeats=args.repeats, cedar_repeats=args.cedar_repeats,
                 casbin_repeats=args.casbin_repeats, freeze=not args.no_freeze)
    if not (report.agreement.ok and report.sequence_agreement.ok):
        print("FAILED: the engines disagree (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
