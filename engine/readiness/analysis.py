"""The scenario's finite call space, and what the compiled rules can do over it.

Every agent x tool x resource the scenario allows to be requested is one :class:`Call`; for
each, the run-time attributes range over the candidate values of :mod:`.candidates`. Over
that space this module finds a witness that a rule matches (:func:`rule_witness`) and the
effects the enforced rules can produce for a call (:func:`effects`). Every run-time attribute
is taken as possibly absent and independent of the others, which can only make the checks
report less, never report a rule that can in fact match.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.model import Agent, Resource, Scenario, Tool, ToolStep
from engine.policy.compiler import CompiledPolicy, CompiledRule
from engine.policy.decision import RESTRICTIVENESS, Effect
from engine.policy.request import (
    EMPTY,
    Request,
    principal_attributes,
    resource_attributes,
    tool_attributes,
)
from engine.readiness.candidates import assignments, holds, outcome, set_path
from engine.readiness.subject import Subject


@dataclass(frozen=True)
class Call:
    """One agent calling one tool on one resource (or none): a point of the target space."""

    agent: Agent
    tool: Tool
    resource: Resource | None
    data_class: str | None
    sensitivity: str | None

    @property
    def key(self) -> tuple[Any, ...]:
        """The engine's target key for this call."""
        return (self.agent.name, self.agent.kind, tuple(self.agent.roles), self.tool.action,
                self.tool.id, self.resource.id if self.resource else None, self.data_class)

    def label(self) -> str:
        """``agent -> tool (resource)``."""
        where = f" on {self.resource.id}" if self.resource else ""
        return f"{self.agent.name} -> {self.tool.id}{where}"


def tool_steps(scenario: Scenario) -> Iterator[ToolStep]:
    """Every tool step of the scenario: agents' task plans, then incidents' plans."""
    for agent in scenario.agents:
        for task in agent.tasks:
            yield from (s for s in task.steps if isinstance(s, ToolStep))
    for incident in scenario.incidents:
        yield from (s for s in incident.plan if isinstance(s, ToolStep))


def calls(scenario: Scenario) -> tuple[Call, ...]:
    """Every (agent, tool, resource) the scenario allows to be requested.

    A tool's resources are those it declares; a tool declaring none may be called on no
    resource or on any resource a step names with it.
    """
    used: dict[str, set[str | None]] = {}
    for step in tool_steps(scenario):
        used.setdefault(step.tool, set()).add(step.resource)
    out: list[Call] = []
    for agent in scenario.agents:
        for tool in scenario.tools:
            targets: list[str | None] = (list(tool.resources) if tool.resources
                                         else [None, *sorted(r for r in used.get(tool.id, ())
                                                             if r is not None)])
            for rid in targets:
                res = scenario.resource(rid) if rid is not None else None
                dc = res.data_class if res is not None else None
                sens = scenario.data_class(dc).sensitivity if dc is not None else None
                out.append(Call(agent, tool, res, dc, sens))
    return tuple(out)


class CallNamespaces:
    """Static namespaces of one call; builds synthetic requests with dynamic values set."""

    def __init__(self, scenario: Scenario, call: Call) -> None:
        self.call = call
        self.principal = principal_attributes(scenario, call.agent)
        self.tool = tool_attributes(call.tool)
        self.resource = (resource_attributes(scenario, call.resource)
                         if call.resource is not None else None)

    def request(self, assignment: Mapping[str, Any]) -> tuple[Request, dict[str, Any]]:
        """The call as a request with ``assignment``'s dynamic values, and counter values."""
        spaces: dict[str, Any] = {}
        cv: dict[str, Any] = {}
        for path, value in assignment.items():
            set_path(spaces, cv, path, value)
        req = Request(
            principal=self.principal, action=self.call.tool.action, tool=self.tool,
            token=spaces.get("token", EMPTY), resource=self.resource,
            request=spaces.get("request", EMPTY), task=spaces.get("task", EMPTY),
            session=spaces.get("session", EMPTY), chain=spaces.get("chain", EMPTY),
            time=spaces.get("time", EMPTY))
        return req, cv


@dataclass(frozen=True)
class Witness:
    """A call and the dynamic attribute values under which something happens."""

    call: Call
    values: Mapping[str, Any]


def call_space(subject: Subject) -> tuple[Call, ...]:
    """The subject's calls (:func:`calls` of its scenario), computed once."""
    return subject.memo("calls", lambda: calls(subject.scenario))


def namespaces(subject: Subject, call: Call) -> CallNamespaces:
    """The static namespaces of one of the subject's calls, computed once."""
    return subject.memo(("space", call.key), lambda: CallNamespaces(subject.scenario, call))


def target_calls(policy: CompiledPolicy, rule: CompiledRule, space: Sequence[Call]
                 ) -> list[Call]:
    """The calls of the space a rule's target admits."""
    return [c for c in space if rule.target.matches(c.key)]


def rule_witness(subject: Subject, policy: CompiledPolicy, rule: CompiledRule
                 ) -> Witness | bool | None:
    """A call and values under which ``rule`` matches; None if it never can.

    Returns True (unknown, assume it can) when the candidate space is too large.
    """
    space = call_space(subject)
    for call in target_calls(policy, rule, space):
        combos = assignments([rule.cond])
        if combos is None:
            return True
        sp = namespaces(subject, call)
        for values in combos:
            req, cv = sp.request(values)
            if holds(rule.cond, req, cv):
                return Witness(call, values)
    return None


def effects(subject: Subject, policy: CompiledPolicy, call: Call
            ) -> dict[Effect, Witness] | None:
    """The effects the enforced rules can produce for a call, each with a witness.

    Sequences and counters' history are not modelled (counter values range freely). As the
    engine does, an enforced rule whose condition cannot be evaluated and that would have been
    more restrictive than the outcome turns it into a deny (fail closed). None when the
    candidate space is too large.
    """
    rules = [r for r in policy.candidates(call.key) if not r.shadow]
    combos = assignments([r.cond for r in rules])
    if combos is None:
        return None
    sp = namespaces(subject, call)
    out: dict[Effect, Witness] = {}
    for values in combos:
        req, cv = sp.request(values)
        matched: list[Effect] = []
        errored: list[Effect] = []
        for r in rules:
            verdict = outcome(r.cond, req, cv)
            if verdict is None:
                errored.append(r.effect)
            elif verdict:
                matched.append(r.effect)
        if Effect.DENY in matched or not matched:
            effect = Effect.DENY
        elif Effect.REQUIRE_APPROVAL in matched:
            effect = Effect.REQUIRE_APPROVAL
        else:
            effect = Effect.ALLOW
        if any(RESTRICTIVENESS[e] > RESTRICTIVENESS[effect] for e in errored):
            effect = Effect.DENY
        out.setdefault(effect, Witness(call, values))
        if len(out) == 3:
            break
    return out


def profile_effects(subject: Subject, profile: str, call: Call
                    ) -> dict[Effect, Witness] | None:
    """:func:`effects` of a profile's policy for a call, computed once per policy and call."""
    policy = subject.policies[profile]
    return subject.memo(("effects", id(policy), call.key),
                        lambda: effects(subject, policy, call))
