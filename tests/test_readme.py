"""The README's two set-up commands are real, and CI runs the same install as the README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick, flags=re.S)


def test_readme_has_exactly_two_quick_start_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)


def test_ci_installs_and_tests_exactly_as_the_readme_says() -> None:
    _, test_command = readme_commands()
    install, _, runner = test_command.rpartition(" && ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert install in ci.splitlines()
    assert runner in ci.splitlines()


def test_the_first_command_opens_the_dashboard() -> None:
    # `agentrange` alone is the product's front door (tests/tui/test_app_live.py drives it).
    run_command, _ = readme_commands()
    assert run_command.endswith("&& pip install . && agentrange")
