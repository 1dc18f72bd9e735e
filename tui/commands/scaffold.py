"""``agentrange scaffold``: a new scenario from an MCP server's tools, or a commented starter.

The conversion is data in :mod:`engine.scaffold`; this module reads the options and writes
the files (never over existing ones without ``--force``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from engine.errors import AgentrangeError
from engine.scaffold.documents import POLICY_FILE, from_mcp, starter
from engine.scaffold.mcp import read_tools

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ScaffoldCommandError(AgentrangeError):
    """A bad option or a file that cannot be written."""


def scaffold_command(args: argparse.Namespace) -> int:
    """Write (or print) the scenario and its policy."""
    if not _NAME.match(args.name):
        raise ScaffoldCommandError(f"--name {args.name!r}: expected letters, digits, '.', '_' "
                                   "or '-', starting with a letter or digit")
    if args.mcp:
        tools = read_tools(args.mcp)
        scenario, policy = from_mcp(tools, args.name, Path(args.mcp).name)
        what = f"{len(tools)} tools from {args.mcp}"
    else:
        scenario, policy = starter(args.name)
        what = "a commented starter"
    if not args.output:
        sys.stdout.write(scenario)
        print(f"agentrange: scaffolded {what}; with -o FILE the policy ({POLICY_FILE}) is "
              "written beside it", file=sys.stderr)
        return 0
    target = Path(args.output)
    policy_path = target.parent / POLICY_FILE
    existing = [p for p in (target, policy_path) if p.exists()]
    if existing and not args.force:
        raise ScaffoldCommandError(f"{existing[0]}: already exists; refusing to overwrite it "
                                   "(--force to replace)")
    try:
        policy_path.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(scenario, encoding="utf-8")
        policy_path.write_text(policy, encoding="utf-8")
    except OSError as exc:
        raise ScaffoldCommandError(f"{exc.filename or target}: cannot write: "
                                   f"{exc.strerror or exc}") from None
    print(f"wrote {target} ({what}) and {policy_path}")
    print(f"next: fill in the owners, then agentrange validate {target} && "
          f"agentrange check {target}")
    return 0
