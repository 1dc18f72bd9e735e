"""What the run, compare and sweep commands read alike from their command lines.

``--until`` and ``--profiles``, the error a bad value gives, and when a progress bar
appears. Kept apart from :mod:`tui.commands.run` so a sweep reads them without importing what
a single run needs (the audit log, trace export, the comparison).
"""

from __future__ import annotations

from engine.durations import parse_duration
from engine.errors import AgentrangeError
from engine.model import Scenario

PROGRESS_AFTER = 1.0
"""Wall seconds a run may take before a progress bar appears."""


class RunCommandError(AgentrangeError):
    """A bad value of a run, compare or sweep option: a duration, a file, a profile list."""


def parse_until(text: str | None) -> float | None:
    """``--until``: a positive simulated duration, or None when not given."""
    if text is None:
        return None
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise RunCommandError(f"--until: {exc}") from None
    if value <= 0:
        raise RunCommandError(f"--until: expected a positive duration, found {text!r}")
    return value


def parse_profiles(scenario: Scenario, text: str | None) -> list[str]:
    """``--profiles A,B``: known profile ids in the order given (default: all of them)."""
    if text is None:
        return [p.id for p in scenario.profiles]
    ids = [p.strip() for p in text.split(",") if p.strip()]
    if not ids:
        raise RunCommandError("--profiles: name at least one profile")
    known = {p.id for p in scenario.profiles}
    unknown = [p for p in ids if p not in known]
    if unknown:
        raise RunCommandError(f"--profiles: scenario {scenario.name} has no profile "
                              f"{', '.join(map(repr, unknown))} (profiles: "
                              f"{', '.join(p.id for p in scenario.profiles)})")
    return list(dict.fromkeys(ids))
