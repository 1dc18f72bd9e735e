"""Native requests as Cedar requests: the principal, the tool's action, the resource, a context.

Cedar decides on the scenario's estate: a request's principal, tool and resource must be the
scenario's (as ``principal_attributes``, ``tool_attributes`` and ``resource_attributes``
build them, which is what the entities hold) and its action the tool's. Every value the
policies read is encoded in the type the schema declares (:mod:`engine.cedar.values`); a
request that does not fit is refused with what is wrong (:class:`NotInSchema`), so no value
is ever compared under rules other than the native engine's. Only the context fields the
policies read are sent, and they make the request's memo key: Cedar's answer depends on
nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.cedar.policyset import EVERYTHING
from engine.cedar.schema import RESOURCE, TOOL, Model, Slot
from engine.cedar.values import NotInSchema, entity_json, plain, value_json
from engine.policy.attributes import Getter, getter
from engine.policy.request import Request, principal_attributes, resource_attributes
from engine.policy.request import tool_attributes as tool_view

_MAX_VIEWS = 4096


class Encoder:
    """Builds Cedar requests for one data model and what a policy set reads.

    Args:
        model: The scenario's Cedar data model.
        reads: The context fields the policies read, from
            :func:`engine.cedar.policyset.context_reads`.
    """

    def __init__(self, model: Model, reads: frozenset[tuple[str, str]]) -> None:
        self.model = model
        everything = (EVERYTHING, EVERYTHING) in reads
        self.slots: list[tuple[Slot, Getter, tuple[str, ...]]] = []
        for slot in model.slots():
            if not slot.holder.startswith("context.") or slot.holder == "context.tool":
                continue
            where = tuple(slot.holder.split(".")[1:])
            field, attr = where[0], (where[1] if len(where) > 1 else slot.attr)
            if everything or (field, EVERYTHING) in reads or (field, attr) in reads:
                self.slots.append((slot, getter(slot.path), where))
        sc = model.scenario
        self._agents = {a.name: plain(principal_attributes(sc, a)) for a in sc.agents}
        self._tools = {t.id: plain(tool_view(t)) for t in sc.tools}
        self._resources = {r.id: plain(resource_attributes(sc, r)) for r in sc.resources}
        self._views: dict[int, tuple[Mapping[str, Any], str | None]] = {}

    def _check(self, view: Mapping[str, Any], known: Mapping[str, Any], what: str) -> str:
        found = self._views.get(id(view))
        if found is not None and found[0] is view:
            problem = found[1]
        else:
            eid = view.get("id")
            expected = known.get(eid) if isinstance(eid, str) else None
            problem = None
            if expected is None:
                problem = f"{what} {eid!r} is not one the scenario declares"
            elif plain(view) != expected:
                problem = f"{what} {eid!r} differs from the scenario's (Cedar reads its entity)"
            if len(self._views) >= _MAX_VIEWS:
                self._views = {}
            self._views[id(view)] = (view, problem)
        if problem is not None:
            raise NotInSchema(problem)
        return str(view.get("id"))

    def key(self, req: Request, principal: Mapping[str, Any], cv: Mapping[str, Any]
            ) -> tuple[Any, ...]:
        """What Cedar's answer for this request depends on (a hashable memo key).

        Raises:
            NotInSchema: when the principal, tool or resource is not the scenario's, or the
                action is not the tool's.
        """
        pid = self._check(principal, self._agents, "agent")
        tid = self._check(req.tool, self._tools, "tool")
        if req.action != self._tools[tid]["action"]:
            raise NotInSchema(f"action {req.action!r} is not tool {tid}'s "
                              f"({self._tools[tid]['action']})")
        rid = None if req.resource is None else self._check(req.resource, self._resources,
                                                             "resource")
        values = []
        for _slot, get, _where in self.slots:
            value = get(req, cv)
            if type(value) is list:
                value = tuple(value)
            values.append((value, type(value)))
        return (pid, tid, rid, tuple(values))

    def request(self, req: Request, key: tuple[Any, ...]) -> dict[str, Any]:
        """The Cedar request for ``req`` (whose :meth:`key` is ``key``).

        Raises:
            NotInSchema: for a value of another type than the schema's, or a required one
                that is absent.
        """
        pid, tid, rid, values = key
        context: dict[str, Any] = {"tool": entity_json(TOOL, tid)}
        for (slot, _get, where), (value, _kind) in zip(self.slots, values, strict=True):
            record = context
            for name in where:  # the records exist even when every attribute is absent
                record = record.setdefault(name, {})
            if value is None:
                if slot.required:
                    raise NotInSchema(f"{slot.path} is absent; the Cedar schema requires it")
                continue
            record[slot.attr] = value_json(slot, value)
        resource = {"type": TOOL, "id": tid} if rid is None else {"type": RESOURCE, "id": rid}
        return {"principal": {"type": "Agent", "id": pid},
                "action": {"type": "Action", "id": tid}, "resource": resource,
                "context": context}
