"""``agentrange export cedar``, ``import cedar`` and ``--engine cedar`` from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cedarpy
import pytest

from tests.conftest import builtin_dir
from tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_writes_four_files_that_validate(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "export", "cedar", "refunds-customer-facing", "--profile",
                         "jit-context", "-o", str(out_dir))
    assert code == 0, err
    assert out.startswith("exported policy jit-context (builtin:refunds-customer-facing/"
                          "policies/jit-context.yaml) of refunds-customer-facing/jit-context: "
                          "9 Cedar policies (9 enforced, 0 shadow)")
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "entities.json", "policies.cedar", "schema.cedarschema.json", "shadow.cedar"]
    schema = (out_dir / "schema.cedarschema.json").read_text()
    assert cedarpy.validate_policies((out_dir / "policies.cedar").read_text(),
                                     schema).validation_passed
    # The export checks clean as an import against the same scenario and profile.
    code, out, err = run(capsys, "import", "cedar", str(out_dir), "--scenario",
                         "refunds-customer-facing", "--profile", "jit-context")
    assert code == 0, out
    assert out.endswith("9 Cedar policies checked against refunds-customer-facing: agentrange "
                        "can rehearse it\n")


def test_export_refuses_a_rule_cedar_cannot_express(capsys: pytest.CaptureFixture[str],
                                                    scenario_dir: Path,
                                                    tmp_path: Path) -> None:
    policy = scenario_dir / "policies" / "jit-context.yaml"
    text = policy.read_text()
    assert text.count("\nrules:\n") == 1
    policy.write_text(text.replace("\nrules:\n", "\nrules:\n  - id: odd-recipients\n"
                                   "    envelope: security\n    effect: deny\n"
                                   "    when: {attr: request.recipient, glob: 'a?'}\n"))
    code, out, err = run(capsys, "export", "cedar", str(scenario_dir), "--profile",
                         "jit-context", "-o", str(tmp_path / "x"))
    assert code == 2 and out == ""
    assert err.startswith("agentrange: error: ")
    assert "rule odd-recipients: request.recipient glob 'a?'" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_import_reports_each_problem_with_file_and_line(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    path = tmp_path / "mine.cedar"
    path.write_text('@id("a")\n@envelope("security")\npermit (principal, action, resource)\n'
                    'when { context.ticket.priority == "p1" };\n')
    code, out, _err = run(capsys, "import", "cedar", str(path), "--scenario",
                          "support-pii-injection")
    assert code == 2
    assert f"{path}:4: error: context.ticket.priority: agentrange supplies no such " \
           "attribute" in out
    assert out.rstrip().endswith("problems agentrange cannot rehearse")


def test_unknown_profile_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    code, _out, err = run(capsys, "export", "cedar", "support-pii-injection", "--profile",
                          "nope", "-o", str(tmp_path))
    assert code == 2
    assert err == ("agentrange: error: --profile: scenario support-pii-injection has no "
                   "profile 'nope' (profiles: static-rbac, jit-context)\n")


def test_run_with_engine_cedar_gives_the_native_result(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    args = ("run", "support-pii-injection", "--profile", "jit-context", "--until", "2h",
            "--format", "json")
    code, native, err = run(capsys, *args)
    assert code == 0, err
    code, cedar, err = run(capsys, *args, "--engine", "cedar")
    assert code == 0, err
    assert json.loads(cedar) == json.loads(native)


def test_compare_with_engine_cedar(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "compare", "multi-agent-escalation", "--engine", "cedar",
                         "--until", "1h", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["profiles"] == ["static-rbac", "jit-context"]


def test_a_cedar_profile_refuses_the_native_engine(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "run", "refunds-cedar", "--engine", "native")
    assert code == 2
    assert err == ("agentrange: error: profile jit-context is written in Cedar; it runs only "
                   "with --engine cedar\n")


def test_validate_checks_the_cedar_policies_of_a_profile_written_in_cedar(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # validate compiled the policy file only: a Cedar policy reading an attribute agentrange
    # cannot supply passed validate, and failed when the run started.
    assert main(["validate", "refunds-cedar"]) == 0
    assert "(Cedar policies of jit-context checked)" in capsys.readouterr().out
    copy = tmp_path / "refunds-cedar"
    shutil.copytree(builtin_dir("refunds-cedar"), copy)
    cedar = copy / "policies" / "jit-context.cedar"
    with cedar.open("a") as out:
        out.write("\npermit (principal, action, resource)\n"
                  "when { principal.nonexistent == 3 };\n")
    line = cedar.read_text().splitlines().index("when { principal.nonexistent == 3 };") + 1
    assert main(["validate", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"profile jit-context: {cedar}:{line}: error: attribute `nonexistent`" in err
