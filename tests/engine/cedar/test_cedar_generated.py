"""The native engine and Cedar (through the exporter) agree on generated policies and runs.

Hypothesis generates policies (rules with targets and nested conditions over every
namespace, shadow rules, obligations, counters, sequence rules, delegation settings) and runs
of requests, including absent attributes, invalid tokens and delegation chains. For every
request the Cedar engine must give the native engine's effect, reason and deciding rule,
the same obligations, shadow matches, completed sequences and restricting hop, the same rules
skipped because a condition could not be evaluated, and matched rules that are the native
ones (all of them when the request is allowed: Cedar names only its determining policies).
"""

from __future__ import annotations

import re
from typing import Any

from cedar_support import AGENTS, TOOLS, engines, make_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NUMS = [0, 1, 5, 10, 100]

ATOMS: list[tuple[str, str, Any]] = [
    *(("request.records", op, v) for op in ("lt", "lte", "gt", "gte", "eq", "ne")
      for v in [*NUMS, 2.5]),
    ("request.records", "in", [1, 10, 2.5]),
    ("request.records", "not_in", [0, 5]),
    ("request.amount", "gt", 50.5),
    ("request.amount", "lte", 100),
    ("request.amount", "eq", None),
    ("request.amount", "eq", 50.5),
    ("request.amount", "in", [0, 200]),
    ("request.amount", "exists", True),
    ("request.destination", "eq", "external"),
    ("request.destination", "ne", "internal"),
    ("request.destination", "in", ["internal"]),
    ("request.destination", "not_in", ["external"]),
    ("request.recipient", "glob", "*@acme.example"),
    ("request.recipient", "eq", "customer"),
    ("request.recipient", "contains", "@"),
    ("request.recipient", "ne", None),
    ("request.attributes.x", "eq", 1),
    ("request.attributes.x", "lt", 3),
    ("request.attributes.x", "gte", 1.5),
    ("request.attributes.x", "in", [1, 2]),
    ("request.attributes.x", "not_in", [2]),
    ("request.attributes.x", "exists", True),
    ("request.attributes.label", "glob", "a*"),
    ("request.attributes.label", "eq", "b"),
    ("resource.sensitivity", "gte", "confidential"),
    ("resource.sensitivity", "lt", "restricted"),
    ("resource.data_class", "in", ["pii", "kb"]),
    ("resource.records", "gt", 10),
    ("resource.id", "exists", True),
    ("resource.id", "glob", "crm.*"),
    ("resource.system", "eq", "crm"),
    ("tool.risk", "gte", "high"),
    ("tool.egress", "eq", "external"),
    ("tool.customer_facing", "eq", False),
    ("tool.id", "glob", "*.send"),
    ("principal.kind", "in", ["internal", "vendor_hosted"]),
    ("principal.roles", "contains", "support"),
    ("principal.vendor", "exists", False),
    ("principal.vendor", "eq", "v1"),
    ("principal.owners.business", "eq", "biz1"),
    ("principal.owners.incident", "exists", True),
    ("principal.id", "glob", "*-bot"),
    ("task.approved", "eq", True),
    ("task.step", "lte", 2),
    ("task.id", "eq", "t1"),
    ("token.ttl_remaining", "lt", "5m"),
    ("token.age", "gte", 60),
    ("token.scope", "contains", "tool:*"),
    ("token.mode", "eq", "jit"),
    ("token.task_id", "exists", False),
    ("time.hour", "lt", 1),
    ("time.now", "gte", 30),
    ("time.now", "lt", 12.345),
    ("chain.depth", "gt", 0),
    ("chain.actors", "contains", "ops-bot"),
    ("action", "eq", "read"),
    ("action", "glob", "re*"),
]
COUNTER_ATOMS = [("counter.c0", op, v) for op in ("lte", "gt") for v in (0, 1, 2, 5, 10)] + [
    ("counter.c1", "lt", 3), ("counter.c1", "gte", 100.5)]

PRINCIPALS = ["support-bot", "role:support", "role:r*", "kind:internal", "*-bot",
              "agent:ops-bot", "kind:vendor_hosted", "role:nobody*"]
ACTIONS = ["read", "send", "export", "write", "re*"]
TOOL_PATTERNS = [*TOOLS, "crm.*", "*.send", "*"]
RESOURCES = ["crm.customers", "helpdesk.tickets", "vault.keys", "kb.*"]
CLASSES = ["pii", "kb", "ticket", "creds", "p*"]


def atom(pool: list[tuple[str, str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(pool).map(lambda a: {"attr": a[0], a[1]: a[2]})


def conditions(pool: list[tuple[str, str, Any]]) -> st.SearchStrategy[Any]:
    return st.recursive(
        atom(pool),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c}),
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c}),
            inner.map(lambda c: {"not": c}),
        ),
        max_leaves=4,
    )


def when(pool: list[tuple[str, str, Any]]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), conditions(pool),
                     st.lists(conditions(pool), min_size=1, max_size=3))


WHEN = {n: when(ATOMS + [a for a in COUNTER_ATOMS if int(a[0][-1]) < n]) for n in (0, 1, 2)}


@st.composite
def targets(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for facet, pool in (("principals", PRINCIPALS), ("actions", ACTIONS),
                        ("tools", TOOL_PATTERNS), ("resources", RESOURCES),
                        ("data_classes", CLASSES)):
        if draw(st.integers(0, 3)) == 0:
            out[facet] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2,
                                       unique=True))
    return out


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    counters = []
    for i in range(draw(st.integers(0, 2))):
        counters.append({
            "id": f"c{i}",
            "scope": draw(st.sampled_from(["session", "chain", "agent", "task"])),
            "measure": draw(st.sampled_from(["count", "request.records", "request.amount"])),
            **({"window": w} if (w := draw(st.sampled_from([None, 10, 50]))) else {}),
            "target": draw(targets()),
        })
    rules = []
    for i in range(draw(st.integers(1, 8))):
        rule: dict[str, Any] = {
            "id": f"r{i}",
            "envelope": draw(st.sampled_from(["business", "security", "legal"])),
            "effect": draw(st.sampled_from(["allow", "allow", "deny", "require_approval"])),
            "target": draw(targets()),
        }
        if draw(st.integers(0, 4)) == 0:
            rule["mode"] = "shadow"
        if draw(st.integers(0, 3)) == 0:
            rule["obligations"] = draw(st.lists(st.sampled_from(["log", "notify"]),
                                                min_size=1, max_size=2, unique=True))
        if (w := draw(WHEN[len(counters)])) is not None:
            rule["when"] = w
        rules.append(rule)
    if draw(st.booleans()):
        rules.append({"id": "base", "envelope": "business", "effect": "allow"})
    sequences = []
    for i in range(draw(st.integers(0, 2))):
        steps = []
        for _ in range(draw(st.integers(2, 3))):
            facet = draw(st.sampled_from(["tools", "actions"]))
            pool = TOOLS if facet == "tools" else ACTIONS[:4]
            steps.append({"target": {facet: draw(st.lists(st.sampled_from(pool), min_size=1,
                                                          max_size=3, unique=True))}})
        sequences.append({
            "id": f"s{i}", "envelope": "security",
            "effect": draw(st.sampled_from(["deny", "require_approval"])),
            "mode": draw(st.sampled_from(["enforce", "enforce", "shadow"])),
            "scope": draw(st.sampled_from(["session", "chain", "agent"])),
            "window": draw(st.sampled_from([5, 100, 1000])), "steps": steps,
        })
    return {"policy": "generated", "legal_owner": "dpo",
            "delegation": {"max_depth": draw(st.sampled_from([None, 1, 2])),
                           "attenuation": draw(st.booleans())},
            "counters": counters, "rules": rules, "sequences": sequences}


@st.composite
def runs(draw: st.DrawFn) -> list[dict[str, Any]]:
    now = 0.0
    out = []
    for _ in range(draw(st.integers(1, 10))):
        now += draw(st.sampled_from([0, 1, 3, 10, 40, 0.0004]))
        agent = draw(st.sampled_from(AGENTS))
        chain = draw(st.sampled_from([None, None, 1, 2]))
        actors = None
        if chain is not None:
            actors = [agent, *draw(st.lists(st.sampled_from(AGENTS), min_size=chain,
                                            max_size=chain))]
        out.append({
            "agent": agent,
            "tool": draw(st.sampled_from(TOOLS)),
            "resource": draw(st.sampled_from([True, True, True, False])),
            "records": draw(st.sampled_from([*NUMS, 2, 101])),
            "amount": draw(st.sampled_from([None, 0, 50.5, 100, 200, 12.34567])),
            "destination": draw(st.sampled_from([None, "internal", "external"])),
            "recipient": draw(st.sampled_from([None, "customer", "a@acme.example",
                                               "x@evil.example"])),
            "attributes": draw(st.sampled_from([{}, {"x": 1}, {"x": 2}, {"x": 5},
                                                {"label": "a"}, {"x": 1, "label": "b"}])),
            "now": now,
            "session": draw(st.sampled_from(["s1", "s2"])),
            "task": draw(st.sampled_from(["t1", "t2"])),
            "approved": draw(st.booleans()),
            "chain": actors,
            "token": None if draw(st.integers(0, 19)) else {"valid": False, "reason": "expired"},
            "ref": len(out),
            "step": draw(st.sampled_from([1, 2, 3])),
            "commit": draw(st.booleans()),
        })
    return out


def skipped(errors: tuple[str, ...]) -> list[str]:
    return sorted(m.group(1) for e in errors if (m := re.match(r"rule (\S+) skipped", e)))


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(policy=policies(), run=runs())
def test_cedar_decides_as_the_native_engine_on_generated_policies(
        policy: dict[str, Any], run: list[dict[str, Any]]) -> None:
    native, cedar = engines(policy)
    for step in run:
        commit = step.pop("commit")
        req = make_request(**step)
        want, got = native.decide(req), cedar.decide(req)
        context = f"request {step}\nnative: {want.explain()}\ncedar: {got.explain()}"
        assert (got.effect, got.reason, got.rule) == (want.effect, want.reason, want.rule), \
            context
        assert got.obligations == want.obligations, context
        assert (got.envelope, got.owner) == (want.envelope, want.owner), context
        assert got.shadow == want.shadow, context
        assert [s.sequence for s in got.sequences] == [s.sequence for s in want.sequences], \
            context
        assert got.sequences == want.sequences, context
        assert (got.chain, got.hop) == (want.chain, want.hop), context
        assert skipped(got.errors) == skipped(want.errors), context
        assert set(got.matched) <= set(want.matched), context
        if str(want.effect) == "allow":
            assert got.matched == want.matched, context
        if commit and str(want.effect) == "require_approval":
            native.commit(req)
            cedar.commit(req)
