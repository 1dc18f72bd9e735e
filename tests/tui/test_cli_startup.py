"""The command line starts light: building the parser, ``--help`` and ``--version`` import no
simulator, engine model, Rich, Textual, pydantic or crypto (issue 23); each command imports its
own module only when it runs, and every handler the parser names exists.

These are import checks in a fresh interpreter, not timings (benchmarks/startup.py times them).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import build_parser
from tui.commands.parsers import Handler

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("simpy", "textual", "rich", "pydantic", "cryptography", "jwt", "ruamel", "orjson",
         "sim", "engine.policy", "engine.model", "engine.loader", "engine.identity",
         "engine.audit", "scenarios")
"""Packages (with everything under them) that building the parser must not import."""


RUN_AND_LIST_MODULES = """
import sys
from tui.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write("\\n".join(["--", *sorted(sys.modules)]))
raise SystemExit(code)
"""
"""Run the command line on its arguments, then list ``sys.modules`` on stderr after "--"."""


def heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules
                  if any(m == h or m.startswith(h + ".") for h in HEAVY))


def modules_after(argv: list[str]) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """Every module in ``sys.modules`` after a fresh interpreter ran ``agentrange ARGV``.

    (Read from ``sys.modules`` rather than ``-X importtime``, which does not see modules
    loaded through ``importlib.import_module``.)
    """
    done = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    return done.stderr.rpartition("--\n")[2].split(), done


def test_building_the_parser_imports_nothing_heavy() -> None:
    code = ("import sys\nfrom tui.cli import build_parser\nbuild_parser()\n"
            "print('\\n'.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert "tui.commands.parsers.run" in loaded  # the check looked at a built parser
    assert heavy(loaded) == []


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(option: str) -> None:
    modules, done = modules_after([option])
    assert done.returncode == 0, done.stderr
    assert "tui.commands.parsers.check" in modules
    assert heavy(modules) == []


def test_version_prints_the_installed_version() -> None:
    done = subprocess.run([sys.executable, "-m", "tui.cli", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("agentrange ") and done.stdout.count("\n") == 1


def test_validate_imports_no_simulator_and_no_dashboard() -> None:
    modules, done = modules_after(["validate", "support-pii-injection"])
    assert done.returncode == 0, done.stderr
    assert "tui.commands.catalog" in modules  # the command ran
    assert [m for m in modules if m.split(".")[0] in ("simpy", "textual", "sim")] == []


def _handlers(parser: argparse.ArgumentParser) -> list[tuple[str, object]]:
    """Every (command path, func default) of the parser's subcommands, nested ones included."""
    found: list[tuple[str, object]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                func = sub.get_default("func")
                if func is not None:
                    found.append((f"{parser.prog} {name}", func))
                found.extend(_handlers(sub))
    return found


def test_every_command_names_a_handler_that_exists() -> None:
    handlers = _handlers(build_parser())
    assert len(handlers) >= 13  # tui, run, compare, sweep, list, validate, schema, ...
    for command, func in handlers:
        assert isinstance(func, Handler), command
        assert callable(func.resolve()), command
