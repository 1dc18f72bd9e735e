"""The options of ``agentrange serve`` (its handler is in :mod:`tui.commands.serve`)."""

from __future__ import annotations

from typing import Any

from tui.commands.parsers import Handler


def _port(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, found {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, found {value}")
    return value


def register(sub: Any) -> None:
    """Add the ``serve`` command to the CLI."""
    p = sub.add_parser(
        "serve", help="serve the dashboard in a browser (needs agentrange[web])",
        usage="agentrange serve [TUI ARGS] [--host HOST] [--port PORT] [--drill DIR]",
        description="Serve the dashboard to web browsers with textual-serve: each browser "
        "tab gets its own session. Any option of `agentrange tui` (a scenario, --profile, "
        "--speed, --blind...) is passed on. Binds to 127.0.0.1 by default; there is no "
        "authentication, so bind elsewhere only on a network you trust. Ctrl-C stops it.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--drill", metavar="DIR",
                   help="serve a drill: every tab asks for a participant name, then plays "
                   "the drill blind and appends the score to its results")
    p.set_defaults(func=Handler("tui.commands.serve", "serve"), passthrough=[])
