"""Drills: one definition every participant plays, and the results they append to.

A drill directory holds ``drill.json`` (scenario, profile, seed, and optionally the time its
first incident strikes) and ``results.jsonl``, where each participant's :class:`~sim.score.
Score` is appended when their run ends (see :mod:`sim.score_log`). Every participant loads the
same definition, so everyone faces the same incident at the same simulated time. The
scoreboard is a ranking of those results. File format: docs/drills.md.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import AgentrangeError
from engine.model import Scenario
from sim.score import Score
from sim.score_log import append_record, read_records

DEFINITION = "drill.json"
"""The drill's definition, in its directory."""

RESULTS = "results.jsonl"
"""The participants' scores, one JSON line each, in the drill's directory."""

FORMAT = 1
"""The version of ``drill.json``."""


class DrillError(AgentrangeError):
    """A drill directory or definition is missing or malformed."""


@dataclass(frozen=True)
class Drill:
    """A drill's definition and where it lives.

    Attributes:
        directory: The drill's directory.
        scenario: A built-in scenario name or a scenario path.
        profile: The profile every participant plays.
        seed: The seed every participant plays.
        incident_at: When the scenario's first incident strikes (None: as the scenario says).
    """

    directory: Path
    scenario: str
    profile: str
    seed: int
    incident_at: float | None = None

    @property
    def results(self) -> Path:
        """The participants' scores file."""
        return self.directory / RESULTS

    def to_dict(self) -> dict[str, Any]:
        """The definition as ``drill.json`` holds it."""
        return {"format": FORMAT, "scenario": self.scenario, "profile": self.profile,
                "seed": self.seed, "incident_at": self.incident_at}

    def save(self) -> Path:
        """Write ``drill.json`` (creating the directory); returns its path.

        Raises:
            DrillError: the directory already holds a drill, or cannot be written.
        """
        path = self.directory / DEFINITION
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as handle:
                json.dump(self.to_dict(), handle, indent=2)
                handle.write("\n")
        except FileExistsError:
            raise DrillError(f"{path}: a drill is already defined there; choose another "
                             "directory (its results would be mixed)") from None
        except OSError as exc:
            raise DrillError(f"{path}: cannot write the drill: {exc.strerror}") from None
        return path

    @classmethod
    def load(cls, directory: Path) -> Drill:
        """Read a drill directory's definition.

        Raises:
            DrillError: no ``drill.json`` there, or it is not a drill definition.
        """
        path = directory / DEFINITION
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DrillError(f"{directory}: not a drill directory (no {DEFINITION}); "
                             "create one with `agentrange drill new`") from None
        except OSError as exc:
            raise DrillError(f"{path}: cannot read: {exc.strerror}") from None
        except ValueError as exc:
            raise DrillError(f"{path}: expected a JSON drill definition ({exc})") from None
        if not isinstance(raw, dict):
            raise DrillError(f"{path}: expected a JSON object, found {type(raw).__name__}")
        for key, kind in (("scenario", str), ("profile", str), ("seed", int)):
            if not isinstance(raw.get(key), kind) or isinstance(raw.get(key), bool):
                raise DrillError(f"{path}: {key!r}: expected {kind.__name__}, found "
                                 f"{raw.get(key)!r}")
        at = raw.get("incident_at")
        if at is not None and (not isinstance(at, int | float) or isinstance(at, bool)
                               or not math.isfinite(at) or at < 0):
            raise DrillError(f"{path}: 'incident_at': expected seconds >= 0 or null, "
                             f"found {at!r}")
        return cls(directory, raw["scenario"], raw["profile"], raw["seed"],
                   float(at) if at is not None else None)

    def staged(self, scenario: Scenario) -> Scenario:
        """``scenario`` with its first incident moved to :attr:`incident_at` (if set).

        Raises:
            DrillError: the time is set but the scenario has no incident, or the time is
                past the scenario's end.
        """
        if self.incident_at is None:
            return scenario
        if not scenario.incidents:
            raise DrillError(f"{self.directory / DEFINITION}: 'incident_at' is set but "
                             f"scenario {scenario.name} has no incident to move")
        if self.incident_at >= scenario.duration:
            raise DrillError(f"{self.directory / DEFINITION}: 'incident_at': expected a time "
                             f"before the run's end ({scenario.duration:g}s), found "
                             f"{self.incident_at:g}")
        first, *rest = scenario.incidents
        moved = first.model_copy(update={"at": self.incident_at})
        return scenario.model_copy(update={"incidents": [moved, *rest]})

    def record(self, participant: str, score: Score) -> dict[str, Any]:
        """The results line for ``participant``'s score."""
        return {"participant": participant, "finished": round(time.time(), 3),
                **score.to_dict()}

    def append(self, participant: str, score: Score) -> None:
        """Append ``participant``'s score to the results (atomic; many may append at once)."""
        append_record(self.results, self.record(participant, score))

    def entries(self) -> list[dict[str, Any]]:
        """Every result appended so far, in order."""
        return read_records(self.results)


def _key(entry: Mapping[str, Any]) -> tuple[float, float, float, float]:
    def t(value: Any) -> float:
        return float(value) if isinstance(value, int | float) else math.inf

    return (float(entry.get("records_exposed") or 0), t(entry.get("time_to_contain")),
            t(entry.get("time_to_detect")), float(entry.get("benign_denied") or 0))


def ranking(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Results ranked best first; a participant's latest result counts.

    Fewest records exposed first, then fastest containment, then fastest detection, then
    fewest benign steps denied.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        latest[str(entry.get("participant", "?"))] = entry
    ranked = sorted(latest.values(), key=_key)
    return [{"rank": i, **entry} for i, entry in enumerate(ranked, start=1)]


def participants(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The participants who have finished, in the order they first did."""
    return list(dict.fromkeys(str(e.get("participant", "?")) for e in entries))
