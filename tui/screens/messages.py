"""Messages screens post up to the app, which routes between screens (screens never import it).

A screen that wants another screen opened posts one of these; it bubbles from the screen to
the app, whose handlers build and show the screen asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.message import Message

from engine.model import Scenario
from sim.score import ActionFold


class OpenPicker(Message):
    """Choose a scenario (the run on screen pauses underneath, or is replaced)."""


class OpenCompare(Message):
    """Run profiles of a scenario side by side on one seed.

    Args:
        scenario: The scenario.
        profiles: Profile ids (None: all of the scenario's).
        seed: The seed the runs share (None: the scenario's).
    """

    def __init__(self, scenario: Scenario, profiles: Sequence[str] | None = None,
                 seed: int | None = None) -> None:
        self.scenario = scenario
        self.profiles = list(profiles) if profiles is not None else None
        self.seed = seed
        super().__init__()


class RunFinished(Message):
    """A live run reached its end; the app may show the debrief.

    Args:
        scenario: The scenario played.
        profile: The profile played.
        seed: The seed played.
        result: The run's figures as the screen folded them from its events
            (``RunResult.to_dict()`` shape).
        actions: The live actions folded from its events (:class:`sim.score.ActionFold`).
    """

    def __init__(self, scenario: Scenario, profile: str, seed: int,
                 result: Mapping[str, Any], actions: ActionFold | None = None) -> None:
        self.scenario = scenario
        self.profile = profile
        self.seed = seed
        self.result = result
        self.actions = actions if actions is not None else ActionFold()
        super().__init__()
