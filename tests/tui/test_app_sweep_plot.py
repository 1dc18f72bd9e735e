"""``agentrange tui --sweep RESULT.json``: the trade-off chart and table of a saved sweep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from sim.tradeoff import load_sweep_file
from tui.app import make_app
from tui.cli import main
from tui.screens.sweep_plot import SweepPlotScreen


def cell(label: str, records: list[float], latency: list[float], denied: list[float],
         expect: list[bool] | None) -> dict[str, Any]:
    return {"label": label, "expect": expect, "metrics": {
        "blast_radius.records": {"values": records},
        "time_to_contain": {"values": [None if r else 20.0 for r in records]},
        "delivery.task_latency_p95": {"values": latency},
        "delivery.benign_denied_rate": {"values": denied}}}


RESULT = {
    "scenario": "support-pii-injection", "seeds": [1, 2, 3],
    "metrics": ["blast_radius.records", "time_to_contain", "delivery.task_latency_p95",
                "delivery.benign_denied_rate"],
    "cells": [
        cell("static-rbac ttl=5m", [250001, 250001, 250001], [110, 106, 112], [0, 0, 0],
             [True, True, True]),
        cell("static-rbac ttl=1h", [250001, 250001, 250001], [118, 117, 119], [0, 0, 0],
             [True, False, True]),
        cell("jit-context ttl=5m", [1, 1, 1], [300, 290, 310], [0.01, 0.02, 0.01],
             [True, True, False]),
        cell("jit-context ttl=1h", [1, 1, 1], [600, 620, 580], [0.01, 0.02, 0.01],
             [False, False, False]),
    ]}


@pytest.fixture
def result_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(RESULT))
    return path


async def test_the_screen_plots_the_frontier_and_steps_through_the_axes(
        result_file: Path) -> None:
    app = make_app(None, sweep=load_sweep_file(str(result_file)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SweepPlotScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 4
        assert [str(c) for c in table.get_row_at(1)] == [
            "static-rbac ttl=1h", "dominated by static-rbac ttl=5m", "2/3", "67%", "0%"]
        # The first cost and harm metrics that differ between combinations.
        assert (screen.x, screen.y) == ("delivery.benign_denied_rate", "blast_radius.records")
        assert screen.query_one(PlotextPlot).plt is not None
        await pilot.press("x")
        assert screen.x == "delivery.task_latency_p95"
        await pilot.press("y")
        assert screen.y == "time_to_contain"
        await pilot.press("q")
    assert app.return_code == 0


def test_the_sweep_screen_on_a_100x32_terminal(snap_compare: Any, result_file: Path) -> None:
    app = make_app(None, sweep=load_sweep_file(str(result_file)))
    assert snap_compare(app, terminal_size=(100, 32))


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"),
    ('{"cells": 3}', "not a sweep result"),
])
def test_a_bad_sweep_file_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path, content: str,
                                                 message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code = main(["tui", "--sweep", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith(f"agentrange: error: {path}: {message}")
    assert len(err.strip().splitlines()) == 1


def test_a_missing_sweep_file_and_a_missing_extra_are_named(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, result_file: Path) -> None:
    assert main(["tui", "--sweep", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: cannot read it" in capsys.readouterr().err
    monkeypatch.setitem(__import__("sys").modules, "textual_plotext", None)
    assert main(["tui", "--sweep", str(result_file)]) == 2
    assert "agentrange[plot]" in capsys.readouterr().err
