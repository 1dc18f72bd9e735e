"""The ``agentrange`` command line: parses arguments and dispatches to one module per command.

Every error a user can cause is printed as one message (file, place, what was expected) with
exit code 2; no traceback reaches the terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from engine.errors import AgentrangeError

# Each module exposes ``register(subparsers)``; a command sets ``func(args) -> int``.
COMMAND_MODULES = (
    "tui.commands.tui",
    "tui.commands.run",
    "tui.commands.sweep",
    "tui.commands.catalog",
    "tui.commands.audit",
    "tui.commands.report",
    "tui.commands.check",
    "tui.commands.policytest",
    "tui.commands.replay",
    "tui.commands.cedar",
)


def package_version() -> str:
    """The installed distribution's version."""
    try:
        return version("agentrange")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="agentrange",
        description="A flight simulator for AI-agent governance.",
    )
    parser.add_argument("--version", action="version", version=f"agentrange {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # not written yet on this checkout
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        # No command: open the dashboard on the default scenario, already playing.
        func = _default_command(parser, args)
    try:
        return func(args)
    except AgentrangeError as exc:
        print(f"agentrange: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("agentrange: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _default_command(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> Callable[[argparse.Namespace], int]:
    try:
        from tui.commands.tui import open_dashboard
    except ModuleNotFoundError:
        def print_help(_: argparse.Namespace) -> int:
            parser.print_help()
            return 0

        return print_help
    return open_dashboard


if __name__ == "__main__":
    sys.exit(main())
