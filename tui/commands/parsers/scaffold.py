"""The options of ``agentrange scaffold`` (its handler is in :mod:`tui.commands.scaffold`)."""

from __future__ import annotations

from typing import Any

from tui.commands.parsers import Handler


def register(sub: Any) -> None:
    """Add the ``scaffold`` command to the CLI."""
    p = sub.add_parser(
        "scaffold", help="start a new scenario (from an MCP server's tools, or commented)",
        description="Write a new scenario and its starter policy. With --mcp, from an MCP "
        "tools/list result: one tool per MCP tool, its action, egress and risk derived from "
        "the server's annotations (untrusted hints, marked so), a role granting them and a "
        "placeholder agent whose owners you fill in. Without it, a commented starter. With -o "
        "the policy is written to policies/starter.yaml beside the scenario; without it the "
        "scenario is printed.")
    p.add_argument("--mcp", metavar="TOOLS.json",
                   help="an MCP tools/list result (or the JSON-RPC response holding it)")
    p.add_argument("-o", "--output", metavar="scenario.yaml",
                   help="write the scenario here and its policy to policies/starter.yaml "
                   "beside it")
    p.add_argument("--name", default="my-agents",
                   help="the scenario's name (default: my-agents)")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.set_defaults(func=Handler("tui.commands.scaffold", "scaffold_command"))
