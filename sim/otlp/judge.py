"""Recorded agent traffic judged under a policy: every call re-decided, the diff, blast radius.

The recorded calls (:mod:`sim.otlp.calls`) become the decision events :func:`sim.replay.replay`
re-decides, in recorded order, with sessions ending when their task runs (``invoke_agent``
spans) or conversations end. A call agentrange itself exported carries its full request
(``agentrange.request`` on its guardrail span) and is re-decided exactly, so a run's own
traces replay with no change under its own policy. Any other call's request is built from the
scenario: the matched agent and tool, the recorded arguments (resource, records, amount,
destination, recipient, the rest as free attributes), a valid credential covering the call
(a trace carries no credential), the session and the delegation chain of its ``invoke_agent``
ancestors, and the time of day of its start (UTC). What the recording says happened is the
``apply_guardrail`` child's decision when there is one, else ``allow`` (the call ran).

The blast radius of each recorded agent, had it been compromised over the trace window: what
it could reach (the tools of its tasks and its delegates', with their resources:
:meth:`engine.blast.Estate.reach`) and what its recorded calls that the policy allows
touched (:class:`engine.blast.Realised`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from engine.blast import Estate, Realised, delegates_of
from engine.model import Scenario, ToolStep
from engine.policy import CompiledPolicy
from engine.policy.request import (
    chain_attributes,
    principal_attributes,
    resource_attributes,
    step_attributes,
    tool_attributes,
)
from sim.events import EventKind
from sim.otlp.calls import Call, Matched
from sim.otlp.traces import TraceFileError, Traces
from sim.replay import Recorded, ReplayResult, replay

_EFFECTS = {"allow": "allow", "deny": "deny", "require_approval": "require_approval",
            "block": "deny", "warn": "allow", "audit": "allow", "modify": "allow"}
NO_GUARDRAIL = "(no guardrail recorded)"
"""The recorded rule of a call whose trace holds no guardrail decision (it ran)."""
_KNOWN_ARGS = ("resource", "records", "amount", "destination", "recipient")


@dataclass(frozen=True)
class Judgement:
    """What the recorded traffic would have met under the policy.

    Attributes:
        replay: The decision diff (recorded -> under the policy), as :mod:`sim.replay` gives.
        calls: Recorded execute_tool spans.
        decided: Calls re-decided (agent and tool matched).
        exact: Calls re-decided from the request agentrange recorded with them.
        agents_unmatched, tools_unmatched: Recorded names with no match, and their calls.
        partial: Spans whose parent is missing from the file.
        window: First and last recorded time (Unix seconds).
        blast: Per recorded agent: its calls, what it could reach, what it touched.
    """

    replay: ReplayResult
    calls: int
    decided: int
    exact: int
    agents_unmatched: Mapping[str, int]
    tools_unmatched: Mapping[str, int]
    partial: tuple[str, ...]
    window: tuple[float, float]
    blast: tuple[Mapping[str, Any], ...]

    def to_dict(self, examples: int = 5) -> dict[str, Any]:
        """JSON-compatible form."""
        return {"calls": self.calls, "decided": self.decided, "exact": self.exact,
                "unmatched": {"agents": dict(self.agents_unmatched),
                              "tools": dict(self.tools_unmatched)},
                "partial": list(self.partial),
                "window": {"start": self.window[0], "end": self.window[1],
                           "seconds": self.window[1] - self.window[0]},
                "diff": self.replay.to_dict(examples),
                "newly_denied": [c.to_dict() for c in self.replay.changes
                                 if c.old_effect == "allow" and c.new_effect == "deny"],
                "blast_radius": list(self.blast)}


def judge(traces: Traces, matched: Matched, policy: CompiledPolicy) -> Judgement:
    """Re-decide every matched call under ``policy``; the diff and each agent's blast radius."""
    scenario = policy.scenario
    decided = [c for c in matched.calls if c.scenario_agent and c.scenario_tool]
    start = min(s.start for s in traces.spans)
    end = max(s.end or s.start for s in traces.spans)
    builder = _Requests(scenario, policy, start)
    events: list[tuple[tuple[Any, ...], int, dict[str, Any]]] = []
    recorded = [_recorded_request(traces.source, c) for c in decided]
    own = all(r is not None and _int(c.span.attributes.get("agentrange.seq"), None) is not None
              for c, r in zip(decided, recorded, strict=True))
    session_end: dict[str, float] = {}
    decisions: list[tuple[Call, int, dict[str, Any]]] = []
    exact = 0
    for order, (call, request) in enumerate(zip(decided, recorded, strict=True)):
        if request is not None:
            exact += 1
        else:
            request = builder.request(call)
        seq = _int(call.span.attributes.get("agentrange.seq"), order) if own else order
        old = _recorded_effect(call)
        outcome = str(call.span.attributes.get("agentrange.outcome") or
                      ("executed" if old == "allow" else
                       "awaiting_approval" if old == "require_approval" else "blocked"))
        data = {"run": call.session, "chain": list(call.actors), "task": request["task"]["id"],
                "step": _int(request["task"].get("step"), 1), "tool": call.scenario_tool,
                "resource": (request.get("resource") or {}).get("id"), "request": request,
                "decision": {"effect": old, "rule": _guard_attr(call, "agentrange.rule")
                             if call.guardrail is not None else NO_GUARDRAIL},
                "outcome": outcome, "incident": call.span.attributes.get("agentrange.incident"),
                "attacker": bool(call.span.attributes.get("agentrange.attacker")),
                "approved": bool(request["task"].get("approved", True))}
        key = (seq,) if own else (call.span.start, 0, order)
        at = call.span.attributes.get("agentrange.time") if own else None
        exact_time = isinstance(at, int | float) and not isinstance(at, bool)
        decision = {"seq": seq, "kind": EventKind.DECISION,
                    "time": at if exact_time else call.span.start - start,
                    "agent": call.scenario_agent, "data": data}
        events.append((key, call.span.line, decision))
        decisions.append((call, seq, request))
        for when, name, attrs in call.span.events:
            resolved = _int(attrs.get("agentrange.seq"), None)
            if name == "agentrange.approval_resolved" and own and resolved is not None:
                events.append(((resolved,), call.span.line, {
                    "seq": resolved, "time": when - start,
                    "kind": EventKind.APPROVAL_RESOLVED, "agent": call.scenario_agent,
                    "data": {"decision": seq, "outcome": attrs.get("agentrange.outcome")}}))
        session_end[call.session] = max(session_end.get(call.session, 0.0),
                                        call.span.end or call.span.start)
    if own:
        for s in traces.spans:
            seq = _int(s.attributes.get("agentrange.end_seq"), None)
            if s.operation == "invoke_agent" and seq is not None:
                events.append(((seq,), s.line, {
                    "seq": seq, "time": (s.end or s.start) - start,
                    "kind": EventKind.TASK_COMPLETED, "agent": None,
                    "data": {"run": s.attributes.get("agentrange.run")}}))
            for when, name, attrs in s.events:
                seq = _int(attrs.get("agentrange.seq"), None)
                if name == "agentrange.response" and attrs.get("agentrange.kind") == \
                        "tighten_rule" and attrs.get("agentrange.applied") and seq is not None:
                    events.append(((seq,), s.line, {
                        "seq": seq, "time": when - start, "kind": EventKind.RESPONSE,
                        "agent": None, "data": {"kind": "tighten_rule", "applied": True,
                                                "target": attrs.get("agentrange.target")}}))
    else:
        for n, (session, last) in enumerate(sorted(session_end.items(), key=lambda kv: kv[1])):
            events.append(((last, 1, n), 0, {"seq": len(decided) + n, "time": last - start,
                                             "kind": EventKind.TASK_COMPLETED, "agent": None,
                                             "data": {"run": session}}))
    events.sort(key=lambda e: e[0])
    resource = traces.spans[0].resource
    recorded_for = resource.get("agentrange.scenario") if own else None
    header = {"scenario": recorded_for if isinstance(recorded_for, str) else scenario.name,
              "profile": str(resource.get("agentrange.profile") or "recorded"),
              "policy": str(resource.get("agentrange.policy") or "recorded")}
    result = replay(Recorded(traces.source, header, tuple((line, e) for _k, line, e in events)),
                    policy)
    changed = {c.seq: c.new_effect for c in result.changes}
    blast = _blast(scenario, [(c, changed.get(seq, _recorded_effect(c)), request)
                              for c, seq, request in decisions])
    return Judgement(result, len(matched.calls), len(decided), exact,
                     matched.agents_unmatched, matched.tools_unmatched, traces.partial,
                     (start, end), tuple(blast))


def _recorded_request(source: str, call: Call) -> dict[str, Any] | None:
    """The request agentrange recorded with the call (None when there is none).

    Raises:
        TraceFileError: for an ``agentrange.request`` that is not a request object.
    """
    raw = _guard_attr(call, "agentrange.request")
    if raw is None:
        return None
    value: Any = None
    if isinstance(raw, str):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
    ok = (isinstance(value, dict) and all(isinstance(value.get(k), dict)
                                          for k in ("principal", "tool", "token", "task"))
          and isinstance(value["task"].get("id"), str)
          and all(isinstance(value.get(k), dict | None) for k in ("resource", "request")))
    if not ok:
        guard = call.guardrail
        assert guard is not None
        raise TraceFileError(source, "agentrange.request holding the decided request as JSON "
                             "(principal, tool, token, task, ...)", line=guard.line,
                             path=guard.where, found="another value")
    return dict(value)


def _guard_attr(call: Call, key: str) -> Any:
    return None if call.guardrail is None else call.guardrail.attributes.get(key)


def _recorded_effect(call: Call) -> str:
    """What happened to the call: its guardrail's decision, else allow (it ran)."""
    for key in ("agentrange.effect", "gen_ai.security.decision.type"):
        value = _guard_attr(call, key)
        if isinstance(value, str) and value in _EFFECTS:
            return _EFFECTS[value]
    return "allow"


class _Requests:
    """Requests for calls agentrange did not record: built from the scenario (see above)."""

    def __init__(self, scenario: Scenario, policy: CompiledPolicy, start: float) -> None:
        self.scenario = scenario
        self.start = start
        profile = next((p for p in scenario.profiles
                        if p.policy and policy.source.endswith(p.policy)),
                       scenario.profiles[0])
        self.credentials = profile.credentials
        self.steps: dict[str, int] = {}

    def request(self, call: Call) -> dict[str, Any]:
        sc = self.scenario
        agent = sc.agent(str(call.scenario_agent))
        tool = next(t for t in sc.tools if t.id == call.scenario_tool)
        args = call.arguments
        resource = args.get("resource")
        if not (isinstance(resource, str) and resource in tool.resources):
            resource = tool.resources[0] if len(tool.resources) == 1 else None
        res_ns = None if resource is None else dict(resource_attributes(sc, resource))
        task = next((t for t in agent.tasks if any(isinstance(s, ToolStep) and s.tool == tool.id
                                                   for s in t.steps)), None)
        approved = task is not None
        task = task or (agent.tasks[0] if agent.tasks else None)
        step = self.steps[call.session] = self.steps.get(call.session, 0) + 1
        destination = args.get("destination")
        extra = {k: v for k, v in args.items() if k not in _KNOWN_ARGS
                 and isinstance(v, str | int | float | bool)}
        actors = call.actors or (agent.name,)
        data_class = None if res_ns is None else res_ns["data_class"]
        creds = self.credentials
        when = datetime.datetime.fromtimestamp(call.span.start, datetime.UTC)
        return {
            "principal": _plain(principal_attributes(sc, agent)), "action": tool.action,
            "tool": dict(tool_attributes(tool)), "resource": res_ns,
            "token": {"valid": True, "reason": "ok", "jti": f"recorded:{call.span.span_id}",
                      "mode": creds.mode, "task_id": None if task is None else task.id,
                      "ttl_remaining": creds.ttl, "age": 0.0,
                      "scope": [f"tool:{tool.id}", *([f"data:{data_class}"] if data_class
                                                     else [])],
                      "sender_constrained": creds.sender_constrained,
                      "chain_depth": len(actors) - 1, "issuer": f"spiffe://{sc.trust_domain}",
                      "trust_domain": sc.trust_domain},
            "request": step_attributes(
                records=_int(args.get("records")), amount=_number(args.get("amount")),
                destination=destination if destination in ("internal", "external") else None,
                recipient=args.get("recipient") if isinstance(args.get("recipient"), str)
                else None, attributes=extra),
            "task": {"id": "recorded" if task is None else task.id,
                     "intent": "" if task is None else task.intent, "approved": approved,
                     "step": step, "run": call.session},
            "session": {"id": call.session},
            "chain": {**chain_attributes(call.session, actors), "actors": list(actors)},
            "time": {"now": call.span.start - self.start, "hour": when.hour,
                     "weekday": when.weekday()},
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _int(value: Any, default: Any = 0) -> Any:
    """A whole number of at least 0 as recorded, else ``default``."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else default


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return float(value) if ok else None


def _blast(scenario: Scenario, calls: list[tuple[Call, str, Mapping[str, Any]]]
           ) -> list[dict[str, Any]]:
    estate = Estate.of(scenario)
    agents: dict[str, list[tuple[Call, str, Mapping[str, Any]]]] = {}
    for item in calls:
        agents.setdefault(str(item[0].scenario_agent), []).append(item)
    out = []
    for name in sorted(agents):
        reachable = [name, *delegates_of(scenario, name)]
        tools = {s.tool for a in reachable for t in scenario.agent(a).tasks for s in t.steps
                 if isinstance(s, ToolStep)}
        potential = estate.reach(tools, {r for t in tools for r in estate.reach_of.get(t, ())})
        realised = Realised(estate)
        allowed = 0
        for call, effect, request in agents[name]:
            if effect != "allow":
                continue
            allowed += 1
            req = request.get("request") or {}
            resource = (request.get("resource") or {}).get("id")
            realised.add(str(call.scenario_tool),
                         resource if resource in estate.resources else None,
                         _int(req.get("records")), req.get("destination"),
                         _number(req.get("amount")))
        out.append({"agent": name, "calls": len(agents[name]), "allowed": allowed,
                    "could_reach": potential.to_dict(),
                    "touched": {**realised.reach().to_dict(),
                                "egress_records": realised.egress_records,
                                "amount": realised.amount}})
    return out
