"""The blast-radius panel: records exposed, systems, data classes and the exposure window."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from sim.collectors.metrics import MetricsCollector
from tui.render.formatting import count, duration

SHOWN_INCIDENTS = 20
"""Incidents the panel lists (the newest)."""


def _names(value: Any) -> tuple[int, str]:
    """(how many, names) for a field that is either a count or a list of names."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return len(value), ", ".join(str(v) for v in value)
    if isinstance(value, int | float):
        return int(value), ""
    return 0, ""


class IncidentStatus(NamedTuple):
    """Where one incident stands, as the run's metrics collector folded it."""

    id: str
    open: bool
    """Its exposure has not ended (not contained yet)."""
    exposure: float
    """Seconds exposed so far."""
    time_to_detect: float | None
    time_to_contain: float | None
    records: int = 0
    """Records its steps reached so far."""
    before_detection: int | None = None
    """Records its steps had reached when it was detected (None: not detected)."""


class BlastPanel(Widget):
    """Shows the blast radius a run's metrics collector folded; it computes nothing itself.

    The parent calls :meth:`show_run` (or sets :attr:`blast` and :attr:`incidents`): the
    figures of :meth:`MetricsCollector.blast` (``records``, ``amount``,
    ``potential_records``, ``systems`` and ``data_classes`` as counts or lists of names,
    ``exposure_window`` in seconds, ``open`` while an exposure runs) and where each incident
    stands.
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
    """The latest blast-radius figures (None before the run starts)."""

    incidents: reactive[tuple[IncidentStatus, ...]] = reactive((), layout=True)
    """The run's incidents, oldest first (at most SHOWN_INCIDENTS, the newest)."""

    blind: reactive[str | None] = reactive(None, layout=True)
    """In blind mode, how much is shown: ``"detected so far"`` while the run plays, then
    ``"all, revealed"`` (None: not blind); the border title says it. Blind, each incident
    says what leaked before it was detected."""

    def watch_blind(self, blind: str | None) -> None:
        """Say in the border title how much of the blast radius a blind SOC sees."""
        self.border_title = f"blast: {blind}" if blind else "blast radius"

    def show_run(self, collector: MetricsCollector, now: float,
                 detected: Collection[str] | None = None) -> None:
        """Show what ``collector`` folded of the run so far, at simulated time ``now``.

        Args:
            collector: The run's collector (the whole stream's, blind or not).
            now: The simulated time.
            detected: Show only these incidents (blind, before the run ends); None: all.
        """
        self.blast = collector.blast(now, detected)
        compromises = [c for i, c in collector.compromises.items()
                       if detected is None or i in detected][-SHOWN_INCIDENTS:]
        before = collector.before_detection
        incidents = tuple(IncidentStatus(c.id, c.open, c.exposure_window(now),
                                         c.time_to_detect, c.time_to_contain,
                                         c.realised.records, before.get(c.id))
                          for c in compromises)
        if incidents != self.incidents:
            self.incidents = incidents

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
        for incident in self.incidents:
            if incident.open:
                status = Text(f"open {duration(incident.exposure)}",
                              style=self.get_component_rich_style("blast-panel--exposed"))
            else:
                status = Text(f"contained in {duration(incident.time_to_contain)}",
                              style=self.get_component_rich_style("blast-panel--clean"))
                if incident.time_to_detect is not None:
                    status.append(f", seen at {duration(incident.time_to_detect)}")
            table.add_row(Text(incident.id, overflow="ellipsis", no_wrap=True), status)
            if self.blind is not None:
                if incident.before_detection is not None:
                    # Records, as the first row: short enough for an 80-column panel.
                    table.add_row("before detection", count(incident.before_detection))
                else:
                    table.add_row("never detected", count(incident.records))
        return table
