"""simpy's event queue as one first-in-first-out slot per instant: the same order, fewer compares.

simpy processes events in (time, priority, event id) order from one heap of 4-tuples. A fleet
acts on the second, so most events share their time with many others, and every push and pop
compared tuples element by element down a heap of every pending event (about a tenth of the
simulator's own instructions per tool call). Event ids are handed out in increasing order as
events are scheduled, so the events of one (time, priority) are already in id order when each
is appended to that pair's slot. :class:`Agenda` keeps a heap of the distinct (time, priority)
pairs pending, each with its slot (a deque of ``(time, id, event)``): a push appends to its
slot, a pop takes from the slot at the top, and the heap moves only when a pair opens or
empties. The one caller that schedules under an id it took earlier (a token's lazy expiry, see
:meth:`sim.wallet.Wallet._schedule_expiry`) inserts into its slot in id order
(:meth:`Agenda.insert`). The order is simpy's, so the events, and the stream, are the same.
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import EmptySchedule, Infinity, StopSimulation
from simpy.events import NORMAL, URGENT, EventPriority

Entry = tuple[float, int, Any]
"""One scheduled event: (time, event id, event)."""


class Agenda(simpy.Environment):
    """A simpy environment whose queue is a heap of instants, each a first-in-first-out slot.

    Attributes:
        pending: Heap of ``(time, priority, slot)``, one per (time, priority) with events
            pending; no two share both, so the slots themselves are never compared.
        slots: Priority -> time -> that pair's slot (the deque in ``pending``).
        normal: ``slots[NORMAL]``, which the simulator's own timeouts append to directly
            (see :meth:`open`).
    """

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        del self._queue  # anything still pushing to simpy's own heap fails loudly
        self.pending: list[tuple[float, int, deque[Entry]]] = []
        self.normal: dict[float, deque[Entry]] = {}
        self.slots: dict[int, dict[float, deque[Entry]]] = {NORMAL: self.normal, URGENT: {}}

    def open(self, time: float, priority: int) -> deque[Entry]:
        """The slot of (``time``, ``priority``), opened when no event is pending there."""
        by_time = self.slots.get(priority)
        if by_time is None:
            by_time = self.slots[priority] = {}
        slot = by_time.get(time)
        if slot is None:
            slot = by_time[time] = deque()
            heappush(self.pending, (time, priority, slot))
        return slot

    def schedule(self, event: simpy.Event, priority: EventPriority = NORMAL,
                 delay: float = 0) -> None:
        """Schedule ``event`` as simpy does: at now + ``delay``, after those scheduled before."""
        time = self._now + delay
        self.open(time, priority).append((time, next(self._eid), event))

    def insert(self, time: float, priority: int, eid: int, event: simpy.Event) -> None:
        """Schedule ``event`` under the id ``eid`` taken earlier: in id order in its slot."""
        insort(self.open(time, priority), (time, eid, event))

    def pop(self) -> Entry:
        """Take the next event (simpy's order), closing its slot when it empties."""
        pending = self.pending
        if not pending:
            raise EmptySchedule
        time, priority, slot = pending[0]
        entry = slot.popleft()
        if not slot:
            heappop(pending)
            del self.slots[priority][time]
        return entry

    def peek(self) -> float:
        """The time of the next event (:data:`simpy.core.Infinity` when there is none)."""
        pending = self.pending
        return pending[0][2][0][0] if pending else Infinity

    def step(self) -> None:
        """Process the next event, as :meth:`simpy.Environment.step` does."""
        self._now, _, event = self.pop()
        callbacks, event.callbacks = event.callbacks, None
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1:]
            self.schedule(event, EventPriority(-1))
            raise
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
