"""Events the simulator schedules itself, and generators simpy's loop resumes without a Process.

A top-level task run and an arrival stream are generators nobody waits for. Instead of a
simpy Process (whose resume is a Python call per event), simpy's loop resumes them itself:
each :class:`Wake` they yield carries ``[generator.send]`` as its callbacks (one list per
generator, reused: the loop only iterates it), so the loop's ``callback(event)`` is the
generator's own send. Such a generator is made with its ``wakeup`` list, opens with a bare
``yield`` and is started by :func:`drive`, which primes it to that ``yield`` and pushes its
start where simpy's ``Initialize`` would be (urgent, now, the next event id: the end of
that instant's urgent slot, see :mod:`sim.agenda`). When it returns,
``send`` raises StopIteration, which the driving loop (:meth:`sim.runner.Simulation._advance`)
takes as its end; when it raises, the loop schedules the error as simpy schedules a failed
process (:func:`failed_run`). Any other event it waits for (a delegate's process, an approval)
is registered by :func:`waiting`. The queue sees the same entries in the same order as with
processes, so the events, and the stream, are the same.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy
from simpy.events import URGENT

from sim.agenda import Agenda

_new = object.__new__


class Wake:
    """A timeout as simpy processes it, made without :class:`simpy.Timeout`'s constructor.

    simpy's loop reads only ``callbacks``, ``_ok`` and ``_value`` of an event; a process
    waiting on it appends its resume to ``callbacks``. A generator waits on one at a time and
    the loop is done with it (its callbacks taken) before resuming the generator, so each
    generator reuses one Wake, setting its callbacks anew before each push.
    """

    __slots__ = ("callbacks",)

    callbacks: list[Any] | None
    _ok = True
    _value = None


def drive(env: Agenda, generator: Generator[Any, Any, Any],
          wakeup: list[Any]) -> None:
    """Start ``generator`` (made with the empty list ``wakeup``) as simpy starts a process."""
    wakeup.append(generator.send)
    next(generator)  # to the bare ``yield`` at its top: its start resumes it there
    wake = _new(Wake)
    wake.callbacks = wakeup
    now = env._now
    env.open(now, URGENT).append((now, next(env._eid), wake))


def waiting(wakeup: list[Any] | None, event: simpy.Event) -> simpy.Event:
    """``event``, which a generator driven with ``wakeup`` resumes on (None: a Process's)."""
    if wakeup is not None:
        event.callbacks.append(Resume(wakeup[0].__self__))
    return event


class Resume:
    """Resumes a directly driven generator when a simpy event it waits for is processed.

    What :meth:`simpy.Process._resume` does for one event: the event's value is sent in, a
    failed event's error thrown in (defused, as a copy). The generator registers itself on
    whatever it yields next, so nothing is appended here.
    """

    __slots__ = ("generator",)

    def __init__(self, generator: Generator[Any, Any, Any]) -> None:
        self.generator = generator

    def __call__(self, event: simpy.Event) -> None:
        """Resume the generator with ``event``'s outcome."""
        try:
            if event._ok:
                self.generator.send(event._value)
            else:
                event._defused = True  # as simpy marks it
                error = event._value
                copy = type(error)(*error.args)
                copy.__cause__ = error
                self.generator.throw(copy)
        except StopIteration:
            pass
        except BaseException as exc:  # as a process that raised: scheduled, simpy raises it
            failed_run(event.env, exc)


def failed_run(env: simpy.Environment, error: BaseException) -> None:
    """Schedule ``error`` as simpy schedules a failed process; the loop raises a copy of it.

    A directly driven generator that raised has no process to fail: an event failed with
    its error takes the process's place (normal priority, now, the next event id).
    """
    event = simpy.Event(env)
    event._ok = False
    event._value = error
    env.schedule(event)
