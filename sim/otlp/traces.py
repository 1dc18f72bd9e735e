"""Recorded traces read back: OTLP/JSON lines (ExportTraceServiceRequest each) into spans.

Reading is bounded (:class:`engine.audit.lines.JsonLines`: a length cap per line, a depth
limit per parse, at most :data:`MAX_SPANS` spans), and every problem names the file, the line
and the span (``resourceSpans[0].scopeSpans[0].spans[3]``) with what was expected. A span
whose parent is not in the file is kept and reported (:attr:`Traces.partial`), never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.audit.lines import (
    JsonLineError,
    JsonLines,
    LineError,
    OpenError,
    nesting_within,
    parse_json,
)
from engine.errors import LoadError
from sim.otlp.wire import NANOS, python_attributes

TRACES_FILE = "OTLP/JSON traces (one ExportTraceServiceRequest per line)"
MAX_SPANS = 1_000_000
"""The most spans one file may hold (about a gigabyte of OTLP/JSON)."""
_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-fA-F]{16}$")


class TraceFileError(LoadError):
    """A traces file that cannot be read (named by file, line and span)."""


@dataclass(frozen=True)
class Span:
    """One span as recorded.

    Attributes:
        line: The line of the file it was on.
        where: Its place in that line's request (``resourceSpans[0]...spans[3]``).
        order: Its position in the file (0-based, across lines).
        trace_id, span_id, parent_id: Hex ids (``parent_id`` None for a root).
        name: The span name.
        start, end: Unix seconds (``end`` None when the span has no end time).
        attributes: Its attributes as Python values.
        events: ``(unix seconds, name, attributes)`` of its span events.
        error: True when its status is ERROR.
        resource: Its resource's attributes.
    """

    line: int
    where: str
    order: int
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start: float
    end: float | None
    attributes: Mapping[str, Any]
    events: tuple[tuple[float, str, Mapping[str, Any]], ...]
    error: bool
    resource: Mapping[str, Any]

    @property
    def operation(self) -> str | None:
        """``gen_ai.operation.name``, or the span name's first word when that is missing."""
        op = self.attributes.get("gen_ai.operation.name")
        if isinstance(op, str):
            return op
        first = self.name.split(" ", 1)[0]
        return first if first in ("invoke_agent", "execute_tool", "apply_guardrail") else None

    def at(self) -> str:
        """Where the span is, for messages: ``line N, SPAN-PATH (span ID 'name')``."""
        return f"line {self.line}, {self.where} (span {self.span_id} {self.name!r})"


@dataclass(frozen=True)
class Traces:
    """Every span of a file, in file order, with what is missing.

    Attributes:
        source: The file.
        spans: Every span, in file order.
        partial: Messages about spans whose parent is not in the file (kept, and reported).
    """

    source: str
    spans: tuple[Span, ...]
    partial: tuple[str, ...] = field(default=())

    def runs(self) -> list[str]:
        """The agentrange runs the file holds (their resources' profiles), in file order."""
        seen: dict[str, None] = {}
        for s in self.spans:
            profile = s.resource.get("agentrange.profile")
            if isinstance(profile, str):
                seen.setdefault(profile, None)
        return list(seen)

    def of_run(self, profile: str) -> Traces:
        """Only the spans of the agentrange run under ``profile`` (and none of any other)."""
        spans = tuple(s for s in self.spans if s.resource.get("agentrange.profile") == profile)
        return Traces(self.source, spans, _partial(spans))

    def by_id(self) -> dict[str, Span]:
        """Span id -> span (a later duplicate wins)."""
        return {s.span_id: s for s in self.spans}


def read_traces(path: str | Path, max_spans: int = MAX_SPANS) -> Traces:
    """Read an OTLP/JSON traces file (one ExportTraceServiceRequest per line).

    Raises:
        TraceFileError: naming the file, line and span of what is not OTLP/JSON traces.
    """
    name = str(path)
    spans: list[Span] = []
    try:
        with JsonLines(path, TRACES_FILE) as lines:
            for number, raw in lines:
                if not raw.strip():
                    continue
                try:
                    document = _parse(raw)
                except JsonLineError as exc:
                    found = "a truncated line" if exc.cut else f"a line that {exc.problem}"
                    raise TraceFileError(name, "one JSON ExportTraceServiceRequest per line",
                                         line=number, column=exc.column, found=found) from None
                _request(name, number, document, spans, max_spans)
    except LineError as exc:
        raise TraceFileError(name, exc.expected, line=exc.line,
                             found=f"a line that {exc.problem}") from None
    except OpenError as exc:
        raise TraceFileError(name, TRACES_FILE, found=exc.why) from None
    if not spans:
        raise TraceFileError(name, TRACES_FILE, found="no spans")
    return Traces(name, tuple(spans), _partial(spans))


def _partial(spans: Sequence[Span]) -> tuple[str, ...]:
    """What is missing: spans whose parent is not among ``spans``, spans without an end."""
    known = {s.span_id for s in spans}
    out = []
    for s in spans:
        if s.parent_id is not None and s.parent_id not in known:
            out.append(f"{s.at()}: its parent span {s.parent_id} is not in the file")
        if s.end is None or s.attributes.get("agentrange.unfinished"):
            out.append(f"{s.at()}: it had not ended when recorded")
    return tuple(out)


def _parse(raw: bytes) -> Any:
    """One line, depth-checked, read by orjson.

    :func:`engine.audit.lines.parse_json` hands any line with 19 digits in a row to the
    standard library's slower parser (an integer beyond 64 bits would become a float in
    orjson), and every OTLP line holds 19-digit nanosecond times -- as strings. A number that
    large in a trace is no id or time we read, so orjson's reading of it is good enough here.
    """
    depth = nesting_within(raw)
    if depth is not True:
        return parse_json(raw)  # says which: too deep, or not JSON
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return parse_json(raw)  # the standard parser's message, with its column


def _request(name: str, number: int, document: Any, spans: list[Span], max_spans: int) -> None:
    if not isinstance(document, dict) or not isinstance(document.get("resourceSpans"), list):
        raise TraceFileError(name, "an ExportTraceServiceRequest: an object with a "
                             "'resourceSpans' list", line=number, found=_kind(document))
    for r, resource_spans in enumerate(document["resourceSpans"]):
        where = f"resourceSpans[{r}]"
        if not isinstance(resource_spans, dict):
            raise TraceFileError(name, "a ResourceSpans object", line=number, path=where,
                                 found=_kind(resource_spans))
        raw_resource = resource_spans.get("resource") or {}
        if not isinstance(raw_resource, dict):
            raise TraceFileError(name, "a Resource object", line=number,
                                 path=f"{where}.resource", found=_kind(raw_resource))
        resource = _attributes(name, number, f"{where}.resource",
                               raw_resource.get("attributes", []))
        scopes = resource_spans.get("scopeSpans", [])
        if not isinstance(scopes, list):
            raise TraceFileError(name, "a 'scopeSpans' list", line=number, path=where,
                                 found=_kind(scopes))
        for s, scope in enumerate(scopes):
            items = scope.get("spans", []) if isinstance(scope, dict) else None
            if not isinstance(items, list):
                raise TraceFileError(name, "a ScopeSpans object with a 'spans' list",
                                     line=number, path=f"{where}.scopeSpans[{s}]",
                                     found=_kind(scope))
            for i, raw in enumerate(items):
                if len(spans) >= max_spans:
                    raise TraceFileError(name, f"at most {max_spans:,} spans", line=number,
                                         found="more")
                spans.append(_span(name, number, f"{where}.scopeSpans[{s}].spans[{i}]",
                                   raw, len(spans), resource))


def _span(name: str, number: int, where: str, raw: Any, order: int,
          resource: Mapping[str, Any]) -> Span:
    if not isinstance(raw, dict):
        raise TraceFileError(name, "a Span object", line=number, path=where,
                             found=_kind(raw))
    trace_id, span_id = raw.get("traceId"), raw.get("spanId")
    if not isinstance(trace_id, str) or not _TRACE_ID.match(trace_id):
        raise TraceFileError(name, "a 'traceId' of 32 hex digits", line=number, path=where,
                             found=repr(trace_id))
    if not isinstance(span_id, str) or not _SPAN_ID.match(span_id):
        raise TraceFileError(name, "a 'spanId' of 16 hex digits", line=number, path=where,
                             found=repr(span_id))
    parent = raw.get("parentSpanId") or None
    if parent is not None and (not isinstance(parent, str) or not _SPAN_ID.match(parent)):
        raise TraceFileError(name, "a 'parentSpanId' of 16 hex digits or none", line=number,
                             path=where, found=repr(parent))
    span_name = raw.get("name")
    if not isinstance(span_name, str):
        raise TraceFileError(name, "a span 'name' string", line=number, path=where,
                             found=repr(span_name))
    start = _nanos(name, number, where, raw, "startTimeUnixNano")
    if start is None:
        raise TraceFileError(name, "a span with 'startTimeUnixNano'", line=number,
                             path=where, found="none")
    end = _nanos(name, number, where, raw, "endTimeUnixNano")
    attrs = _attributes(name, number, f"{where}.attributes", raw.get("attributes", []))
    events = []
    raw_events = raw.get("events", [])
    if not isinstance(raw_events, list):
        raise TraceFileError(name, "an 'events' list", line=number, path=where,
                             found=_kind(raw_events))
    for e, event in enumerate(raw_events):
        at = f"{where}.events[{e}]"
        if not isinstance(event, dict):
            raise TraceFileError(name, "a span event object", line=number, path=at,
                                 found=_kind(event))
        when = _nanos(name, number, at, event, "timeUnixNano")
        events.append((start if when is None else when, str(event.get("name", "")),
                       _attributes(name, number, f"{at}.attributes",
                                   event.get("attributes", []))))
    status = raw.get("status") or {}
    code = status.get("code") if isinstance(status, dict) else None
    error = code in (2, "2", "STATUS_CODE_ERROR")
    return Span(number, where, order, trace_id.lower(), span_id.lower(),
                None if parent is None else parent.lower(), span_name, start, end, attrs,
                tuple(events), error, resource)


def _nanos(name: str, number: int, where: str, raw: Mapping[str, Any], key: str
           ) -> float | None:
    value = raw.get(key)
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) \
            or not str(value).isdigit() or len(str(value)) > 20:
        raise TraceFileError(name, f"'{key}': nanoseconds since 1970 as a string of digits",
                             line=number, path=where, found=repr(value))
    return int(value) / NANOS


def _attributes(name: str, number: int, where: str, pairs: Any) -> dict[str, Any]:
    try:
        return python_attributes(pairs)
    except (ValueError, TypeError, AttributeError) as exc:
        raise TraceFileError(name, "OTLP attributes: a list of {key, value: AnyValue}",
                             line=number, path=where, found=str(exc)) from None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return f"an object with keys {', '.join(map(repr, sorted(value)[:6])) or 'none'}"
    return f"a JSON {type(value).__name__}"
