"""Scenario environments: identities per profile, and the load errors of bad references."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import LoadError
from engine.loader import load_scenario
from scenarios.library import load_scenario as load_builtin

CI = Path(__file__).parents[2] / "scenarios" / "ci-pipeline-trust"


@pytest.fixture
def ci_copy(tmp_path: Path) -> Path:
    shutil.copytree(CI, tmp_path / "ci")
    return tmp_path / "ci" / "scenario.yaml"


def edit(path: Path, old: str, new: str) -> int:
    """Replace ``old`` once in the scenario file; return the 1-based line it was on."""
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return text[: text.index(old)].count("\n") + 1


def load_error(path: Path) -> LoadError:
    with pytest.raises(LoadError) as info:
        load_scenario(path)
    return info.value


def test_an_isolating_profile_puts_each_agent_in_its_environments_trust_domain() -> None:
    s = load_builtin("ci-pipeline-trust")
    isolated, shared = s.profile("jit-pinned"), s.profile("static-shared")
    assert str(s.identity_of(s.agent("deploy-test"), isolated)) == \
        "spiffe://test.acme.example/agent/deploy-test"
    assert str(s.identity_of(s.agent("deploy-prod"), isolated)) == \
        "spiffe://prod.acme.example/agent/deploy-prod"
    assert str(s.identity_of(s.agent("deploy-test"), shared)) == \
        "spiffe://acme.example/agent/deploy-test"


def test_an_unknown_environment_of_an_agent_is_a_load_error_at_its_line(ci_copy: Path) -> None:
    line = edit(ci_copy, "    environment: test\n", "    environment: staging\n")
    err = load_error(ci_copy)
    assert err.line == line
    assert "the id of a declared environment" in str(err)
    assert "unknown environment 'staging'" in str(err)


def test_an_unknown_environment_of_a_resource_is_a_load_error_at_its_line(
        ci_copy: Path) -> None:
    line = edit(ci_copy, "records: 5000, environment: test}", "records: 5000, environment: qa}")
    err = load_error(ci_copy)
    assert err.line == line
    assert "unknown environment 'qa'" in str(err)


def test_an_environment_reusing_the_scenarios_trust_domain_is_a_load_error(
        ci_copy: Path) -> None:
    line = edit(ci_copy, "trust_domain: prod.acme.example", "trust_domain: acme.example")
    err = load_error(ci_copy)
    assert err.line == line
    assert "a trust domain of its own" in str(err)
    assert "acme.example, the scenario's" in str(err)


def test_a_tool_placed_apart_from_its_resource_is_a_load_error(ci_copy: Path) -> None:
    line = edit(ci_copy, "resources: [test.deployments], risk: medium}",
                "resources: [test.deployments], risk: medium, environment: prod}")
    err = load_error(ci_copy)
    assert err.line == line
    assert "the environment of its resource test.deployments (test)" in str(err)


def test_isolating_a_scenario_without_environments_is_a_load_error(ci_copy: Path) -> None:
    text = ci_copy.read_text()
    start = text.index("environments:\n  - {id: test")
    end = text.index("duration:")
    ci_copy.write_text(text[:start] + text[end:])
    for token in ("environment: test}", "environment: prod}"):
        ci_copy.write_text(ci_copy.read_text().replace(", " + token, "}"))
    ci_copy.write_text(ci_copy.read_text().replace("    environment: test\n", "")
                       .replace("    environment: prod\n", "")
                       .replace(" environment: prod,\n", "\n"))
    line = ci_copy.read_text().split("\n").index("    environments: isolated") + 1
    err = load_error(ci_copy)
    assert err.line == line
    assert "'isolated' with no environments" in str(err)


def test_validate_reports_a_bad_environment_in_one_line_and_exits_2(ci_copy: Path) -> None:
    line = edit(ci_copy, "    environment: prod\n", "    environment: production\n")
    done = subprocess.run([sys.executable, "-m", "tui.cli", "validate", str(ci_copy)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"scenario.yaml:{line}:" in done.stderr + done.stdout
    assert "unknown environment 'production'" in done.stderr + done.stdout
