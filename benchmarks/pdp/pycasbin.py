"""PyCasbin's side: one ``p`` line per rule under a single ABAC matcher, and batch_enforce.

Numbers stay integers in the p lines (no parsing in the matcher); agents are grouped into
their roles and agent kinds with ``g`` lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.pdp.estate import RESOURCE_BY_ID, sensitivity
from benchmarks.pdp.workload import Workload

NO_LIMIT = 10**12
"""Casbin's stand-in for "no upper bound on records" (its p lines have fixed fields)."""


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
