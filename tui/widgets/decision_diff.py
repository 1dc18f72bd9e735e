"""The decision diff: requests whose effect changed between profiles, with a summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rich.text import Text
from textual.widgets import DataTable

from tui.render.formatting import effect_label

EFFECT_STYLE = {"allow": "green", "deny": "bold red", "require_approval": "yellow"}


class DiffRow(NamedTuple):
    """One logical request and its effect under each profile (None: not made there)."""

    request: str
    effects: tuple[str | None, ...]


class DecisionDiff(DataTable[Text | str]):
    """A table of changed decisions; the parent sets profiles, rows and a summary line."""

    DEFAULT_CSS = """
    DecisionDiff {
        height: 1fr;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.profiles: tuple[str, ...] = ()
        self.summary = ""

    def show(self, profiles: Sequence[str], rows: Sequence[DiffRow], summary: str,
             limit: int = 500) -> None:
        """Replace the table's content with ``rows`` (at most ``limit``)."""
        self.clear(columns=tuple(profiles) != self.profiles)
        if tuple(profiles) != self.profiles or not self.columns:
            self.profiles = tuple(profiles)
            # The effects first: on a narrow terminal the long request gives way, not them.
            for p in self.profiles:
                self.add_column(p, key=p)
            self.add_column("what the agent asked (run, step, tool)", key="request")
        for row in rows[:limit]:
            cells: list[Text | str] = [
                Text(effect_label(effect), style=EFFECT_STYLE.get(effect, ""))
                if effect else Text("not made", style="dim") for effect in row.effects]
            cells.append(row.request)
            self.add_row(*cells)
        self.summary = summary
        self.border_subtitle = summary
