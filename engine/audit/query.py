"""Reading a log back: iter_records yields the records that match a query (it does not verify).

The record fields it consults are listed on :func:`iter_records`; checking a log is
:func:`engine.audit.verifier.verify_log`'s job. Lines are read through
:class:`engine.audit.lines.JsonLines`, so a file that is not a log is refused at its first line
that is not, in bounded memory, and records stream: the first is yielded before the second is
read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from engine.audit.chain import FORMAT
from engine.audit.errors import AuditFileError
from engine.audit.lines import JsonLineError, JsonLines, LineLimitError, describe, parse_json

AUDIT_LOG = "an agentrange audit log"
"""What a log reader expects a file to be, for its messages."""
_HEADER = f'a log header, {{"header": {{"format": "{FORMAT}", ...}}, ...}}'
_RECORD = "an audit record (an object with seq, prev and hash) or a checkpoint"


def _names(actor: object) -> set[str]:
    """Every name an actor answers to: its SPIFFE ID (or id) and the ID's last path segment."""
    values: list[object]
    if isinstance(actor, dict):
        values = [actor.get(k) for k in ("spiffe_id", "id", "name", "agent", "sub")]
    else:
        values = [actor]
    names: set[str] = set()
    for value in values:
        if isinstance(value, str) and value:
            names.add(value)
            if "://" in value:
                names.add(value.rstrip("/").rsplit("/", 1)[-1])
    return names


def _rule_ids(decision: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    items = [decision.get("rule")]
    matched = decision.get("matched")
    if isinstance(matched, list):
        items.extend(matched)
    for item in items:
        if isinstance(item, str):
            ids.add(item)
        elif isinstance(item, dict):
            ids.update(v for k in ("rule", "id", "name") if isinstance(v := item.get(k), str))
    return ids


def _chain_actors(record: dict[str, Any], decision: dict[str, Any]) -> list[object]:
    """The delegation chain as a list: the record's ``chain``, else the decision's.

    Either may be a list of actors or a ``{"origin", "actors"}`` object (``Decision.to_dict``).
    """
    chain = record.get("chain", decision.get("chain"))
    if isinstance(chain, dict):
        actors = chain.get("actors")
        return [chain.get("origin"), *(actors if isinstance(actors, list) else [])]
    return chain if isinstance(chain, list) else []


def fields(record: dict[str, Any]) -> dict[str, Any]:
    """A record's fields, an event record's ``data`` lifted beside its own (data wins).

    The simulator writes events (``{"event", "time", "kind", "agent", "data": {...}}``); other
    writers may write flat records. Queries read both the same way.
    """
    data = record.get("data")
    return {**record, **data} if isinstance(data, dict) else record


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def iter_records(
    path: str | os.PathLike[str],
    *,
    agent: str | None = None,
    effect: str | None = None,
    rule: str | None = None,
    chain: str | None = None,
    since: float | None = None,
    until: float | None = None,
    kind: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the log's records (header and checkpoints skipped) that match every filter given.

    This reads; it does not verify (use :func:`engine.audit.verifier.verify_log`). The first
    line must be a log header, every other complete line a record or a checkpoint; a partial
    last line, as left by a killed run, is skipped. Records stream: nothing past the record
    yielded has been read. Records are read liberally: an event
    record's ``data`` fields count as its own (:func:`fields`). The fields consulted are:

    * ``time``: simulated seconds;
    * ``kind``: the event kind (``decision``, ``alert`` ...);
    * ``agent``: SPIFFE ID, name, or an object with ``spiffe_id``/``id``/``name``; also
      ``agent_name``;
    * ``chain``: the delegation chain, a list of such actors in any order or an
      ``{"origin", "actors"}`` object; the decision's ``chain`` when the record has none;
    * ``decision``: an object with ``effect``, ``rule`` (the deciding rule), ``matched`` (rule
      ids, or objects with ``rule``/``id``) and ``envelope``.

    Other fields of a decision are ``task``, ``tool``, ``resource``, ``data_class``,
    ``records`` (records touched), ``jti`` and ``outcome``; a writer's own numbering must not
    be called ``seq`` (see :data:`engine.audit.writer.RESERVED_FIELDS`): the simulator calls
    the event's number ``event``.

    Args:
        path: The log file.
        agent: The acting agent's SPIFFE ID or name (the ID's last path segment, or
            ``agent_name``).
        effect: The decision's effect, e.g. ``deny``.
        rule: A rule id that decided or matched.
        chain: An actor anywhere in the delegation chain, the acting agent included.
        since: Earliest simulated time, inclusive.
        until: Latest simulated time, inclusive.
        kind: Only records of this event kind.

    Raises:
        AuditFileError: when the file cannot be read or is empty;
            :class:`~engine.audit.lines.LineError` (an ``AuditFileError``) naming the first
            line that is not what a log holds: no log header first, a complete line that is
            not JSON or not a record, binary data; its subclass
            :class:`~engine.audit.lines.LineLimitError` for a line beyond the readers' bounds.
    """
    with JsonLines(path, AUDIT_LOG) as lines:
        rows = iter(lines)
        _check_header(lines, next(rows, None))
        for number, raw in rows:
            if raw[-1:] != b"\n":
                return  # cut off mid-write (a killed run): not yet a record
            obj = lines.parse(number, raw, _RECORD)
            if type(obj) is not dict or not ("hash" in obj and "seq" in obj and "prev" in obj):
                if type(obj) is dict and "checkpoint" in obj:
                    continue
                raise lines.error(number, f"is {describe(obj)}", _RECORD)
            if "header" in obj:
                raise lines.error(number, "is a second log header", f"{_RECORD}: one log "
                                  "per file")
            if kind is not None and obj.get("kind") != kind:
                continue
            record = obj
            obj = fields(obj)
            if agent is not None and agent not in (
                _names(obj.get("agent")) | _names(obj.get("agent_name"))
            ):
                continue
            decision = obj.get("decision")
            if not isinstance(decision, dict):
                decision = {}
            if effect is not None and decision.get("effect") != effect:
                continue
            if rule is not None and rule not in _rule_ids(decision):
                continue
            if chain is not None:
                found = _names(obj.get("agent")) | _names(obj.get("agent_name"))
                for actor in _chain_actors(obj, decision):
                    found |= _names(actor)
                if chain not in found:
                    continue
            if since is not None or until is not None:
                when = _number(obj.get("time"))
                if when is None:
                    continue
                if (since is not None and when < since) or (until is not None and when > until):
                    continue
            yield record


def _check_header(lines: JsonLines, first: tuple[int, bytes] | None) -> dict[str, Any]:
    """The header object of the log's first line; raises naming what line 1 is instead."""
    if first is None:
        raise AuditFileError(lines.path, f"the file is empty; expected {AUDIT_LOG} (its "
                             "header on line 1)")
    number, raw = first
    try:
        obj = parse_json(raw, max_depth=lines.max_depth)
    except JsonLineError as exc:
        if exc.limit:
            raise LineLimitError(lines.path, number, exc.problem, _HEADER) from None
        raise lines.error(number, "is not an agentrange audit log header (it "
                          f"{exc.problem})", _HEADER) from None
    header = obj.get("header") if isinstance(obj, dict) else None
    if isinstance(header, dict) and header.get("format") == FORMAT:
        if raw[-1:] != b"\n":
            raise lines.error(number, "is cut off (it has no newline)", _HEADER)
        return header
    if isinstance(obj, dict) and obj.get("kind") == "run_started" and "seq" in obj:
        found = "the first event of an events file (agentrange run --events), not a log"
    else:
        found = describe(obj)
    raise lines.error(number, f"is not an agentrange audit log header (found {found})",
                      _HEADER)

def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header object of a log (``run``, ``meta`` ...), read from its first line.

    Raises:
        AuditFileError: when the file cannot be read or is empty;
            :class:`~engine.audit.lines.LineError` when its first line is not a log header.
    """
    with JsonLines(path, AUDIT_LOG) as lines:
        return _check_header(lines, next(iter(lines), None))
