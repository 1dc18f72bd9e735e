"""The blast-radius panel: records exposed, systems, data classes and the exposure window."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from sim.events import Event
from tui.render.formatting import count, duration


def _names(value: Any) -> tuple[int, str]:
    """(how many, names) for a field that is either a count or a list of names."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return len(value), ", ".join(str(v) for v in value)
    if isinstance(value, int | float):
        return int(value), ""
    return 0, ""


class BlastPanel(Widget):
    """Shows the blast radius the simulation reports; it computes nothing itself.

    The parent sets :attr:`blast` to the simulation's current blast-radius figures, a mapping
    with ``records``, ``potential_records``, ``systems``, ``data_classes`` (counts or lists of
    names), ``exposure_window`` (seconds) and optionally ``open`` (exposure still running),
    and feeds events so each incident shows how long it has gone uncontained, or the time to
    detect and contain that the simulator reported.
    """

    DEFAULT_CSS = """
    BlastPanel {
        height: auto;
        padding: 0 1;
        & > .blast-panel--label { color: $text-muted; }
        & > .blast-panel--exposed { color: $error; text-style: bold; }
        & > .blast-panel--clean { color: $success; text-style: bold; }
        & > .blast-panel--open { color: $warning; text-style: bold; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "blast-panel--label",
        "blast-panel--exposed",
        "blast-panel--clean",
        "blast-panel--open",
    }

    blast: reactive[Mapping[str, Any] | None] = reactive(None, layout=True)
    """The latest blast-radius figures (None before the first report)."""

    now: reactive[float] = reactive(0.0)
    """The simulated clock, for the time an incident has gone uncontained."""

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.incidents: dict[str, dict[str, Any]] = {}
        """Incident id -> {"start": time, "detected": seconds, "contained": seconds}."""

    def add_events(self, batch: Iterable[Event]) -> bool:
        """Follow incidents and their containment; True when the panel must redraw."""
        changed = False
        for event in batch:
            kind = event.kind
            if kind == "incident":
                key = str(event.data.get("id"))
                self.incidents[key] = {"start": event.time, "detected": None,
                                       "contained": None}
                changed = True
            elif kind == "contained":
                entry = self.incidents.get(str(event.data.get("incident")))
                if entry is not None:
                    entry["detected"] = event.data.get("time_to_detect")
                    entry["contained"] = event.data.get("time_to_contain")
                    changed = True
        if len(self.incidents) > 20:
            for key in list(self.incidents)[:-20]:
                del self.incidents[key]
        return changed

    def render(self) -> Table:
        """A two-column grid of figures."""
        label = self.get_component_rich_style("blast-panel--label")
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(style=label, no_wrap=True)
        table.add_column(ratio=1)
        blast = self.blast or {}
        records = blast.get("records") or 0
        style = self.get_component_rich_style(
            "blast-panel--exposed" if records else "blast-panel--clean")
        table.add_row("records exposed", Text(count(records), style=style))
        if blast.get("amount"):  # only where steps move money (refunds, payments)
            table.add_row("money moved", Text(count(blast.get("amount")), style=style))
        if blast.get("potential_records") is not None:
            table.add_row("could reach", count(blast.get("potential_records")))
        for key, title in (("systems", "systems"), ("data_classes", "data classes")):
            n, names = _names(blast.get(key))
            table.add_row(title, Text(f"{n}" + (f"  {names}" if names else ""),
                                      overflow="ellipsis", no_wrap=True))
        window = blast.get("exposure_window")
        text = Text(duration(window) if window is not None else "-")
        if blast.get("open"):
            text.append("  still open", style=self.get_component_rich_style(
                "blast-panel--open"))
        table.add_row("exposure", text)
        for key, entry in self.incidents.items():
            if entry["contained"] is None:
                status = Text(f"open {duration(self.now - entry['start'])}",
                              style=self.get_component_rich_style("blast-panel--exposed"))
            else:
                status = Text(f"contained in {duration(entry['contained'])}",
                              style=self.get_component_rich_style("blast-panel--clean"))
                if entry["detected"] is not None:
                    status.append(f", seen at {duration(entry['detected'])}")
            table.add_row(Text(key, overflow="ellipsis", no_wrap=True), status)
        return table
