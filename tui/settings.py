"""What the dashboard remembers between runs: for now, the theme a trainer chose.

The settings live in ``$XDG_CONFIG_HOME/agentrange/settings.json`` (``~/.config`` when
the variable is unset or empty), a small JSON object such as ``{"theme": "nord"}``. A file
that does not read as one is ignored with a one-line warning naming it, never an error:
a broken preference must not keep the dashboard from opening.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from engine.errors import AgentrangeError

SETTINGS_FILE = "settings.json"


class UnknownThemeError(AgentrangeError):
    """``--theme`` named a theme the dashboard does not have."""


def settings_path() -> Path:
    """Where the settings are kept (``$XDG_CONFIG_HOME/agentrange/settings.json``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agentrange" / SETTINGS_FILE


def load_theme() -> tuple[str | None, str | None]:
    """The remembered theme, and a warning when the settings file could not be read.

    Returns:
        (theme or None, None) normally; (None, a one-line warning naming the file and what
        was wrong) when the file exists but is not a JSON object with a string ``theme``.
    """
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"{path}: not readable ({exc.strerror}); the default theme is used"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, (f"{path}: line {exc.lineno} column {exc.colno}: expected a JSON "
                      "object such as {\"theme\": \"nord\"}; the default theme is used")
    theme = data.get("theme") if isinstance(data, dict) else None
    if theme is not None and not isinstance(theme, str):
        return None, f"{path}: \"theme\" should be a theme's name; the default theme is used"
    if not isinstance(data, dict):
        return None, (f"{path}: expected a JSON object such as {{\"theme\": \"nord\"}}; "
                      "the default theme is used")
    return theme, None


def save_theme(theme: str) -> None:
    """Remember ``theme`` for the next run (other settings in the file are kept).

    Raises:
        OSError: the file cannot be written (the caller says so; nothing is lost).
    """
    path = settings_path()
    data: dict[str, object] = {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            data = loaded
    except (OSError, ValueError):
        pass
    data["theme"] = theme
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def check_theme(theme: str, known: Sequence[str]) -> str:
    """``theme`` if the dashboard has it.

    Raises:
        UnknownThemeError: it does not; the message lists the themes there are.
    """
    if theme not in known:
        raise UnknownThemeError(f"--theme: no theme {theme!r}; there are {', '.join(known)}")
    return theme
