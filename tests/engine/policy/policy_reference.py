"""A plain reference evaluator: slow, obviously right, sharing no code with the engine.

It reads the policy *document* (the pydantic model, never the compiled form), turns each
request into nested dicts, loops over every rule, matches targets with fnmatch, walks
conditions recursively and rescans the whole history of executed requests for counters and
sequences. The property tests assert that the compiled engine agrees with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from engine.durations import parse_duration
from engine.model import Scenario
from engine.policy.model import AllOf, AnyOf, Compare, NotOf, PolicyDocument, Target
from engine.policy.request import Request, principal_attributes

STRICTNESS = {"allow": 0, "require_approval": 1, "deny": 2}
ORDERED = {
    "resource.sensitivity": ["public", "internal", "confidential", "restricted"],
    "tool.risk": ["low", "medium", "high", "critical"],
    "tool.egress": ["none", "internal", "external"],
}
SECONDS = {"token.ttl_remaining", "token.age", "time.now"}


class Broken(Exception):
    """The condition cannot be evaluated."""


@dataclass
class RefDecision:
    effect: str
    reason: str
    rule: str | None
    matched: list[str] = field(default_factory=list)
    shadow: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, Any]] = field(default_factory=list)  # rule, path, actual
    errored: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    hop: str | None = None


def as_dicts(req: Request, principal: Any = None) -> dict[str, Any]:
    """The request as plain nested dicts, the way a reader of the policy thinks of it."""

    def plain(m: Any) -> Any:
        if m is None:
            return None
        return {k: plain(v) if hasattr(v, "keys") else v for k, v in m.items()}

    return {
        "principal": plain(principal if principal is not None else req.principal),
        "action": req.action,
        "tool": plain(req.tool),
        "resource": plain(req.resource),
        "request": plain(req.request),
        "task": plain(req.task),
        "token": plain(req.token),
        "session": plain(req.session),
        "chain": plain(req.chain),
        "time": plain(req.time),
    }


def read(data: dict[str, Any], path: str) -> Any:
    """Walk the dicts; anything missing is None."""
    if path == "action":
        return data["action"]
    if path.startswith("counter."):
        return data["counter"].get(path[len("counter."):])
    if path.startswith("request.attributes."):
        attrs = (data["request"] or {}).get("attributes") or {}
        return attrs.get(path[len("request.attributes."):])
    cur: Any = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list | tuple):
        return "list"
    return "other"


def same(a: Any, b: Any) -> bool:
    if kind(a) == "list":
        return list(a) == list(b)
    return bool(a == b)


def operand(path: str, op: str, value: Any) -> Any:
    if op in ("in", "not_in"):
        return [operand(path, "eq", v) for v in value]
    if path in SECONDS and isinstance(value, str):
        return parse_duration(value)
    return value


def compare(c: Compare, data: dict[str, Any]) -> bool:
    path, op = c.attr, c.op
    want = operand(path, op, c.value)
    v = read(data, path)
    if op == "exists":
        return (v is not None) == want
    if op in ("eq", "ne"):
        if v is None:
            result = want is None
        elif want is None:
            result = False
        elif kind(v) != kind(want):
            raise Broken(path)
        else:
            result = same(v, want)
        return result if op == "eq" else not result
    if op in ("in", "not_in"):
        if v is None:
            return op == "not_in"
        comparable = [w for w in want if kind(w) == kind(v)]
        if not comparable:
            raise Broken(path)
        hit = any(same(v, w) for w in comparable)
        return hit if op == "in" else not hit
    if v is None:
        raise Broken(path)
    if op == "contains":
        if kind(v) == "list":
            return any(kind(e) == kind(want) and e == want for e in v)
        if kind(v) == "str" and kind(want) == "str":
            return want in v
        raise Broken(path)
    if op == "glob":
        if kind(v) != "str":
            raise Broken(path)
        return fnmatchcase(v, want)
    if path in ORDERED:
        order = ORDERED[path]
        if v not in order:
            raise Broken(path)
        left, right = order.index(v), order.index(want)
    else:
        if kind(v) != "number":
            raise Broken(path)
        left, right = v, want
    return {"lt": left < right, "lte": left <= right, "gt": left > right,
            "gte": left >= right}[op]


def holds(cond: Any, data: dict[str, Any]) -> bool:
    if isinstance(cond, tuple):
        return holds(AllOf(all=cond), data)
    if isinstance(cond, AllOf):
        return all(holds(c, data) for c in cond.all)
    if isinstance(cond, AnyOf):
        return any(holds(c, data) for c in cond.any)
    if isinstance(cond, NotOf):
        return not holds(cond.not_, data)
    return compare(cond, data)


def first_path(cond: Any) -> str:
    if isinstance(cond, tuple):
        return first_path(cond[0])
    if isinstance(cond, AllOf):
        return first_path(cond.all[0])
    if isinstance(cond, AnyOf):
        return first_path(cond.any[0])
    if isinstance(cond, NotOf):
        return first_path(cond.not_)
    return str(cond.attr)


def failed_path(cond: Any, data: dict[str, Any]) -> str:
    """Where a failed condition failed: the first failed child of an all, else the whole."""
    if isinstance(cond, tuple) and len(cond) > 1:
        cond = AllOf(all=cond)
    elif isinstance(cond, tuple):
        cond = cond[0]
    if isinstance(cond, AllOf):
        for c in cond.all:
            if not holds(c, data):
                return failed_path(c, data)
    return first_path(cond)


def targets(t: Target, data: dict[str, Any]) -> bool:
    def any_match(value: Any, patterns: Any) -> bool:
        return isinstance(value, str) and any(fnmatchcase(value, p) for p in patterns)

    p = data["principal"]
    if t.principals is not None:
        ok = False
        for pattern in t.principals:
            prefix, sep, rest = pattern.partition(":")
            if not sep:
                prefix, rest = "agent", pattern
            if prefix == "agent" and any_match(p.get("id"), [rest]):
                ok = True
            if prefix == "kind" and any_match(p.get("kind"), [rest]):
                ok = True
            if prefix == "role" and any(any_match(r, [rest]) for r in p.get("roles") or ()):
                ok = True
        if not ok:
            return False
    resource = data["resource"] or {}
    checks = [(t.actions, data["action"]), (t.tools, data["tool"].get("id")),
              (t.resources, resource.get("id")), (t.data_classes, resource.get("data_class"))]
    return all(pats is None or any_match(value, pats) for pats, value in checks)


class Reference:
    """Decides requests the plain way, keeping the whole history of executed requests."""

    def __init__(self, doc: PolicyDocument, scenario: Scenario) -> None:
        self.doc = doc
        self.scenario = scenario
        self.history: list[tuple[float, dict[str, Any]]] = []
        self.enforced: set[str] = set()

    def shadow(self, item: Any) -> bool:
        return bool(item.mode == "shadow" and item.id not in self.enforced)

    def scope_key(self, data: dict[str, Any], scope: str) -> Any:
        if scope == "session":
            return (data["session"] or {}).get("id")
        if scope == "chain":
            cid = (data["chain"] or {}).get("id")
            return cid if cid is not None else (data["session"] or {}).get("id")
        if scope == "agent":
            return data["principal"].get("id")
        pid, tid = data["principal"].get("id"), (data["task"] or {}).get("id")
        return None if pid is None or tid is None else (pid, tid)

    def measure(self, counter: Any, data: dict[str, Any]) -> float:
        if counter.measure == "count":
            return 1
        v = read(data, counter.measure)
        return v if kind(v) == "number" and v == v else 0

    def counters(self, data: dict[str, Any]) -> dict[str, Any]:
        now = read(data, "time.now")
        out: dict[str, Any] = {}
        for c in self.doc.counters:
            key = self.scope_key(data, c.scope)
            if key is None:
                out[c.id] = None
                continue
            total: float = 0
            for t, past in self.history:
                if self.scope_key(past, c.scope) != key or not targets(c.target, past):
                    continue
                if c.window is not None and not t > now - c.window:
                    continue
                total += self.measure(c, past)
            if targets(c.target, data):
                total += self.measure(c, data)
            out[c.id] = total
        return out

    def rules(self, data: dict[str, Any]) -> RefDecision:
        matched: list[Any] = []
        out = RefDecision("deny", "no_matching_allow", None)
        errored: list[Any] = []
        for rule in self.doc.rules:
            if not targets(rule.target, data):
                continue
            try:
                ok = rule.when is None or holds(rule.when, data)
            except Broken:
                out.errored.append(rule.id)
                if not self.shadow(rule):
                    errored.append(rule)
                continue
            if ok and self.shadow(rule):
                out.shadow.append((rule.id, rule.effect))
            elif ok:
                matched.append(rule)
            else:
                path = failed_path(rule.when, data)
                out.failed.append((rule.id, path, read(data, path)))
        out.matched = [r.id for r in matched]
        for effect, reason in (("deny", "explicit_deny"), ("require_approval",
                                                          "approval_required"),
                               ("allow", "allowed")):
            first = next((r for r in matched if r.effect == effect), None)
            if first is not None:
                out.effect, out.reason, out.rule = effect, reason, first.id
                break
        for rule in errored:
            if STRICTNESS[rule.effect] > STRICTNESS[out.effect]:
                out.effect, out.reason, out.rule = "deny", "error", rule.id
                break
        return out

    def completed(self, seq: Any, data: dict[str, Any]) -> bool:
        """Does this request complete ``seq``, given every executed request so far?"""
        key = self.scope_key(data, seq.scope)
        now = read(data, "time.now")
        if key is None:
            return False
        past = [(t, d) for t, d in self.history if self.scope_key(d, seq.scope) == key]
        steps = seq.steps
        if not targets(steps[-1].target, data):
            return False

        def step_ok(step: Any, d: dict[str, Any]) -> bool:
            try:
                return targets(step.target, d) and (step.when is None or holds(step.when, d))
            except Broken:
                return False

        earlier_steps_seen = False
        for i, (t0, d0) in enumerate(past):
            if t0 < now - seq.window or not step_ok(steps[0], d0):
                continue
            j = 1
            for _, d in past[i + 1:]:
                if j < len(steps) - 1 and step_ok(steps[j], d):
                    j += 1
            if j == len(steps) - 1:
                earlier_steps_seen = True
        if not earlier_steps_seen:
            return False
        # Raises Broken when the completing step's condition cannot be evaluated.
        return steps[-1].when is None or holds(steps[-1].when, data)

    def decide(self, req: Request) -> RefDecision:
        data = as_dicts(req)
        if (data["token"] or {}).get("valid") is not True:
            return RefDecision("deny", "invalid_token", None)
        chain = data["chain"] or {}
        actors = list(chain.get("actors") or [])
        depth = chain.get("depth", max(len(actors) - 1, 0))
        limit = self.doc.delegation.max_depth
        if limit is not None and depth > limit:
            return RefDecision("deny", "explicit_deny", "delegation.max_depth")
        data["counter"] = self.counters(data)
        out = self.rules(data)
        broken: list[Any] = []
        done: list[Any] = []
        for seq in self.doc.sequences:
            try:
                if self.completed(seq, data):
                    done.append(seq)
            except Broken:
                broken.append(seq)
        out.sequences = [s.id for s in done]
        enforced = [s for s in done if not self.shadow(s)]
        out.shadow += [(s.id, s.effect) for s in done if self.shadow(s)]
        if out.reason not in ("explicit_deny", "error") and enforced:
            best = max(enforced, key=lambda s: STRICTNESS[s.effect])  # first of the strictest
            if STRICTNESS[best.effect] > STRICTNESS[out.effect] or (
                    out.reason == "no_matching_allow" and best.effect == "deny"):
                out.effect, out.reason, out.rule = best.effect, "sequence", best.id
        for seq in broken:
            if not self.shadow(seq) and STRICTNESS[seq.effect] > STRICTNESS[out.effect]:
                out.effect, out.reason, out.rule = "deny", "error", seq.id
                break
        if self.doc.delegation.attenuation and len(actors) > 1 and depth:
            for name in actors[1:]:
                hop = as_dicts(req, principal_attributes(self.scenario, name))
                hop["counter"] = self.counters(hop)
                hop_out = self.rules(hop)
                if STRICTNESS[hop_out.effect] > STRICTNESS[out.effect]:
                    out = hop_out
                    out.hop = name
        if out.effect == "allow":
            self.history.append((read(data, "time.now"), data))
        return out

    def commit(self, req: Request) -> None:
        data = as_dicts(req)
        self.history.append((read(data, "time.now"), data))
