"""The command line's parsers: one light module per command, holding its options and help.

Building the parser must not load the simulator, the scenario model or Rich and Textual, so
that ``agentrange --version`` and ``--help`` answer at once (issue 23). A module here imports
only the standard library and leaf constants, and names its command's handler by module and
function (:class:`Handler`): the command's own module under ``tui/commands/``, with all it
needs, is imported when the command runs. ``tests/tui/test_cli_startup.py`` holds them to it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from importlib import import_module


class Handler:
    """A command's handler, imported from its module when the command runs.

    (A plain class, not a dataclass: importing :mod:`dataclasses` alone costs more than the
    rest of building the parser.)

    Attributes:
        module: The command's module, such as ``tui.commands.run``.
        name: The function there that takes the parsed arguments and returns the exit code.
    """

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    def __repr__(self) -> str:
        return f"Handler({self.module!r}, {self.name!r})"

    def resolve(self) -> Callable[[argparse.Namespace], int]:
        """The handler function itself (importing its module)."""
        func: Callable[[argparse.Namespace], int] = getattr(import_module(self.module), self.name)
        return func

    def __call__(self, args: argparse.Namespace) -> int:
        """Run the command: import its module, call the handler, return its exit code."""
        return self.resolve()(args)
