"""The run header: scenario, profile, simulated clock, speed and whether the run plays."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.render.formatting import clock, speed


class RunHeader(Widget):
    """One line naming what runs and how fast, with the simulated clock."""

    DEFAULT_CSS = """
    RunHeader {
        height: 1;
        background: $panel;
        color: $foreground;
        & > .run-header--brand { color: $accent; text-style: bold; }
        & > .run-header--name { text-style: bold; }
        & > .run-header--playing { color: $success; text-style: bold; }
        & > .run-header--paused { color: $warning; text-style: bold reverse; }
        & > .run-header--done { color: $text-muted; text-style: bold; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "run-header--brand",
        "run-header--name",
        "run-header--playing",
        "run-header--paused",
        "run-header--done",
    }

    scenario: reactive[str] = reactive("")
    profile: reactive[str] = reactive("")
    now: reactive[float] = reactive(0.0)
    end: reactive[float] = reactive(math.inf)
    speed: reactive[float] = reactive(1.0)
    paused: reactive[bool] = reactive(False)
    done: reactive[bool] = reactive(False)

    def render(self) -> Text:
        """Brand, names, clock, speed and state; the names give way first when narrow."""
        style = self.get_component_rich_style
        text = Text(" agentrange ", style=style("run-header--brand"))
        state = ("done", "run-header--done") if self.done else (
            ("paused", "run-header--paused") if self.paused else (
                "playing", "run-header--playing"))
        tail = Text()
        tail.append(f" {clock(self.now)}")
        if math.isfinite(self.end):
            tail.append(f"/{clock(self.end)}", style="dim")
        tail.append(f"  {speed(self.speed)} ")
        tail.append(f" {state[0]} ", style=style(state[1]))
        names = Text(self.scenario, style=style("run-header--name"))
        if self.profile:
            names.append(f" · {self.profile}")
        room = self.size.width - text.cell_len - tail.cell_len - 1
        if room > 3:
            names.truncate(room, overflow="ellipsis")
            text.append_text(names)
            text.append(" " * max(0, room - names.cell_len))
        text.append_text(tail)
        return text
