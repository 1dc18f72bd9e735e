"""``agentrange serve``: the dashboard in web browsers, one session per tab (textual-serve).

textual-serve runs a command per browser tab with Textual's web driver; the command here is
this same CLI (``agentrange tui ...`` or ``agentrange drill join DIR``) under the running
interpreter, so a tab sees exactly what a terminal would.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import shlex
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import AgentrangeError
from sim.drill import Drill

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Addresses only this machine can reach."""


class ServeError(AgentrangeError):
    """The dashboard cannot be served (the web extra is missing, the port is taken...)."""


def command(args: argparse.Namespace, passthrough: list[str]) -> list[str]:
    """The command each browser tab runs: this CLI's ``tui`` or ``drill join``.

    Raises:
        DrillError: ``--drill`` names no drill directory.
    """
    cli = [sys.executable, "-m", "tui.cli"]
    if args.drill:
        directory = Path(args.drill).resolve()
        Drill.load(directory)  # a bad directory fails here, not in every tab
        return [*cli, "drill", "join", str(directory), *passthrough]
    return [*cli, "tui", *passthrough]


def check_dashboard_args(args: argparse.Namespace, passthrough: list[str]) -> None:
    """Parse the options passed on as ``tui`` (or ``drill join``) would, failing at once."""
    from tui.cli import build_parser

    head = ["drill", "join", str(args.drill)] if args.drill else ["tui"]
    build_parser().parse_args([*head, *passthrough])  # argparse exits 2 on a bad option


def check_port(host: str, port: int) -> None:
    """Fail with one line when ``host:port`` cannot be listened on (in use, bad address).

    Raises:
        ServeError: the port is in use or the address is not this machine's.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host}: not an address to listen on ({exc.strerror})") \
            from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(f"port {port} on {host} is already in use; choose another "
                                 "with --port") from None
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(args: argparse.Namespace) -> int:
    """Serve the dashboard until Ctrl-C.

    Raises:
        ServeError: textual-serve is not installed, or the address cannot be listened on.
        DrillError: ``--drill`` names no drill directory.
    """
    try:
        from textual_serve.server import Server
    except ImportError:
        raise ServeError("`agentrange serve` needs the web extra: "
                         "pip install 'agentrange[web]'") from None
    passthrough = list(getattr(args, "passthrough", []) or [])
    check_dashboard_args(args, passthrough)
    cmd = command(args, passthrough)
    check_port(args.host, args.port)
    if args.host not in LOCAL_HOSTS:
        print(f"agentrange: warning: serving on {args.host}:{args.port} with no "
              "authentication: anyone who can reach this address can open the dashboard",
              file=sys.stderr)
    title = f"agentrange drill {Path(args.drill).name}" if args.drill else "agentrange"

    class QuietServer(Server):
        """textual-serve without a log line per request (its own notices stay)."""

        def initialize_logging(self) -> None:
            super().initialize_logging()
            logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    server = QuietServer(shlex.join(cmd), host=args.host, port=args.port, title=title,
                         public_url=public_url(args.host, args.port))
    previous = sys.unraisablehook
    sys.unraisablehook = _quiet_closed_loop(previous)
    try:
        server.serve()
    except OSError as exc:  # lost the race for the port after the check
        raise ServeError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") \
            from None
    except KeyboardInterrupt:
        pass
    finally:
        gc.collect()  # finalise the sessions' subprocess transports while the hook is quiet
        sys.unraisablehook = previous
    print("agentrange: stopped serving", file=sys.stderr)
    return 0


def public_url(host: str, port: int) -> str:
    """The address the page tells browsers to connect back to.

    A wildcard address (all interfaces) is no address a browser can reach: the page then
    names this machine by its host name.
    """
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _quiet_closed_loop(hook: Callable[[Any], object]) -> Callable[[Any], object]:
    """``hook``, minus the "Event loop is closed" that open sessions' transports raise.

    On Ctrl-C textual-serve stops each open session's app and its event loop closes; the
    subprocess transports are finalised afterwards and complain, with a traceback, that the
    loop is closed. The apps have already exited: there is nothing to report.
    """

    def quiet(unraisable: Any) -> None:
        error = unraisable.exc_value
        if isinstance(error, RuntimeError) and str(error) == "Event loop is closed":
            return
        hook(unraisable)

    return quiet
