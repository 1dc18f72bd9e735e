"""The OTLP export: official protobuf definitions accept every line, ids are deterministic,
spans follow the GenAI conventions, and OTLP/HTTP reaches a local receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.otlp.support import export_run
from tui.cli import main


def _spans(path: Path) -> list[dict]:
    return [sp for line in path.read_text().splitlines()
            for rs in json.loads(line)["resourceSpans"] for ss in rs["scopeSpans"]
            for sp in ss["spans"]]


def _attrs(span: dict) -> dict:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_every_line_parses_with_the_official_definitions_and_round_trips(tmp_path):
    path = export_run(tmp_path / "t.jsonl", "multi-agent-escalation", until=3600)
    lines = path.read_text().splitlines()
    assert lines
    for line in lines:
        message = json_format.Parse(line, ExportTraceServiceRequest())
        again = json_format.Parse(json_format.MessageToJson(message),
                                  ExportTraceServiceRequest())
        assert again == message
        assert message.resource_spans[0].scope_spans[0].spans
        assert message.SerializeToString() == again.SerializeToString()


def test_same_run_gives_the_same_bytes(tmp_path):
    a = export_run(tmp_path / "a.jsonl", "support-pii-injection", until=1800)
    b = export_run(tmp_path / "b.jsonl", "support-pii-injection", until=1800)
    assert a.read_bytes() == b.read_bytes()


def test_spans_follow_the_genai_conventions(tmp_path):
    spans = _spans(export_run(tmp_path / "t.jsonl", "multi-agent-escalation", until=3600))
    by_id = {s["spanId"]: s for s in spans}
    agents = [s for s in spans if s["name"].startswith("invoke_agent ")]
    tools = [s for s in spans if s["name"].startswith("execute_tool ")]
    guards = [s for s in spans if s["name"].startswith("apply_guardrail ")]
    assert agents and tools and len(guards) == len(tools)
    a = _attrs(agents[0])
    assert a["gen_ai.operation.name"] == "invoke_agent"
    assert a["gen_ai.agent.id"].startswith("spiffe://")
    assert a["gen_ai.conversation.id"] == a["agentrange.run"]
    t = _attrs(tools[0])
    assert t["gen_ai.operation.name"] == "execute_tool"
    assert {"gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.type"} <= set(t)
    g = _attrs(guards[0])
    assert {"agentrange.effect", "agentrange.envelope", "agentrange.owner",
            "agentrange.outcome", "gen_ai.security.policy.id"} <= set(g)
    assert by_id[guards[0]["parentSpanId"]]["name"].startswith("execute_tool ")
    delegated = [s for s in agents if "parentSpanId" in s]
    assert delegated, "delegations are child invoke_agent spans"
    parent = by_id[delegated[0]["parentSpanId"]]
    assert parent["name"].startswith("invoke_agent ")
    assert parent["traceId"] == delegated[0]["traceId"]
    assert all(int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]) >= 1767225600 * 10**9
               for s in spans)


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Receiver.bodies
    server.shutdown()
    server.server_close()


def test_otlp_endpoint_posts_the_file_lines_to_v1_traces(tmp_path, receiver, capsys):
    url, bodies = receiver
    out = tmp_path / "t.jsonl"
    code = main(["run", "multi-agent-escalation", "--until", "1h", "--otlp", str(out),
                 "--otlp-endpoint", url])
    assert code == 0
    lines = out.read_text().splitlines()
    assert [b for _p, _t, b in bodies] == [line.encode() for line in lines]
    assert all(p == "/v1/traces" and t == "application/json" for p, t, _b in bodies)
    assert "traces:" in capsys.readouterr().out


def test_compare_writes_one_resource_per_profile(tmp_path):
    out = tmp_path / "t.jsonl"
    assert main(["compare", "multi-agent-escalation", "--until", "30m", "--otlp",
                 str(out), "--format", "json"]) == 0
    profiles = {a["value"]["stringValue"] for line in out.read_text().splitlines()
                for rs in json.loads(line)["resourceSpans"]
                for a in rs["resource"]["attributes"] if a["key"] == "agentrange.profile"}
    assert profiles == {"static-rbac", "jit-context"}


def test_an_unreachable_endpoint_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["run", "multi-agent-escalation", "--until", "10m",
                 "--otlp-endpoint", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2
    assert "127.0.0.1:9/v1/traces" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_an_endpoint_that_is_not_a_url_is_exit_2(capsys):
    assert main(["run", "multi-agent-escalation", "--until", "10m",
                 "--otlp-endpoint", "localhost:4318"]) == 2
    assert "expected an http:// or https:// URL" in capsys.readouterr().err


def test_a_run_stopped_by_its_budget_keeps_its_spans_marked_unfinished(tmp_path, capsys):
    out = tmp_path / "t.jsonl"
    code = main(["run", "support-pii-injection", "--max-events", "300", "--otlp", str(out)])
    assert code == 2
    assert "--max-events" in capsys.readouterr().err
    text = out.read_text()
    for line in text.splitlines():
        json_format.Parse(line, ExportTraceServiceRequest())
    assert "execute_tool " in text and '"agentrange.unfinished"' in text
