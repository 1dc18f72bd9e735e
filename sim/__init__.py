"""The agentrange discrete-event simulator: drives the engine through simpy scenarios.

The main entry points, importable from here (loaded on first use, so that importing
``sim.events`` alone stays light):

- :class:`~sim.runner.Simulation`, :class:`~sim.runner.SimulationError`
- :class:`~sim.result.RunResult`
- :func:`~sim.compare.compare`, :func:`~sim.compare.comparison_of`,
  :class:`~sim.compare.Comparison`
- :func:`~sim.expectations.check`
- :class:`~sim.events.Event`, :class:`~sim.events.EventKind`, :class:`~sim.events.Outcome`
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Simulation": "sim.runner",
    "SimulationError": "sim.runner",
    "RunResult": "sim.result",
    "compare": "sim.compare",
    "comparison_of": "sim.compare",
    "Comparison": "sim.compare",
    "check": "sim.expectations",
    "Event": "sim.events",
    "EventKind": "sim.events",
    "Outcome": "sim.events",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    return getattr(import_module(module), name)
