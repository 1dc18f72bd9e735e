"""The options of ``agentrange list``, ``validate`` and ``schema``.

Their handlers are in :mod:`tui.commands.catalog`.
"""

from __future__ import annotations

from typing import Any

from tui.commands.parsers import Handler


def register(sub: Any) -> None:
    """Add the catalogue commands to the CLI."""
    p = sub.add_parser("list", help="list the built-in scenarios",
                       description="List the built-in scenarios with a one-line description.")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=Handler("tui.commands.catalog", "run_list"))

    p = sub.add_parser("validate", help="check scenario files load cleanly",
                       description="Load and validate scenario files (or built-in names); "
                       "print every problem with file, line and column.")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="a scenario file, a directory holding scenario.yaml, or a built-in name")
    p.set_defaults(func=Handler("tui.commands.catalog", "run_validate"))

    p = sub.add_parser("schema", help="print the JSON Schema of the scenario format",
                       description="Print the JSON Schema of scenario files (and policy files "
                       "with --policy) so editors can complete and check them.")
    p.add_argument("--policy", action="store_true", help="the policy-file schema instead")
    p.set_defaults(func=Handler("tui.commands.catalog", "run_schema"))
