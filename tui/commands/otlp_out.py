"""``--otlp FILE`` and ``--otlp-endpoint URL``: the runs of a command exported as OTLP traces.

One :class:`TraceExport` per command: each run gets its own :class:`sim.otlp.export.OtlpSink`
(its own resource: scenario, profile, seed), all writing to the same file and receiver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sim.events import Event, Sink
from sim.otlp.export import OtlpExportError, OtlpFile, OtlpSink
from sim.otlp.http import OtlpPoster


class TraceExport:
    """Where a command's traces go: a file, a receiver, or both.

    Args:
        stack: Closes the file when the command ends.
        path: ``--otlp`` (None: no file).
        endpoint: ``--otlp-endpoint`` (None: no receiver).

    Raises:
        OtlpExportError: when the file cannot be written or the endpoint is not a URL.
    """

    def __init__(self, stack: contextlib.ExitStack, path: str | None,
                 endpoint: str | None) -> None:
        self.writers: list[Callable[[str], None]] = []
        self.path = path
        self.poster = OtlpPoster(endpoint) if endpoint else None
        if path:
            try:
                stream = stack.enter_context(open(path, "w", encoding="utf-8"))
            except OSError as exc:
                raise OtlpExportError(f"{path}: cannot write: {exc.strerror or exc}") from None
            self.writers.append(OtlpFile(stream, path))
        if self.poster is not None:
            self.writers.append(self.poster)
        self.sinks: list[OtlpSink] = []

    @property
    def active(self) -> bool:
        """True when traces go anywhere."""
        return bool(self.writers)

    def _write(self, line: str) -> None:
        for write in self.writers:
            write(line)

    def sink(self) -> OtlpSink:
        """A new sink for one run."""
        sink = OtlpSink(self._write, package_version())
        self.sinks.append(sink)
        return sink

    def finish(self) -> None:
        """Write what the runs left open and report a receiver's failure.

        Raises:
            OtlpExportError: when the receiver refused or could not be reached.
        """
        for sink in self.sinks:
            sink.close()
        if self.poster is not None:
            self.poster.check()

    def note(self) -> str:
        """One line saying where the traces went."""
        spans = sum(s.spans for s in self.sinks)
        requests = sum(s.requests for s in self.sinks)
        where = [w for w in (self.path, self.poster.url if self.poster else None) if w]
        return f"traces: {spans:,} spans in {requests:,} OTLP requests to {' and '.join(where)}"


def package_version() -> str:
    """The installed agentrange's version (the traces' scope and service version)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agentrange")
    except PackageNotFoundError:
        return "0+unknown"


def tee(first: Sink | None, second: Sink | None) -> Sink | None:
    """One sink handing each event to both (either may be None)."""
    if first is None or second is None:
        return first or second

    def both(event: Event) -> None:
        first(event)
        second(event)

    return both


def add_to(kwargs: dict[str, Any], export: TraceExport) -> None:
    """Put a new run's OTLP sink into Simulation keyword arguments (beside any sink there)."""
    if export.active:
        kwargs["sink"] = tee(kwargs.get("sink"), export.sink())
