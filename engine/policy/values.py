"""Where a decision's actual values come from: the request, its counters, or a snapshot.

A decision reports, for every rule that did not match, the actual value of the attribute its
first failed condition reads. The engine copies none of them out of the request at decision
time: a decision holds the (immutable) request it was made for and reads them when asked,
with the counter values of the moment kept beside it (:class:`Captured`); a decision shared
by several requests holds what they all brought (:class:`Snapshot`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from engine.policy.attributes import getter


class Captured(NamedTuple):
    """What a decision's failed conditions read: the request and its counters then.

    Counter values change as requests execute, so a decision that reports one keeps the
    values it was decided with; everything else is read from the (immutable) request when
    the explanation is asked for.
    """

    request: Any
    counters: Mapping[str, Any]


class Snapshot(NamedTuple):
    """What a decision shared by several requests reports: their views and per-call values.

    Attributes:
        views: A request holding the principal, tool and resource views (and the action).
        places: Per-call path -> its place in ``values``.
        values: The per-call values every request sharing the decision brought (counter
            values included).
    """

    views: Any
    places: Mapping[str, int]
    values: tuple[Any, ...]


_READERS: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {}
_NO_COUNTERS: Mapping[str, Any] = MappingProxyType({})


def actual_value(source: Any, path: str) -> Any:
    """The value of attribute ``path`` where a decision's actual values come from.

    ``source``: a request, a :class:`Captured` request or a :class:`Snapshot`.
    """
    kind = type(source)
    if kind is Snapshot:
        i = source.places.get(path)
        if i is not None:
            return source.values[i]
        source = source.views
    reader = _READERS.get(path)
    if reader is None:
        reader = _READERS[path] = getter(path)
    if kind is Captured:
        return reader(source.request, source.counters)
    return reader(source, _NO_COUNTERS)


def typed(value: Any) -> Any:
    """``value`` as a cache key that tells apart values ``==`` takes for one another.

    ``True == 1 == 1.0`` in Python (and they hash alike), but conditions do not take them
    for one another (a number condition does not take a bool): a key made of raw values would
    hand the stop set or decision cached for ``1`` to a view holding ``True``. Every item is
    paired with its type (through tuples); anything unhashable stays unhashable, so callers
    that fall back on a ``TypeError`` still do.
    """
    kind = type(value)
    if kind is tuple:
        # A flat tuple's items' types go beside it in one tuple, not one pair per item: a key
        # made when an engine meets new views is then three small tuples whatever the count.
        kinds = tuple(map(type, value))
        if tuple in kinds:
            return kind, tuple([typed(v) for v in value])
        return kind, value, kinds
    return kind, value

