"""Traces with any one value replaced: judged or refused in one line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.otlp.support import export_run, foreign_trace
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                     | st.text(max_size=8), lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


def _documents(tmp: Path) -> list[str]:
    own = export_run(tmp / "own.jsonl", "multi-agent-escalation", until=300)
    return [foreign_trace(tmp / "f.jsonl").read_text().splitlines()[0],
            own.read_text().splitlines()[0]]


_DOCS: list[str] = []


@pytest.mark.slow
@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_value_replaced_is_judged_or_refused_in_one_line(tmp_path, capsys, data):
    if not _DOCS:
        _DOCS.extend(_documents(tmp_path))
    which = data.draw(st.sampled_from([0, 1]))
    doc = json.loads(_DOCS[which])
    path = data.draw(st.sampled_from(_paths(doc)))
    doc = _replace(doc, path, data.draw(_json))
    trace = tmp_path / "mutant.jsonl"
    trace.write_text(json.dumps(doc) + "\n")
    scenario = "support-pii-injection" if which == 0 else "multi-agent-escalation"
    code = main(["replay", str(trace), "--otlp", "--scenario", scenario, "--profile",
                 "jit-context", "--format", "json"])
    out = capsys.readouterr()
    assert code in (0, 2), out.err
    if code == 2:
        assert len(out.err.strip().splitlines()) == 1 and "Traceback" not in out.err
