"""The seeded workload: agents, rules in seven families, sequence rules and sessions of calls.

Rules are kept in a neutral form (:class:`RuleSpec`) from which the reference and the three
encodings are built; one ``random.Random(seed)`` makes the whole workload.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.pdp.estate import (
    EXTERNAL_TOOLS,
    GUARDED_TOOLS,
    PREFIXES,
    ROLES,
    TOOL_BY_ID,
    TOOLS,
    VENDORS,
    AgentSpec,
    tool_data_classes,
)


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
