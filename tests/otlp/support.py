"""Shared helpers for the OTLP tests: a short run exported, a hand-written trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scenarios.library import load_scenario
from sim.otlp.export import OtlpFile, OtlpSink
from sim.runner import Simulation


def export_run(path: Path, scenario: str, profile: str | None = None,
               until: float = 1800.0) -> Path:
    sc = load_scenario(scenario)
    with open(path, "w", encoding="utf-8") as f:
        sink = OtlpSink(OtlpFile(f, str(path)), "test")
        Simulation(sc, profile or sc.default_profile_id, seed=sc.seed, sink=sink,
                   until=until).run()
        sink.close()
    return path


def attrs(**values: Any) -> list[dict[str, Any]]:
    out = []
    for k, v in values.items():
        key = k.replace("__", ".")
        out.append({"key": key, "value": {"intValue": str(v)} if isinstance(v, int)
                    else {"stringValue": v}})
    return out


T0 = 1_767_600_000_000_000_000  # a Monday, in nanoseconds


def span(trace: str, span_id: str, parent: str | None, name: str, start_s: float,
         **attributes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": trace, "spanId": span_id, "name": name, "kind": 1,
                           "startTimeUnixNano": str(T0 + int(start_s * 1e9)),
                           "endTimeUnixNano": str(T0 + int((start_s + 1) * 1e9)),
                           "attributes": attrs(**attributes)}
    if parent:
        out["parentSpanId"] = parent
    return out


def foreign_trace(path: Path) -> Path:
    """A trace in the GenAI conventions' shape, as an instrumented framework writes it."""
    t1, t2 = "a" * 32, "b" * 32
    spans = [
        span(t1, "1" * 16, None, "invoke_agent support-bot", 0,
             gen_ai__operation__name="invoke_agent", gen_ai__agent__name="support-bot",
             gen_ai__conversation__id="conv-1"),
        span(t1, "2" * 16, "1" * 16, "execute_tool helpdesk.read_ticket", 1,
             gen_ai__operation__name="execute_tool", gen_ai__tool__name="helpdesk.read_ticket",
             gen_ai__tool__call__id="call-1",
             gen_ai__tool__call__arguments=json.dumps({"records": 1})),
        span(t1, "3" * 16, "1" * 16, "execute_tool crm.export_customers", 2,
             gen_ai__operation__name="execute_tool", gen_ai__tool__name="crm.export_customers",
             gen_ai__tool__call__id="call-2"),
        span(t1, "4" * 16, "1" * 16, "execute_tool email.send_external", 3,
             gen_ai__operation__name="execute_tool", gen_ai__tool__name="email.send_external",
             gen_ai__tool__call__id="call-3"),
        span(t2, "5" * 16, None, "invoke_agent ticket-helper", 10,
             gen_ai__operation__name="invoke_agent", gen_ai__agent__name="ticket-helper",
             gen_ai__conversation__id="conv-2"),
        span(t2, "6" * 16, "5" * 16, "execute_tool kb.search", 11,
             gen_ai__operation__name="execute_tool", gen_ai__tool__name="kb.search"),
        span(t2, "7" * 16, "5" * 16, "execute_tool web.browse", 12,
             gen_ai__operation__name="execute_tool", gen_ai__tool__name="web.browse"),
    ]
    request = {"resourceSpans": [{"resource": {"attributes": attrs(service__name="bots")},
                                  "scopeSpans": [{"scope": {"name": "framework"},
                                                  "spans": spans}]}]}
    path.write_text(json.dumps(request) + "\n", encoding="utf-8")
    return path
