"""The run as OpenTelemetry GenAI traces: a fold over the event stream into OTLP/JSON requests.

:class:`OtlpSink` receives the events a run emits (like :class:`sim.audit_sink.AuditSink`) and
hands complete ``ExportTraceServiceRequest`` objects, one JSON line each, to a writer: a file
(:class:`OtlpFile`, as the OpenTelemetry Collector's file exporter writes) or an OTLP/HTTP
receiver (:class:`sim.otlp.http.OtlpPoster`). Spans follow the GenAI semantic conventions:

- ``invoke_agent {agent}`` per task run (a delegated run is a child of its delegator's);
- ``execute_tool {tool}`` per step, a child of its run's span;
- ``apply_guardrail {policy}`` per policy decision, a child of its step's span;
- ``agentrange run {scenario}`` for the run itself, incidents, alerts and responses as its
  span events.

Ids derive from the scenario, profile and seed; simulated times sit on the run's epoch. Same
run, same bytes. The attribute mapping is in docs/otlp.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from engine.errors import AgentrangeError
from engine.policy.request import Request
from sim.events import Event, EventKind
from sim.otlp.wire import (
    SPAN_KIND_INTERNAL,
    STATUS_ERROR,
    attributes,
    export_request,
    hex_id,
    unix_nanos,
)

BATCH_SPANS = 512
"""Spans gathered into one request (one line) before it is written."""
REQUEST_FIELDS = ("principal", "action", "tool", "token", "resource", "request", "task",
                  "session", "chain", "time")
"""What :meth:`engine.policy.request.Request.to_dict` writes, in its order."""
RUN_EVENTS = (EventKind.INCIDENT, EventKind.ALERT, EventKind.RESPONSE, EventKind.CONTAINED,
              EventKind.EXPOSED)
"""Events recorded as span events of the run's own span."""


class OtlpExportError(AgentrangeError):
    """Traces that could not be written or sent (the file or receiver is named)."""


def root_run(run: str) -> str:
    """The task run a delegation chain started from (``a/t#1/2>b/u`` -> ``a/t#1``)."""
    cut = run.find(">")
    return run if cut < 0 else run[: run.rfind("/", 0, cut)]


def parent_run(run: str) -> str | None:
    """The run that delegated ``run`` (its id up to the last ``/<step>>``), or None."""
    cut = run.rfind(">")
    return None if cut < 0 else run[: run.rfind("/", 0, cut)]


def json_text(value: Any) -> str:
    """Compact, key-sorted JSON (what string attributes holding objects carry; the lines)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=_plain).decode()


def _plain(value: Any) -> Any:
    """What orjson does not write itself: read-only mappings, sets, anything else as text."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


@dataclass
class _Run:
    """The open span of one task run and the finished spans of its steps."""

    span: dict[str, Any]
    attrs: dict[str, Any]
    spans: list[dict[str, Any]] = field(default_factory=list)
    awaiting: dict[int, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)


class OtlpSink:
    """Folds a run's events into OTLP/JSON requests, handed to ``write`` one line each.

    Call :meth:`close` after the run (or when it stopped early): spans still open end at the
    last simulated time seen, marked ``agentrange.unfinished``.

    Args:
        write: Receives each request as one JSON line (no newline).
        version: The instrumentation scope's version (agentrange's).
        batch: Spans per request.
    """

    def __init__(self, write: Callable[[str], None], version: str = "0",
                 batch: int = BATCH_SPANS) -> None:
        self._write = write
        self._version = version
        self._batch = batch
        self._key = ""
        self._epoch = 0.0
        self._now = 0.0
        self._resource: dict[str, Any] = {}
        self._spiffe: dict[str, str] = {}
        self._policy = ""
        self._runs: dict[str, _Run] = {}
        self._ready: list[dict[str, Any]] = []
        self._run_span: dict[str, Any] | None = None
        self._run_attrs: dict[str, Any] = {}
        self.requests = 0
        """Requests written so far."""
        self.spans = 0
        """Spans written so far."""

    # --- the fold --------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        """Take one event of the run."""
        kind, data = event.kind, event.data
        self._now = event.time
        if kind is EventKind.DECISION:
            self._decision(event)
        elif kind is EventKind.TASK_STARTED:
            self._task_started(event)
        elif kind is EventKind.TASK_COMPLETED or kind is EventKind.TASK_FAILED:
            self._task_ended(event)
        elif kind is EventKind.APPROVAL_RESOLVED:
            self._approval(event)
        elif kind is EventKind.RUN_STARTED:
            self._started(event)
        elif kind in RUN_EVENTS and self._run_span is not None:
            self._run_span["events"].append({
                "timeUnixNano": self._nanos(event.time), "name": f"agentrange.{kind}",
                "attributes": attributes({"agentrange.seq": event.seq,
                                          "agentrange.agent": event.agent,
                                          **{f"agentrange.{k}": _scalar(v)
                                             for k, v in data.items()}})})
        elif kind is EventKind.RUN_ENDED:
            self.close()

    def _started(self, event: Event) -> None:
        data = event.data
        self._key = f"{data['scenario']}/{data['profile']}/{data['seed']}"
        self._epoch = float(data.get("epoch") or 0.0)
        self._policy = str(data.get("policy"))
        self._spiffe = {a["name"]: a["spiffe_id"] for a in data.get("agents") or ()}
        self._resource = {"service.name": "agentrange", "service.version": self._version,
                          "agentrange.scenario": data["scenario"],
                          "agentrange.profile": data["profile"],
                          "agentrange.seed": data["seed"], "agentrange.policy": self._policy}
        self._run_attrs = {"agentrange.scenario": data["scenario"],
                           "agentrange.profile": data["profile"],
                           "agentrange.seed": data["seed"],
                           "agentrange.policy": self._policy,
                           "agentrange.duration": data.get("duration"),
                           "agentrange.seq": event.seq}
        self._run_span = self._span(hex_id(self._key, "trace|run", 16), "run", None,
                                    f"agentrange run {data['scenario']}", event.time)

    def _task_started(self, event: Event) -> None:
        data = event.data
        run = str(data["run"])
        agent = str(event.agent)
        parent = parent_run(run)
        span = self._span(self._trace(run), f"agent|{run}",
                          None if parent is None else f"agent|{parent}",
                          f"invoke_agent {agent}", event.time)
        attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
                 "gen_ai.agent.id": self._spiffe.get(agent), "gen_ai.conversation.id": run,
                 "agentrange.run": run, "agentrange.task": data["task"],
                 "agentrange.chain": list(data.get("chain") or ()),
                 "agentrange.delegated_by": data.get("delegated_by"),
                 "agentrange.incident": data.get("incident"),
                 "agentrange.attacker": data.get("attacker"), "agentrange.seq": event.seq}
        self._runs[run] = _Run(span, attrs)

    def _decision(self, event: Event) -> None:
        data = event.data
        run = str(data["run"])
        agent = str(event.agent)
        state = self._runs.get(run)
        seq = event.seq
        tool_key = f"tool|{seq}"
        tool = self._span(self._trace(run), tool_key, f"agent|{run}",
                          f"execute_tool {data['tool']}", event.time)
        decision: Mapping[str, Any] = data["decision"]
        request = data["request"]
        # The namespaces as they are (read-only views, tuples): orjson writes them the way
        # Request.to_dict() would render them, at a fraction of the cost.
        request_dict = ({f: getattr(request, f) for f in REQUEST_FIELDS}
                        if isinstance(request, Request) else dict(request))
        arguments = {k: v for k, v in (("resource", data.get("resource")),
                                       ("records", data.get("records")),
                                       ("amount", data.get("amount")),
                                       ("destination", data.get("destination")))
                     if v is not None}
        outcome = str(data.get("outcome"))
        tool_attrs = {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": data["tool"],
            "gen_ai.tool.call.id": f"{run}:{data['step']}:{seq}",
            "gen_ai.tool.type": "function", "gen_ai.agent.name": agent,
            "gen_ai.agent.id": self._spiffe.get(agent), "gen_ai.conversation.id": run,
            "gen_ai.tool.call.arguments": json_text(arguments),
            "agentrange.seq": seq, "agentrange.time": event.time, "agentrange.run": run,
            "agentrange.task": data["task"],
            "agentrange.step": data["step"], "agentrange.action": data.get("action"),
            "agentrange.resource": data.get("resource"),
            "agentrange.data_class": data.get("data_class"),
            "agentrange.system": data.get("system"), "agentrange.records": data.get("records"),
            "agentrange.amount": data.get("amount"),
            "agentrange.destination": data.get("destination"),
            "agentrange.jti": data.get("jti"), "agentrange.token_reason": data.get("token_reason"),
            "agentrange.approved": data.get("approved"),
            "agentrange.incident": data.get("incident"),
            "agentrange.attacker": data.get("attacker"), "agentrange.outcome": outcome}
        guard = self._span(self._trace(run), f"guard|{seq}", tool_key,
                           f"apply_guardrail {self._policy}", event.time)
        guard["endTimeUnixNano"] = guard["startTimeUnixNano"]
        effect = str(decision.get("effect"))
        guard["attributes"] = attributes({
            "gen_ai.operation.name": "apply_guardrail", "gen_ai.guardian.name": "agentrange",
            "gen_ai.security.target.type": "tool_call",
            "gen_ai.security.decision.type": effect,
            "gen_ai.security.decision.reason": str(decision.get("reason")),
            "gen_ai.security.policy.id": self._policy, "gen_ai.tool.call.id":
            tool_attrs["gen_ai.tool.call.id"], "agentrange.seq": seq,
            "agentrange.effect": effect, "agentrange.rule": decision.get("rule"),
            "agentrange.matched": list(decision.get("matched") or ()),
            "agentrange.envelope": decision.get("envelope"),
            "agentrange.owner": decision.get("owner"), "agentrange.outcome": outcome,
            "agentrange.request": json_text(request_dict)})
        if outcome == "awaiting_approval" and state is not None:
            state.awaiting[seq] = (tool, tool_attrs)
        else:
            self._finish_tool(tool, tool_attrs, event.time)
        spans = state.spans if state is not None else self._ready
        spans.append(guard)
        if state is None:
            self._flush_if_full()

    def _approval(self, event: Event) -> None:
        data = event.data
        state = self._runs.get(str(data["run"]))
        held = state.awaiting.pop(int(data["decision"]), None) if state is not None else None
        if held is None:
            return
        tool, attrs = held
        attrs["agentrange.outcome"] = str(data["outcome"])
        tool["events"].append({"timeUnixNano": self._nanos(event.time),
                               "name": "agentrange.approval_resolved",
                               "attributes": attributes({
                                   "agentrange.seq": event.seq,
                                   "agentrange.approved": data.get("approved"),
                                   "agentrange.waited": data.get("waited"),
                                   "agentrange.expired": data.get("expired"),
                                   "agentrange.outcome": str(data["outcome"])})})
        self._finish_tool(tool, attrs, event.time, state)

    def _finish_tool(self, tool: dict[str, Any], attrs: dict[str, Any], at: float,
                     state: _Run | None = None) -> None:
        tool["endTimeUnixNano"] = self._nanos(at)
        outcome = attrs["agentrange.outcome"]
        if outcome != "executed":
            attrs["error.type"] = outcome
            tool["status"] = {"code": STATUS_ERROR, "message": f"step {outcome}"}
        tool["attributes"] = attributes(attrs)
        run = self._runs.get(str(attrs["agentrange.run"])) if state is None else state
        (run.spans if run is not None else self._ready).append(tool)

    def _task_ended(self, event: Event) -> None:
        data = event.data
        state = self._runs.pop(str(data["run"]), None)
        if state is None:
            return
        failed = event.kind is EventKind.TASK_FAILED
        state.attrs.update({"agentrange.result": "failed" if failed else "completed",
                            "agentrange.reason": data.get("reason"),
                            "agentrange.steps": data.get("steps"),
                            "agentrange.end_seq": event.seq})
        if failed:
            state.span["status"] = {"code": STATUS_ERROR,
                                    "message": f"task failed: {data.get('reason')}"}
            state.attrs["error.type"] = str(data.get("reason"))
        self._end_run(state, event.time)

    def _end_run(self, state: _Run, at: float, unfinished: bool = False) -> None:
        for tool, attrs in state.awaiting.values():
            attrs["agentrange.unfinished"] = True
            self._finish_tool(tool, attrs, at, state)
        state.awaiting.clear()
        if unfinished:
            state.attrs["agentrange.unfinished"] = True
        state.span["endTimeUnixNano"] = self._nanos(at)
        state.span["attributes"] = attributes(state.attrs)
        self._ready.append(state.span)
        self._ready.extend(state.spans)
        self._flush_if_full()

    # --- output ----------------------------------------------------------------------------

    def close(self) -> None:
        """End what is still open at the last time seen and write every remaining span."""
        for state in list(self._runs.values()):
            self._end_run(state, self._now, unfinished=True)
        self._runs.clear()
        if self._run_span is not None:
            self._run_span["endTimeUnixNano"] = self._nanos(self._now)
            self._run_span["attributes"] = attributes(self._run_attrs)
            self._ready.append(self._run_span)
            self._run_span = None
        self._flush()

    def _flush_if_full(self) -> None:
        if len(self._ready) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if not self._ready:
            return
        spans, self._ready = self._ready, []
        self._write(json_text(export_request(self._resource, self._version, spans)))
        self.requests += 1
        self.spans += len(spans)

    # --- ids and times -----------------------------------------------------------------------

    def _trace(self, run: str) -> str:
        return hex_id(self._key, f"trace|{root_run(run)}", 16)

    def _nanos(self, seconds: float) -> str:
        return unix_nanos(self._epoch, seconds)

    def _span(self, trace: str, key: str, parent: str | None, name: str,
              start: float) -> dict[str, Any]:
        span: dict[str, Any] = {"traceId": trace, "spanId": hex_id(self._key, key, 8)}
        if parent is not None:
            span["parentSpanId"] = hex_id(self._key, parent, 8)
        span.update({"name": name, "kind": SPAN_KIND_INTERNAL,
                     "startTimeUnixNano": self._nanos(start), "endTimeUnixNano": "",
                     "attributes": [], "events": []})
        return span


def _scalar(value: Any) -> Any:
    """An event field as an attribute value: scalars and lists of scalars as they are."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str | int | float)
                                               and not isinstance(v, bool) for v in value):
        return list(value)
    return json_text(value)


class OtlpFile:
    """Writes each request as one line of a file (the Collector's file exporter's format)."""

    def __init__(self, stream: IO[str], name: str) -> None:
        self._stream = stream
        self.name = name

    def __call__(self, line: str) -> None:
        """Write one request line."""
        self._stream.write(line)
        self._stream.write("\n")
