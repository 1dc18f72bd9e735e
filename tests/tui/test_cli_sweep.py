"""``agentrange sweep``: table, Markdown, JSON and CSV output, and one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tui.cli import main

ARGS = ["sweep", "support-pii-injection", "--seeds", "1-2", "--until", "1h", "--jobs", "1",
        "--vary", "profile.credentials.ttl=5m,1h"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_table_has_a_row_per_profile_and_value(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *ARGS, "--metric", "tokens.expired")
    assert code == 0, err
    assert out.startswith("support-pii-injection: 8 runs (4 combinations x 2 seeds: 1-2)")
    first = out.split("└")[0]  # the metrics table (the trade-off table follows)
    rows = [line.split("│")[1:-1] for line in first.splitlines() if line.startswith("│")]
    assert [[c.strip() for c in row] for row in rows] == [
        ["static-rbac", "5m", "2"], ["static-rbac", "1h", "0"],
        ["jit-context", "5m", "0.5"], ["jit-context", "1h", "0"]]
    assert "median over the 2 seeds of each row" in out


def test_json_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *ARGS, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"scenario", "seeds", "runs", "vary", "metrics", "cells", "tradeoff"}
    assert data["seeds"] == [1, 2] and data["runs"] == 8
    assert data["vary"] == {"profile.credentials.ttl": ["5m", "1h"]}
    cell = data["cells"][0]
    assert (cell["profile"], cell["values"], cell["label"]) == (
        "static-rbac", {"profile.credentials.ttl": "5m"}, "static-rbac ttl=5m")
    assert set(cell) == {"profile", "values", "label", "metrics", "expect"}
    assert set(cell["metrics"]) == set(data["metrics"])
    summary = cell["metrics"]["time_to_contain"]
    assert set(summary) == {"median", "mean", "min", "max", "p95", "missing", "values"}
    assert len(summary["values"]) == 2


def test_csv_has_one_row_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *ARGS, "--format", "csv", "--metric", "tokens.expired")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 8
    assert list(rows[0]) == ["profile", "profile.credentials.ttl", "seed", "tokens.expired"]
    assert rows[0] == {"profile": "static-rbac", "profile.credentials.ttl": "5m", "seed": "1",
                       "tokens.expired": "2.0"}


def test_markdown_shows_ranges_and_runs_that_never_happened(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sweep", "refunds-customer-facing", "--profiles",
                         "static-rbac", "--seeds", "1-4", "--jobs", "1", "--format",
                         "markdown", "--metric", "blast_radius.amount", "--metric",
                         "time_to_contain")
    assert code == 0, err
    assert "| profile | money moved | time to contain |" in out
    # Seeds 1-4: in every run tired approvers let one or two fraudulent 3,960-euro refunds
    # through, and nothing contained the incidents.
    assert out.startswith("## refunds-customer-facing: 4 runs (1 combination x 4 seeds: 1-4)")
    assert "| static-rbac | 7,920 [3,960-7,920] | never in 4 |" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--profiles", "nope"], "no profile 'nope'"),
    (["--vary", "approvers.cuont=1"], "no field 'cuont' at approvers"),
    (["--vary", "approvers.count"], "expected PATH=VALUE"),
    (["--seeds", "9-1"], "runs backwards"),
    (["--jobs", "0"], "--jobs: expected 1 or more"),
    (["--metric", "blast_radius"], "--metric blast_radius: not a number"),
    (["--until", "soon"], "--until"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          message: str) -> None:
    code, out, err = run(capsys, "sweep", "support-pii-injection", "--seeds", "1", *argv)
    assert code == 2 and out == ""
    assert err.startswith("agentrange: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
