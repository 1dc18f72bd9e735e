"""The decision diff: requests whose effect changed between profiles, with a summary.

Enter (or a click) on a row asks, with :class:`DecisionDiff.Opened`, for that request's
decision under every profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from tui.render.formatting import effect_label

EFFECT_STYLE = {"allow": "green", "deny": "bold red", "require_approval": "yellow"}


class DiffRow(NamedTuple):
    """One logical request and its effect under each profile (None: not made there)."""

    request: str
    effects: tuple[str | None, ...]
    key: Any = None
    """The request's logical key, (agent, task, run, step, incident), to find it again."""


class DecisionDiff(DataTable[Text | str]):
    """A table of changed decisions; the parent sets profiles, rows and a summary line."""

    DEFAULT_CSS = """
    DecisionDiff {
        height: 1fr;
    }
    """

    class Opened(Message):
        """The user chose a row: show the request's decision under each profile."""

        def __init__(self, diff: DecisionDiff, row: DiffRow) -> None:
            self.diff = diff
            self.row = row
            super().__init__()

        @property
        def control(self) -> DecisionDiff:
            """The diff the row was chosen in."""
            return self.diff

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.profiles: tuple[str, ...] = ()
        self.summary = ""
        self.diff_rows: list[DiffRow] = []
        """The rows shown, in order."""

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
        self.diff_rows = list(rows[:limit])
        for row in self.diff_rows:
            cells: list[Text | str] = [
                Text(effect_label(effect), style=EFFECT_STYLE.get(effect, ""))
                if effect else Text("not made", style="dim") for effect in row.effects]
            cells.append(row.request)
            self.add_row(*cells)
        self.summary = summary
        self.border_subtitle = summary

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        """Enter or a click on a row asks for its decisions."""
        message.stop()
        if 0 <= message.cursor_row < len(self.diff_rows):
            self.post_message(self.Opened(self, self.diff_rows[message.cursor_row]))
