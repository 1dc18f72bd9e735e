"""Alerts as they fire: severity, time, message; bounded, with a cursor to step through them."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from sim.events import Event, EventKind
from tui.render.formatting import clock

SEVERITY_CLASS = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}


class AlertList(OptionList):
    """The most recent alerts, newest last; at most ``capacity`` are kept."""

    DEFAULT_CSS = """
    AlertList {
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        background: $surface;
        & > .alert-list--critical { color: $error; text-style: bold; }
        & > .alert-list--high { color: $error; }
        & > .alert-list--medium { color: $warning; }
        & > .alert-list--low { color: $text-muted; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "alert-list--critical",
        "alert-list--high",
        "alert-list--medium",
        "alert-list--low",
    }

    class Jumped(Message):
        """The cursor moved to an alert (key ``a`` or a click): show what raised it."""

        def __init__(self, alert_list: AlertList, event: Event) -> None:
            self.alert_list = alert_list
            self.event = event
            super().__init__()

        @property
        def control(self) -> AlertList:
            """The alert list."""
            return self.alert_list

    def __init__(self, capacity: int = 200, *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.capacity = capacity
        self.alerts: deque[Event] = deque()

    def _label(self, event: Event) -> Text:
        d = event.data
        severity = str(d.get("severity", "medium"))
        style = self.get_component_rich_style(
            f"alert-list--{SEVERITY_CLASS.get(severity, 'medium')}")
        text = Text(f"{clock(event.time)} ", style="dim", no_wrap=True, overflow="ellipsis")
        text.append(severity.upper().ljust(6), style=style)  # the whole word: MEDIUM
        text.append(" ")
        text.append(str(d.get("message") or d.get("reason") or "alert"))
        return text

    def add_events(self, batch: Iterable[Event]) -> int:
        """Append the alerts of a batch; returns how many were added."""
        alert = EventKind.ALERT
        new = [e for e in batch if e.kind is alert]
        if not new:
            return 0
        new = new[-self.capacity:]
        self.alerts.extend(new)
        overflow = len(self.alerts) - self.capacity
        if overflow > 0:
            # Rebuilding once is cheaper than removing options one at a time from the top.
            for _ in range(overflow):
                self.alerts.popleft()
            highlighted = self.highlighted
            self.clear_options()
            self.add_options([Option(self._label(e), id=f"alert-{e.seq}")
                              for e in self.alerts])
            if highlighted is not None:
                self.highlighted = max(0, highlighted - overflow)
        else:
            self.add_options([Option(self._label(e), id=f"alert-{e.seq}") for e in new])
        return len(new)

    def next_alert(self) -> Event | None:
        """Move the cursor to the next alert (wrapping) and announce it."""
        if not self.alerts:
            return None
        index = self.highlighted
        index = 0 if index is None else (index + 1) % len(self.alerts)
        self.highlighted = index
        event = self.alerts[index]
        self.post_message(self.Jumped(self, event))
        return event

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        """Selecting an alert with Enter or a click jumps to it too."""
        message.stop()
        index = message.option_index
        if 0 <= index < len(self.alerts):
            self.post_message(self.Jumped(self, self.alerts[index]))
