"""The ``agentrange`` command line: parses arguments and dispatches to one module per command.

Building the parser imports only the light option modules under ``tui/commands/parsers/``;
a command's own module (the simulator, Rich, Textual, ...) is imported when that command runs,
so ``--help`` and ``--version`` answer at once. Every error a user can cause is printed as one
message (file, place, what was expected) with exit code 2; no traceback reaches the terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

from engine.errors import AgentrangeError

# Each module exposes ``register(subparsers)``; a command sets ``func(args) -> int`` (a
# ``tui.commands.parsers.Handler`` that imports the command's module when it runs).
COMMAND_MODULES = (
    "tui.commands.parsers.tui",
    "tui.commands.parsers.run",
    "tui.commands.parsers.sweep",
    "tui.commands.parsers.catalog",
    "tui.commands.parsers.audit",
    "tui.commands.parsers.report",
    "tui.commands.parsers.check",
    "tui.commands.parsers.policytest",
    "tui.commands.parsers.replay",
    "tui.commands.parsers.cedar",
    "tui.commands.parsers.scaffold",
    "tui.commands.parsers.serve",
    "tui.commands.parsers.drill",
)


def package_version() -> str:
    """The installed distribution's version."""
    # importlib.metadata costs tens of milliseconds to import: only --version and SARIF need it.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agentrange")
    except PackageNotFoundError:
        return "0+unknown"


class _VersionAction(argparse.Action):
    """``--version``, as argparse's own, but the version is looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS,
                 help: str = "show program's version number and exit") -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"agentrange {package_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="agentrange",
        description="A flight simulator for AI-agent governance.",
    )
    parser.add_argument("--version", action=_VersionAction)
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
    # `serve` passes the dashboard's own options through (``agentrange serve --speed max``);
    # every other command takes only its own.
    args, extra = parser.parse_known_args(argv)
    if extra and not hasattr(args, "passthrough"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if hasattr(args, "passthrough"):
        args.passthrough = extra
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
