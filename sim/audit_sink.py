"""The audit trail as a sink: every event of a run, hash-chained into an audit log, and back.

:class:`AuditSink` writes each event as one audit record (the event's fields, with its
sequence number as ``event``: the log's own ``seq`` numbers its chain links), so the log holds
the run's stream itself. :func:`read_events` gives the events back from a log, in order, for
any fold (:mod:`sim.collectors`) to read: a log read back is the same stream.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from engine.audit.query import iter_records, read_header
from engine.audit.writer import AuditWriter
from engine.errors import AgentrangeError
from sim.events import Event


class AuditLogError(AgentrangeError):
    """An audit log whose records are not a run's events (named by file and record)."""


class AuditSink:
    """Writes every event it receives to an open :class:`~engine.audit.AuditWriter`."""

    __slots__ = ("_append",)

    def __init__(self, writer: AuditWriter) -> None:
        self._append = writer.append

    def __call__(self, event: Event) -> None:
        """Append one event as a record."""
        self._append(record_of(event))


def record_of(event: Event) -> dict[str, Any]:
    """The audit record of an event: its JSON form with ``seq`` renamed ``event``."""
    body = event.to_dict()
    body["event"] = body.pop("seq")
    return body


def read_events(path: str | os.PathLike[str]) -> Iterator[Event]:
    """The events an audit log holds, in order (a partial last line is skipped).

    This reads; it does not verify (use :func:`engine.audit.verify_log`). It streams, in
    bounded memory, through :func:`engine.audit.query.iter_records`.

    Raises:
        engine.audit.errors.AuditFileError: when the file cannot be read or a line is not a
            log's (:func:`engine.audit.query.iter_records` says which).
        AuditLogError: when a record is not an event.
    """
    for number, record in enumerate(iter_records(path), 1):
        try:
            yield Event.from_dict({**record, "seq": record["event"]})
        except (KeyError, TypeError, ValueError):
            raise AuditLogError(f"{os.fspath(path)}: record {number} is not an agentrange "
                                "event (expected the fields event, time, kind, agent and "
                                "data)") from None


def log_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header object of an audit log (``run``, ``meta`` ...), read from its first line.

    Raises:
        engine.audit.errors.AuditFileError: when the file cannot be read, is empty or its
            first line is not a log header (:func:`engine.audit.query.read_header`).
    """
    return read_header(path)
