"""Recorded tool calls matched to a scenario: agents and tools by name or a mapping file.

Each ``execute_tool`` span is one call. Its agent comes from ``gen_ai.agent.name`` /
``gen_ai.agent.id`` on the span or on its nearest ``invoke_agent`` ancestor, its session from
``gen_ai.conversation.id`` (else its trace), its arguments from ``gen_ai.tool.call.arguments``
when recorded (opt-in in the conventions). An agent or tool that neither the scenario nor the
mapping file names is listed with its count, never guessed. The mapping file is YAML::

    agents: {recorded-name: scenario-agent}
    tools: {recorded-name: scenario-tool}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from engine.errors import LoadError
from engine.model import Scenario
from engine.yamldoc import load_yaml, read_text
from sim.otlp.traces import Span, TraceFileError, Traces

MAPPING_FILE = "a mapping file: 'agents' and 'tools', each recorded name -> scenario name"


@dataclass(frozen=True)
class NameMapping:
    """Recorded names -> scenario names (agents, tools)."""

    agents: Mapping[str, str]
    tools: Mapping[str, str]


NO_MAPPING = NameMapping({}, {})


def load_mapping(path: str | Path, scenario: Scenario) -> NameMapping:
    """Read a mapping file and check every target is in the scenario.

    Raises:
        LoadError: naming the file, line and entry that is not a mapping to a known name.
    """
    doc = load_yaml(read_text(Path(path)), str(path))
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise doc.error((), MAPPING_FILE, found=type(data).__name__)
    unknown = sorted(set(data) - {"agents", "tools"})
    if unknown:
        raise doc.error((unknown[0],), MAPPING_FILE, found=f"key {unknown[0]!r}", key=True)
    known = {"agents": {a.name for a in scenario.agents}, "tools": {t.id for t in scenario.tools}}
    out: dict[str, dict[str, str]] = {"agents": {}, "tools": {}}
    for section in ("agents", "tools"):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise doc.error((section,), f"'{section}': recorded name -> scenario name",
                            found=type(entries).__name__)
        for recorded, target in entries.items():
            if not isinstance(target, str) or target not in known[section]:
                raise doc.error((section, recorded), f"a {section[:-1]} of scenario "
                                f"{scenario.name} ({', '.join(sorted(known[section]))})",
                                found=repr(target))
            out[section][str(recorded)] = target
    return NameMapping(out["agents"], out["tools"])


@dataclass(frozen=True)
class Call:
    """One recorded tool call, matched (or not) to the scenario.

    Attributes:
        span: Its ``execute_tool`` span.
        agent, tool: The recorded names.
        scenario_agent, scenario_tool: The scenario's names (None when unmatched).
        session: The conversation id (else the trace id).
        actors: Scenario agents of the invoke_agent ancestors, current first.
        arguments: The recorded arguments (empty when not recorded).
        guardrail: The ``apply_guardrail`` child span, if any.
    """

    span: Span
    agent: str
    tool: str
    scenario_agent: str | None
    scenario_tool: str | None
    session: str
    actors: tuple[str, ...]
    arguments: Mapping[str, Any]
    guardrail: Span | None


@dataclass(frozen=True)
class Matched:
    """Every recorded call and what could not be matched.

    Attributes:
        calls: Every ``execute_tool`` span as a call, in file order.
        agents_unmatched, tools_unmatched: Recorded name -> calls, for names not found.
    """

    calls: tuple[Call, ...]
    agents_unmatched: Mapping[str, int]
    tools_unmatched: Mapping[str, int]


def match_calls(traces: Traces, scenario: Scenario, mapping: NameMapping = NO_MAPPING) -> Matched:
    """The recorded calls of ``traces`` with the scenario's agents and tools.

    Raises:
        TraceFileError: for an ``execute_tool`` span without a tool name, or whose agent is
            named neither on it nor on an ``invoke_agent`` ancestor.
    """
    spans = traces.by_id()
    guardrails: dict[str, Span] = {}
    for s in traces.spans:
        if s.operation == "apply_guardrail" and s.parent_id is not None:
            guardrails.setdefault(s.parent_id, s)
    by_name = {a.name for a in scenario.agents}
    # An agent's SPIFFE ID depends on the profile (an isolating one puts it in its
    # environment's trust domain): any of them names it.
    by_spiffe = {str(scenario.identity_of(a, p)): a.name
                 for p in scenario.profiles for a in scenario.agents}
    by_spiffe.update({str(a.spiffe_id): a.name for a in scenario.agents})
    tools = {t.id for t in scenario.tools}

    def agent_of(name: str | None, ident: str | None) -> str | None:
        if name is not None and name in mapping.agents:
            return mapping.agents[name]
        if name is not None and name in by_name:
            return name
        if ident is not None and ident in mapping.agents:
            return mapping.agents[ident]
        return by_spiffe.get(ident) if ident is not None else None

    calls: list[Call] = []
    agents_unmatched: Counter[str] = Counter()
    tools_unmatched: Counter[str] = Counter()
    for s in traces.spans:
        if s.operation != "execute_tool":
            continue
        tool = s.attributes.get("gen_ai.tool.name")
        if not isinstance(tool, str) or not tool:
            tool = s.name[len("execute_tool "):] if s.name.startswith("execute_tool ") else None
        if not tool:
            raise TraceFileError(traces.source, "an execute_tool span with gen_ai.tool.name",
                                 line=s.line, path=s.where, found="no tool name")
        ancestors = _agent_ancestors(s, spans)
        name, ident = _agent_attrs(s)
        if name is None and ident is None and ancestors:
            name, ident = _agent_attrs(ancestors[0])
        if name is None and ident is None:
            raise TraceFileError(traces.source, "an execute_tool span with gen_ai.agent.name "
                                 "or gen_ai.agent.id (on it or on an invoke_agent ancestor)",
                                 line=s.line, path=s.where, found="no agent")
        recorded = name if name is not None else str(ident)
        matched = agent_of(name, ident)
        if matched is None:
            agents_unmatched[recorded] += 1
        target = mapping.tools.get(tool, tool if tool in tools else None)
        if target is None:
            tools_unmatched[tool] += 1
        session = _conversation(s, ancestors) or s.trace_id
        actors = [matched] if matched else []
        for a in ancestors:
            other = agent_of(*_agent_attrs(a))
            if other and other != (actors[-1] if actors else None):
                actors.append(other)
        calls.append(Call(s, recorded, tool, matched, target, session, tuple(actors),
                          _arguments(s), guardrails.get(s.span_id)))
    return Matched(tuple(calls), dict(agents_unmatched), dict(tools_unmatched))


def _agent_attrs(span: Span) -> tuple[str | None, str | None]:
    name = span.attributes.get("gen_ai.agent.name")
    ident = span.attributes.get("gen_ai.agent.id")
    return (name if isinstance(name, str) and name else None,
            ident if isinstance(ident, str) and ident else None)


def _agent_ancestors(span: Span, spans: Mapping[str, Span]) -> list[Span]:
    """The invoke_agent spans above ``span``, nearest first (bounded: a cycle ends it)."""
    out: list[Span] = []
    seen = {span.span_id}
    parent = span.parent_id
    while parent is not None and parent not in seen:
        seen.add(parent)
        above = spans.get(parent)
        if above is None:
            break
        if above.operation == "invoke_agent":
            out.append(above)
        parent = above.parent_id
    return out


def _conversation(span: Span, ancestors: list[Span]) -> str | None:
    for s in (span, *ancestors):
        value = s.attributes.get("gen_ai.conversation.id")
        if isinstance(value, str) and value:
            return value
    return None


def _arguments(span: Span) -> Mapping[str, Any]:
    raw = span.attributes.get("gen_ai.tool.call.arguments")
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            value = orjson.loads(raw)  # depth-limited, unlike json.loads
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def unmatched_error(source: str, matched: Matched) -> LoadError | None:
    """An error when no recorded call matched at all (nothing to judge), else None."""
    if any(c.scenario_agent and c.scenario_tool for c in matched.calls):
        return None
    names = [*(f"agent {a!r}" for a in matched.agents_unmatched),
             *(f"tool {t!r}" for t in matched.tools_unmatched)]
    return TraceFileError(source, "execute_tool spans whose agent and tool the scenario (or "
                          "--mapping) names", found=", ".join(names[:6]) or "no execute_tool "
                          "spans")
