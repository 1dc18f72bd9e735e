"""``agentrange report``: from a fresh run or a log, Markdown or HTML, files and exit codes."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.audit.signing import derive_signing_key
from engine.audit.writer import AuditWriter
from tui.cli import main

SCENARIO = "support-pii-injection"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def static_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "static.audit.jsonl"
    assert main(["run", SCENARIO, "--profile", "static-rbac", "--audit", str(path),
                 "--format", "json"]) == 0
    return path


def test_report_on_a_scenario_runs_it_and_prints_markdown(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "report", SCENARIO, "--profile", "jit-context")
    assert code == 0, err
    assert out.startswith("# Accountability report: support-pii-injection under jit-context "
                          "(seed 7)")
    assert "| audit log | none: folded from the run's events as it played |" in out
    assert "STOPPED: support-bot → crm.export_customers" in out
    assert "token check (out_of_scope)" in out
    assert "detected 2h20s" in out


def test_report_names_the_money_an_incident_moved(capsys: pytest.CaptureFixture[str]) -> None:
    # Under the approval gate alone a tired approver lets the fraudulent refund through.
    code, out, err = run(capsys, "report", "refunds-customer-facing", "--profile",
                         "static-rbac")
    assert code == 0, err
    assert "money moved 3,960;" in out
    code, out, err = run(capsys, "run", "refunds-customer-facing", "--profile", "static-rbac")
    assert code == 0, err
    rows = [line for line in out.splitlines() if "money moved" in line]
    assert rows and "3,960" in rows[0], out  # the run's summary table comes first


def test_report_on_a_log_reads_scenario_profile_and_seed_from_its_header(
        capsys: pytest.CaptureFixture[str], static_log: Path) -> None:
    code, out, err = run(capsys, "report", "--audit-log", str(static_log))
    assert code == 0, err
    assert out.startswith("# Accountability report: support-pii-injection under static-rbac "
                          "(seed 7)")
    assert "NOT STOPPED: support-bot → crm.export_customers" in out
    assert "NOT STOPPED: support-bot → email.send_external" in out
    assert "cx-lead (Dana Ortiz)" in out


def test_report_html_to_a_file(capsys: pytest.CaptureFixture[str], static_log: Path,
                               tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code, out, _ = run(capsys, "report", "--audit-log", str(static_log), "--format", "html",
                       "-o", str(target))
    assert code == 0 and out == ""
    page = target.read_text(encoding="utf-8")
    parser = HTMLParser()
    parser.feed(page)
    parser.close()
    assert page.startswith("<!DOCTYPE html>") and "@media print" in page
    assert "NOT STOPPED" in page


def test_a_tampered_log_still_reports_with_a_warning_and_exit_1(
        capsys: pytest.CaptureFixture[str], static_log: Path, tmp_path: Path) -> None:
    lines = static_log.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[10])
    record["data"]["outcome"] = "blocked"
    lines[10] = json.dumps(record).encode() + b"\n"
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"".join(lines))
    code, out, err = run(capsys, "report", "--audit-log", str(tampered))
    assert code == 1
    assert out.splitlines()[2].startswith("> **WARNING: this audit log FAILED verification")
    assert "failed verification" in err


def test_a_log_needs_no_scenario_file_its_events_carry_everything(
        capsys: pytest.CaptureFixture[str], static_log: Path, tmp_path: Path) -> None:
    lines = static_log.read_bytes().splitlines(keepends=True)
    header = json.loads(lines[0])
    header["header"]["meta"]["scenario"] = "no-such-scenario"
    lines[0] = json.dumps(header).encode() + b"\n"
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_bytes(b"".join(lines))
    code, out, _ = run(capsys, "report", "--audit-log", str(renamed))
    assert code == 1  # the header was edited, so the log no longer verifies
    assert "support-pii-injection under static-rbac" in out and "cx-lead (Dana Ortiz)" in out


def test_the_devops_report_from_the_log_and_from_the_run_agree_with_the_result(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Issue 14: the log-based report said 19,205,003 records touched, the run 4,801,253.
    log = tmp_path / "devops.jsonl"
    code, out, err = run(capsys, "run", "devops-static-keys", "--profile", "static-rbac",
                         "--audit-log", str(log), "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    code, out, err = run(capsys, "report", "--audit-log", str(log), "--format", "json")
    assert code == 0, err
    from_log = json.loads(out)
    code, out, err = run(capsys, "report", "devops-static-keys", "--profile", "static-rbac",
                         "--format", "json")
    assert code == 0, err
    from_run = json.loads(out)
    assert from_log["log"]["ok"] is True and from_run["log"] is None
    for key in ("incidents", "attempts", "summary", "owner_gaps", "decisions", "references"):
        assert from_log[key] == from_run[key], key
    touched = sum(i["reached"]["records"] for i in from_log["incidents"])
    assert touched == result["blast_radius"]["records"] == 4_801_253
    assert touched <= result["blast_radius"]["potential_records"]
    assert [i["reached"]["egress_records"] for i in from_log["incidents"]] == \
        [i["blast_radius"]["egress_records"] for i in result["incidents"]]
    assert all(i["detected_at"] is not None for i in from_log["incidents"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "give a SCENARIO to run, or --audit-log FILE"),
        ((SCENARIO, "--audit-log", "x.jsonl"), "not both"),
        (("--audit-log", "missing.jsonl"), "missing.jsonl: no such audit log"),
        ((SCENARIO, "--profile", "nope"), "has no profile 'nope'"),
        (("no-such-scenario",), "no-such-scenario"),
        ((SCENARIO, "--key", "k.pem"), "applies to --audit-log"),
        (("--audit-log", "x.jsonl", "--profile", "p"), "apply to a run"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                          argv: tuple[str, ...], message: str) -> None:
    code, out, err = run(capsys, "report", *argv)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_file_that_is_not_a_log_is_refused(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello\n")
    code, _, err = run(capsys, "report", "--audit-log", str(bogus))
    assert code == 2 and "line 1 is not an agentrange audit log header" in err


def test_a_log_of_records_that_are_not_events_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    with AuditWriter(path, derive_signing_key(1), run_id="old") as log:
        log.append({"agent": "bot", "decision": {"effect": "allow"}})
    code, out, err = run(capsys, "report", "--audit-log", str(path))
    assert code == 2 and out == ""
    assert f"{path}: record 1 is not an agentrange event" in err
    assert len(err.strip().splitlines()) == 1
