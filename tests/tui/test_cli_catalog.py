from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.yamldoc import load_yaml
from scenarios import library
from tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("agentrange ")


def test_list_shows_every_builtin_with_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == library.names()
    support = next(r for r in rows if r["name"] == "support-pii-injection")
    assert support["profiles"] == ["static-rbac", "jit-context"]
    assert "prompt injection" in support["title"]
    assert support["description"] == " ".join(
        library.load_scenario("support-pii-injection").description.split())
    assert all(len(r["description"].split()) >= 20 for r in rows)


def test_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0 and "support-pii-injection" in out


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "support-pii-injection")
    assert code == 0 and out.startswith("ok: builtin:support-pii-injection")


def test_validate_bad_file_exits_2_with_one_readable_message(
    capsys: pytest.CaptureFixture[str], scenario_data: dict[str, Any],
    write_scenario: Callable[[Any], Path],
) -> None:
    scenario_data["profiles"][0]["credentials"]["ttl"] = "-1d"
    path = write_scenario(scenario_data)
    code, _, err = run(capsys, "validate", str(path))
    assert code == 2
    assert err.startswith(f"agentrange: error: {path}:")
    assert "profiles[0].credentials.ttl" in err
    assert "Traceback" not in err


def test_validate_reports_each_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "validate", "support-pii-injection", str(tmp_path / "x.yaml"))
    assert code == 2
    assert "ok: builtin:support-pii-injection" in out
    assert "x.yaml" in err and "no such file" in err


def test_schema_validates_every_builtin_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in library.names():
        doc = load_yaml((library.path_of(name) / "scenario.yaml").read_text(), name).data
        errors = list(validator.iter_errors(doc))
        assert not errors, [e.message for e in errors[:3]]


def test_schema_rejects_an_unknown_key(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "schema")
    validator = jsonschema.Draft202012Validator(json.loads(out))
    doc = load_yaml((library.path_of("support-pii-injection") / "scenario.yaml").read_text(),
                    "scenario.yaml").data
    doc["agents"][0]["colour"] = "blue"
    assert list(validator.iter_errors(doc))


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    exe = Path(sys.executable).with_name("agentrange")
    out = subprocess.run([str(exe), "validate", str(bad)], capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{bad}:" in out.stderr


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2


@pytest.mark.parametrize("command", ["list", "validate", "schema"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: agentrange " + command in capsys.readouterr().out


def test_validate_compiles_every_profiles_policy(capsys: pytest.CaptureFixture[str],
                                                 scenario_dir: Path) -> None:
    policy = scenario_dir / "policies" / "jit-context.yaml"
    text = policy.read_text()
    assert "attr: request.records, lte: 10" in text
    policy.write_text(text.replace("attr: request.records, lte: 10",
                                   "attr: request.recrds, lte: 10"))
    code, out, err = run(capsys, "validate", str(scenario_dir / "scenario.yaml"))
    assert code == 2 and out == ""
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "request.records, lte" in t)
    assert f"{policy}:{line}:" in err
    assert "did you mean 'request.records'" in err
    assert "Traceback" not in err


def test_validate_passes_every_builtin_with_its_policies(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", *library.names())
    assert code == 0, err
    assert out.count("ok: ") == len(library.names())


def test_validate_reports_the_scenario_and_its_policies_in_one_pass(
        capsys: pytest.CaptureFixture[str], scenario_dir: Path) -> None:
    # Before: the scenario's key error hid its reference error and the policy's error; each
    # took another run to see.
    scenario = scenario_dir / "scenario.yaml"
    text = scenario.read_text()
    scenario.write_text(text.replace("    kind: customer_facing\n",
                                     "    kind: customer_facing\n    colour: blue\n", 1)
                        .replace("{tool: kb.search, resource: kb.articles, records: 5",
                                 "{tool: kb.serach, resource: kb.articles, records: 5", 1)
                        .replace("rate: 30, per: 1h", "rate: 30, per: 1s", 1))
    policy = scenario_dir / "policies" / "jit-context.yaml"
    policy.write_text(policy.read_text().replace("rules:\n", "rules:\n  - 1\n", 1))
    code, out, err = run(capsys, "validate", str(scenario))
    assert code == 2 and out == ""
    lines = err.removeprefix("agentrange: error: ").splitlines()
    assert [line.split(": at ")[1].split(":")[0] for line in lines] == [
        "agents[0].colour", "agents[0].tasks[0].arrival.rate", "agents[1].tasks[0].steps[0].tool",
        "rules[0]"]
    assert all(re.match(r"\S+:\d+:\d+: at ", line) for line in lines)
    assert lines[-1].startswith(f"{policy}:")
    assert "a mapping for a rule (found integer 1)" in lines[-1]


def test_validate_cuts_a_long_value_to_one_short_line(
        capsys: pytest.CaptureFixture[str], scenario_data: dict[str, Any],
        write_scenario: Callable[[Any], Path]) -> None:
    scenario_data["agents"][0]["tasks"][0]["steps"][0]["duration"] = "9" * 100_000 + "x"
    path = write_scenario(scenario_data)
    code, _, err = run(capsys, "validate", str(path))
    assert code == 2
    assert len(err.splitlines()) == 1 and len(err) - len(str(path)) < 250
    assert "… (100,001 characters)" in err
