"""The request the policy engine decides: one agent tool call as attribute namespaces.

A :class:`Request` holds one read-only mapping per attribute namespace that policy conditions
can name (``principal.*``, ``tool.*``, ``resource.*``, ``request.*``, ``task.*``, ``token.*``,
``session.*``, ``chain.*``, ``time.*``; ``counter.*`` is computed by the engine). The
simulator builds millions of them, so building one must be cheap: the static namespaces
(principal, tool, resource) come from the ``*_attributes`` helpers below and should be built
once per agent / tool / resource and reused; only request, task, token, session, chain and
time change per call.

The mappings are treated as immutable once passed in: the engine caches results keyed by
the values it read from them, and recognises the read-only views the helpers return
(``MappingProxyType``) by identity — never mutate a mapping, or the dict behind such a view,
after a request using it was decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

from engine.fields import Scalar
from engine.model import Agent, Resource, Scenario, Tool


class _Empty(Mapping[str, Any]):
    """An immutable, hashable empty mapping (usable as a dataclass default)."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Always the default (without raising and catching KeyError on the hot path)."""
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: Mapping[str, Any] = _Empty()
"""An empty namespace (for session/chain/time when the caller does not track them)."""

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True, slots=True, init=False)
class Request:
    """One tool call to decide, as attribute namespaces.

    Attributes:
        principal: The acting agent (the current actor): ``id`` (agent name), ``spiffe_id``,
            ``kind``, ``roles`` (tuple), ``vendor``, ``trust_domain``, ``owners``
            (``{business, security, incident}``). See :func:`principal_attributes`.
        action: The action performed (normally the tool's action, e.g. ``read``).
        tool: ``id``, ``action``, ``egress``, ``customer_facing``, ``risk``.
        resource: ``id``, ``system``, ``data_class``, ``sensitivity``, ``records`` (the total
            held); None when the call touches no resource.
        request: Per-call values: ``records``, ``amount``, ``destination``, ``recipient`` and
            ``attributes`` (the step's free attributes, a mapping).
        task: ``id``, ``intent``, ``approved`` (the task is in the agent's approved plans,
            i.e. not an injected goal), ``step`` (1-based), ``run`` (this task run's id).
        token: What identity verification reports (``Verification.attributes()``):
            ``valid``, ``reason``, ``jti``, ``mode``, ``task_id``, ``ttl_remaining``, ``age``,
            ``scope``, ``sender_constrained``, ``chain_depth``. The request is denied before
            any rule runs unless ``valid`` is exactly True.
        session: ``id`` (the task run id).
        chain: The delegation chain: ``id`` (root task run id), ``origin`` (the agent that
            started it), ``actors`` (agent names, current first as in RFC 8693 nesting),
            ``depth`` (delegation hops, 0 when not delegated). See :func:`chain_attributes`.
        time: ``now`` (simulated seconds), ``hour`` (0-23), ``weekday`` (0-6, Monday 0).
        ref: An opaque reference to this step (e.g. the event sequence number) that sequence
            matches report for the earlier steps.
        hops: Optional principal mappings of the earlier actors (``chain.actors[1:]``, same
            order) for delegation attenuation; when None the engine builds them from the
            scenario by agent name.
    """

    principal: Mapping[str, Any]
    action: str
    tool: Mapping[str, Any]
    token: Mapping[str, Any]
    resource: Mapping[str, Any] | None = None
    request: Mapping[str, Any] = EMPTY
    task: Mapping[str, Any] = EMPTY
    session: Mapping[str, Any] = EMPTY
    chain: Mapping[str, Any] = EMPTY
    time: Mapping[str, Any] = EMPTY
    ref: Any = None
    hops: tuple[Mapping[str, Any], ...] | None = None

    def __new__(cls, principal: Mapping[str, Any], action: str, tool: Mapping[str, Any],
                token: Mapping[str, Any], resource: Mapping[str, Any] | None = None,
                request: Mapping[str, Any] = EMPTY, task: Mapping[str, Any] = EMPTY,
                session: Mapping[str, Any] = EMPTY, chain: Mapping[str, Any] = EMPTY,
                time: Mapping[str, Any] = EMPTY, ref: Any = None,
                hops: tuple[Mapping[str, Any], ...] | None = None) -> Request:
        """Build the request (see :data:`make_request`: the same, one call fewer)."""
        return _build(principal, action, tool, token, resource, request, task, session, chain,
                      time, ref, hops)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Copied and pickled by its fields (there is no ``__new__`` without them)."""
        return make_request, (self.principal, self.action, self.tool, self.token,
                              self.resource, self.request, self.task, self.session,
                              self.chain, self.time, self.ref, self.hops)

    def to_dict(self) -> dict[str, Any]:
        """Every namespace as plain JSON data (``ref`` and ``hops`` are left out).

        The principal, tool and resource renderings are shared between requests using the
        same view: read them, never change them.
        """
        return {"principal": _plain_view(self.principal), "action": self.action,
                "tool": _plain_view(self.tool), "token": _plain(self.token),
                "resource": _plain_view(self.resource), "request": _plain(self.request),
                "task": _plain(self.task), "session": _plain(self.session),
                "chain": _plain(self.chain), "time": _plain(self.time)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, ref: Any = None) -> Request:
        """The request :meth:`to_dict` wrote, its namespaces read-only.

        Raises:
            KeyError, TypeError: for a mapping of another shape.
        """
        resource = data.get("resource")
        return cls(read_only(data["principal"]), str(data["action"]), read_only(data["tool"]),
                   read_only(data["token"]), None if resource is None else read_only(resource),
                   read_only(data.get("request") or {}), read_only(data.get("task") or {}),
                   read_only(data.get("session") or {}), read_only(data.get("chain") or {}),
                   read_only(data.get("time") or {}), ref)


_SCALARS = frozenset({str, int, float, bool, type(None)})
_VIEWS: dict[int, tuple[Mapping[str, Any], dict[str, Any]]] = {}
MAX_VIEWS = 4096


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is tuple or kind is list:
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _plain_view(view: Mapping[str, Any] | None) -> Any:
    """A shared namespace (principal, tool, resource) as plain data, rendered once per view.

    The simulator reuses one read-only view per agent, tool and resource, so the same few
    views are rendered for every event; the rendering is shared and must not be mutated.
    """
    if view is None:
        return None
    if type(view) is not MappingProxyType:
        return _plain(view)
    hit = _VIEWS.get(id(view))
    if hit is not None and hit[0] is view:
        return hit[1]
    if len(_VIEWS) >= MAX_VIEWS:
        _VIEWS.clear()
    plain: dict[str, Any] = _plain(view)
    _VIEWS[id(view)] = (view, plain)
    return plain


def read_only(value: Any) -> Any:
    """Plain data as read-only mappings and tuples all the way down (a namespace's shape)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: read_only(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(read_only(v) for v in value)
    return value


class _Building:
    """A :class:`Request` being built: the same slots, plain stores, then it becomes one."""

    __slots__ = Request.__slots__

    def __init__(self, principal: Mapping[str, Any], action: str, tool: Mapping[str, Any],
                 token: Mapping[str, Any], resource: Mapping[str, Any] | None = None,
                 request: Mapping[str, Any] = EMPTY, task: Mapping[str, Any] = EMPTY,
                 session: Mapping[str, Any] = EMPTY, chain: Mapping[str, Any] = EMPTY,
                 time: Mapping[str, Any] = EMPTY, ref: Any = None,
                 hops: tuple[Mapping[str, Any], ...] | None = None) -> None:
        self.principal = principal
        self.action = action
        self.tool = tool
        self.token = token
        self.resource = resource
        self.request = request
        self.task = task
        self.session = session
        self.chain = chain
        self.time = time
        self.ref = ref
        self.hops = hops
        self.__class__ = Request  # type: ignore[assignment]


make_request: Callable[..., Request] = cast(Any, _Building)
"""``Request(...)`` without the call to ``Request.__new__`` (the simulator's hot path): the same
arguments, the same frozen :class:`Request`. A twin class with the same slots stores each field
with a plain slot store and then becomes a Request (same layout): about half the time of
setting twelve frozen fields through their descriptors."""
_build = make_request


def principal_attributes(scenario: Scenario, agent: Agent | str) -> Mapping[str, Any]:
    """The ``principal`` namespace of an agent (build once per agent and reuse it).

    Args:
        scenario: The loaded scenario the agent belongs to (gives its SPIFFE ID).
        agent: The agent or its name.
    """
    if isinstance(agent, str):
        agent = scenario.agent(agent)
    spiffe = agent.spiffe_id
    return MappingProxyType({
        "id": agent.name,
        "spiffe_id": str(spiffe),
        "kind": agent.kind,
        "roles": tuple(agent.roles),
        "vendor": agent.vendor,
        "trust_domain": spiffe.trust_domain,
        "owners": MappingProxyType({
            "business": agent.owners.business,
            "security": agent.owners.security,
            "incident": agent.owners.incident,
        }),
    })


def tool_attributes(tool: Tool) -> Mapping[str, Any]:
    """The ``tool`` namespace of a tool (build once per tool and reuse it)."""
    return MappingProxyType({
        "id": tool.id,
        "action": tool.action,
        "egress": tool.egress,
        "customer_facing": tool.customer_facing,
        "risk": tool.risk,
    })


def resource_attributes(scenario: Scenario, resource: Resource | str) -> Mapping[str, Any]:
    """The ``resource`` namespace of a resource (build once per resource and reuse it)."""
    if isinstance(resource, str):
        resource = scenario.resource(resource)
    sensitivity = scenario.data_class(resource.data_class).sensitivity
    return MappingProxyType({
        "id": resource.id,
        "system": resource.system,
        "data_class": resource.data_class,
        "sensitivity": sensitivity,
        "records": resource.records,
    })


def step_attributes(
    records: int = 0,
    amount: float | None = None,
    destination: str | None = None,
    recipient: str | None = None,
    attributes: Mapping[str, Scalar] = EMPTY,
) -> dict[str, Any]:
    """The ``request`` namespace of one call (records, amount, destination, recipient, ...)."""
    return {"records": records, "amount": amount, "destination": destination,
            "recipient": recipient, "attributes": attributes}


def chain_attributes(chain_id: str, actors: Sequence[str]) -> dict[str, Any]:
    """The ``chain`` namespace: ``actors`` lists agent names, the current actor first.

    Args:
        chain_id: The root task run id of the delegation chain.
        actors: Agent names, current actor first and the origin last (RFC 8693 nesting);
            a request that was not delegated has one actor.
    """
    actors = tuple(actors)
    return {"id": chain_id, "origin": actors[-1] if actors else None, "actors": actors,
            "depth": max(len(actors) - 1, 0)}


def time_attributes(now: float, *, offset: float = 0.0) -> dict[str, Any]:
    """The ``time`` namespace at simulated time ``now``.

    Args:
        now: Simulated seconds since the start of the run.
        offset: Seconds from a Monday 00:00 to the start of the run (0: runs start on a
            Monday at midnight), so that ``hour`` and ``weekday`` are wall-clock-like.
    """
    clock = now + offset
    return {"now": now, "hour": int(clock // 3600) % 24,
            "weekday": int(clock // SECONDS_PER_DAY) % 7}
