"""The compiled engine agrees with the plain reference evaluator on generated policies.

Hypothesis generates policies (rules with targets and nested conditions, shadow rules,
counters, sequence rules, delegation settings) and runs of requests against the small test
scenario; every decision of the compiled, indexed, memoised engine must agree with the
reference on effect, reason, deciding rule, matched rules, shadow matches, failed conditions
(with actual values), errored rules, completed sequences and the restricting hop.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_reference import Reference
from policy_support import AGENTS, SCENARIO_MODEL, TOOLS, make_request

from engine.loader import as_tuples
from engine.policy import PolicyEngine, compile_policy
from engine.policy.model import PolicyDocument

NUMS = [0, 1, 5, 10, 100]

ATOMS: list[tuple[str, str, Any]] = [
    *(("request.records", op, v) for op in ("lt", "lte", "gt", "gte", "eq", "ne")
      for v in NUMS),
    ("request.records", "in", [1, 10]),
    ("request.records", "not_in", [0, 5]),
    ("request.amount", "gt", 50.5),
    ("request.amount", "lte", 100),
    ("request.amount", "eq", None),
    ("request.destination", "eq", "external"),
    ("request.destination", "ne", "internal"),
    ("request.destination", "in", ["internal"]),
    ("request.recipient", "glob", "*@acme.example"),
    ("request.recipient", "eq", "customer"),
    ("request.recipient", "contains", "@"),
    ("request.attributes.x", "eq", 1),
    ("request.attributes.x", "eq", "a"),
    ("request.attributes.x", "lt", 3),
    ("request.attributes.x", "glob", "a*"),
    ("request.attributes.x", "in", [1, "a", True]),
    ("request.attributes.x", "contains", "a"),
    ("request.attributes.x", "exists", True),
    ("resource.sensitivity", "gte", "confidential"),
    ("resource.sensitivity", "lt", "restricted"),
    ("resource.data_class", "in", ["pii", "kb"]),
    ("resource.records", "gt", 10),
    ("resource.id", "exists", True),
    ("tool.risk", "gte", "high"),
    ("tool.egress", "eq", "external"),
    ("tool.customer_facing", "eq", False),
    ("principal.kind", "in", ["internal", "vendor_hosted"]),
    ("principal.roles", "contains", "support"),
    ("principal.vendor", "exists", False),
    ("principal.owners.business", "eq", "biz1"),
    ("task.approved", "eq", True),
    ("task.step", "lte", 2),
    ("token.ttl_remaining", "lt", "5m"),
    ("token.age", "gte", 60),
    ("token.scope", "contains", "tool:*"),
    ("time.hour", "lt", 1),
    ("time.now", "gte", 30),
    ("chain.depth", "gt", 0),
    ("chain.actors", "contains", "ops-bot"),
    ("action", "eq", "read"),
]
COUNTER_ATOMS = [("counter.c0", op, v) for op in ("lte", "gt") for v in (0, 1, 2, 5, 10)] + [
    ("counter.c1", "lt", 3), ("counter.c1", "gte", 100)]

PRINCIPALS = ["support-bot", "role:support", "role:r*", "kind:internal", "*-bot",
              "agent:ops-bot", "kind:vendor_hosted"]
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


# Built once: constructing recursive strategies inside every draw is what makes tests slow.
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
def step_targets(draw: st.DrawFn) -> dict[str, Any]:
    """Broad single-facet targets, so that generated runs complete sequences often."""
    facet, pool = draw(st.sampled_from([("tools", TOOLS), ("data_classes", CLASSES[:4]),
                                        ("actions", ACTIONS[:4])]))
    return {facet: draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))}


@st.composite
def policies(draw: st.DrawFn, stateful: bool = True) -> dict[str, Any]:
    counters = []
    for i in range(draw(st.integers(0, 2)) if stateful else 0):
        counters.append({
            "id": f"c{i}",
            "scope": draw(st.sampled_from(["session", "chain", "agent", "task"])),
            "measure": draw(st.sampled_from(["count", "request.records", "request.amount"])),
            **({"window": w} if (w := draw(st.sampled_from([None, 10, 50]))) else {}),
            "target": draw(targets()),
        })
    rule_when = WHEN[len(counters)]
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
        if (w := draw(rule_when)) is not None:
            rule["when"] = w
        rules.append(rule)
    if draw(st.booleans()):
        # A catch-all allow lets requests execute, so that counters and sequences advance.
        rules.append({"id": "base", "envelope": "business", "effect": "allow"})
    sequences = []
    for i in range(draw(st.integers(0, 3)) if stateful else 0):
        steps = []
        for _ in range(draw(st.integers(2, 3))):
            step: dict[str, Any] = {"target": draw(step_targets())}
            if draw(st.integers(0, 3)) == 0 and (w := draw(WHEN[0])) is not None:
                step["when"] = w
            steps.append(step)
        sequences.append({
            "id": f"s{i}",
            "envelope": draw(st.sampled_from(["security", "legal"])),
            "effect": draw(st.sampled_from(["deny", "require_approval"])),
            "mode": draw(st.sampled_from(["enforce", "enforce", "shadow"])),
            "scope": draw(st.sampled_from(["session", "chain", "agent"])),
            "window": draw(st.sampled_from([5, 30, 100, 1000])),
            "steps": steps,
        })
    return {
        "policy": "generated",
        "legal_owner": "dpo",
        "delegation": {"max_depth": draw(st.sampled_from([None, 1, 2])),
                       "attenuation": draw(st.booleans())},
        "counters": counters,
        "rules": rules,
        "sequences": sequences,
    }


@st.composite
def runs(draw: st.DrawFn) -> list[dict[str, Any]]:
    now = 0.0
    out = []
    for _ in range(draw(st.integers(1, 12))):
        now += draw(st.sampled_from([0, 1, 3, 10, 40]))
        agent = draw(st.sampled_from(AGENTS))
        chain = draw(st.sampled_from([None, None, 1, 2]))
        actors = None
        if chain is not None:
            actors = [agent, *draw(st.lists(st.sampled_from(AGENTS), min_size=chain,
                                            max_size=chain))]
        out.append({
            "agent": agent,
            "tool": draw(st.sampled_from(TOOLS)),
            "resource": draw(st.sampled_from([True, True, True, None])),
            "records": draw(st.sampled_from([*NUMS, 2, 101, "many"])),
            "amount": draw(st.sampled_from([None, 0, 50.5, 100, 200])),
            "destination": draw(st.sampled_from([None, "internal", "external"])),
            "recipient": draw(st.sampled_from([None, "customer", "a@acme.example",
                                               "x@evil.example"])),
            "attributes": draw(st.sampled_from([{}, {"x": 1}, {"x": 2.5}, {"x": "a"},
                                                {"x": "b"}, {"x": True}, {"x": None}])),
            "now": now,
            "session": draw(st.sampled_from(["s1", "s2"])),
            "task": draw(st.sampled_from(["t1", "t2"])),
            "approved": draw(st.booleans()),
            "chain": actors,
            "chain_id": draw(st.sampled_from([None, "c1"])),
            "token": None if draw(st.integers(0, 19)) else {"valid": False, "reason": "expired"},
            "ref": len(out),
            "commit": draw(st.booleans()),
        })
    return out


def _errored(errors: tuple[str, ...]) -> list[str]:
    return [m.group(1) for e in errors if (m := re.match(r"rule (\S+) skipped", e))]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), run=runs())
def test_compiled_engine_agrees_with_reference_evaluator(policy: dict[str, Any],
                                                         run: list[dict[str, Any]]) -> None:
    doc = PolicyDocument.model_validate(as_tuples(policy))
    engine = PolicyEngine(compile_policy(doc, SCENARIO_MODEL))
    reference = Reference(doc, SCENARIO_MODEL)
    for step in run:
        commit = step.pop("commit")
        req = make_request(**step)
        got = engine.decide(req)
        want = reference.decide(req)
        context = f"request {step}\n{got.explain()}"
        assert str(got.effect) == want.effect, context
        assert str(got.reason) == want.reason, context
        assert got.rule == want.rule, context
        assert list(got.matched) == want.matched, context
        assert [(s.rule, str(s.effect)) for s in got.shadow] == want.shadow, context
        assert [(f.rule, f.path, f.actual) for f in got.failed] == want.failed, context
        assert _errored(got.errors) == want.errored, context
        assert sorted(s.sequence for s in got.sequences) == sorted(want.sequences), context
        assert got.hop == want.hop, context
        if commit and str(got.effect) == "require_approval":
            engine.commit(req)
            reference.commit(req)


BOUNDARY_RECORDS = [v + d for v in NUMS for d in (-1, 0, 1)] + [0.5, 5.0, 99.5]


@settings(max_examples=60, deadline=None)
@given(policy=policies(stateful=False),
       records=st.lists(st.sampled_from(BOUNDARY_RECORDS), min_size=5, max_size=25),
       tool=st.sampled_from(TOOLS), agent=st.sampled_from(AGENTS))
def test_memoised_decisions_equal_fresh_ones(policy: dict[str, Any], records: list[Any],
                                             tool: str, agent: str) -> None:
    """Requests differing only in numbers around the thresholds share memo entries soundly."""
    compiled = compile_policy(PolicyDocument.model_validate(as_tuples(policy)), SCENARIO_MODEL)
    warm = PolicyEngine(compiled)
    requests = [make_request(agent, tool, records=r, amount=r, now=r, attributes={"x": r})
                for r in records]
    for req in requests:
        warm.decide(req)
    for req in requests:
        assert warm.decide(req) == PolicyEngine(compiled).decide(req)
