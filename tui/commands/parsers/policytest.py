"""The options of ``agentrange test`` (its handler is in :mod:`tui.commands.policytest`)."""

from __future__ import annotations

from typing import Any

from tui.commands.parsers import Handler


def register(sub: Any) -> None:
    """Add the ``test`` command to the CLI."""
    p = sub.add_parser(
        "test", help="check scenarios' expect: assertions like a test runner",
        description="Run every scenario's expect: assertions (records exposed, the decision "
        "of a step, time to contain, benign steps denied, ...) under the profiles they name "
        "and report PASS or FAIL per assertion, then 'N passed, M failed'. Exit 1 if any "
        "failed.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="scenario files, directories (a scenario.yaml in it, or every "
                   "*/scenario.yaml under it) or built-in names (default: every built-in)")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE")
    p.set_defaults(func=Handler("tui.commands.policytest", "test_command"))
