"""The built-in scenario library: which scenarios ship, where their files are, and by name.

The engine's loader reads scenario files and directories and knows nothing of this package;
the commands resolve what a user typed here first: a path on disk wins, else a bare name is
looked up among the built-ins (reported as ``builtin:<name>/scenario.yaml``), else the error
lists the built-ins and suggests the closest name.
"""

from __future__ import annotations

import difflib
import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path

from engine import loader
from engine.errors import LoadError
from engine.loader import SCENARIO_FILE, ScenarioDir
from engine.model import Scenario


def root() -> Traversable:
    """The directory of the built-in scenarios (this package's data)."""
    return importlib.resources.files("scenarios")


def names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(entry.name for entry in root().iterdir()
                  if entry.is_dir() and (entry / SCENARIO_FILE).is_file())


def path_of(name: str) -> Traversable:
    """The directory of the built-in scenario ``name`` (its scenario file and policies).

    Raises:
        KeyError: when no built-in scenario has that name.
    """
    directory = root() / name
    if "/" in name or not (directory / SCENARIO_FILE).is_file():
        raise KeyError(name)
    return directory


def locate(ref: str | Path) -> str | Path | ScenarioDir:
    """What the loader should read for ``ref``: a path on disk, else the built-in so named.

    A file, or a directory holding ``scenario.yaml``, is returned as given (it wins over a
    built-in of the same name). Anything else that looks like a path is also returned as
    given, for the loader to report.

    Raises:
        LoadError: for a bare name that is neither on disk nor built in, listing the
            built-ins and suggesting the closest.
    """
    text = str(ref)
    path = Path(text)
    if path.is_file() or (path.is_dir() and (path / SCENARIO_FILE).is_file()):
        return ref
    if "/" in text or text.endswith((".yaml", ".yml")):
        return ref
    try:
        return ScenarioDir(path_of(text), text, f"builtin:{text}/{SCENARIO_FILE}")
    except KeyError:
        pass
    known = names()
    close = difflib.get_close_matches(text, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise LoadError(
        text, f"a scenario file or a built-in scenario ({', '.join(known)}){hint}",
        found="no such file or built-in",
    )


def load_scenario(ref: str | Path) -> Scenario:
    """Load and validate a scenario by built-in name or path (see :func:`locate`).

    Raises:
        LoadError: (or LoadErrors, its subclass listing several) for any problem.
    """
    return loader.load_scenario(locate(ref))
