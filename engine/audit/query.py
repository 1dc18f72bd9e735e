"""Reading a log back: iter_records yields the records that match a query (it does not verify).

The record fields it consults are listed on :func:`iter_records`; checking a log is
:func:`engine.audit.verifier.verify_log`'s job.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from engine.audit.errors import AuditFileError


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

    This reads; it does not verify (use :func:`engine.audit.verifier.verify_log`). A partial
    last line, as left by a killed run, is skipped. Records are read liberally: an event
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
        AuditFileError: when the file cannot be read or a complete line is not JSON.
    """
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise AuditFileError(path, f"cannot read the log: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if raw[-1:] != b"\n":
                return
            try:
                obj = json.loads(raw)
            except (ValueError, RecursionError):
                raise AuditFileError(
                    path, f"line {number} is not JSON (run 'agentrange audit verify')"
                ) from None
            if not isinstance(obj, dict) or "header" in obj or "checkpoint" in obj:
                continue
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
