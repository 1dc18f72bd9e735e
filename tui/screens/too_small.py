"""The "terminal too small" notice: shown over any screen while the terminal is under 80x24.

Below that size panels are cut to their borders or vanish; rather than a broken board the
app shows this notice until the terminal is large enough again (the app opens and closes
it on resize, see ``AgentrangeApp.on_resize``).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

MIN_WIDTH = 80
MIN_HEIGHT = 24
"""The smallest terminal the dashboard is laid out for (columns, rows)."""


def too_small(width: int, height: int) -> bool:
    """True when a terminal of this size cannot show the dashboard's panels."""
    return width < MIN_WIDTH or height < MIN_HEIGHT


class TooSmallScreen(ModalScreen[None]):
    """Says how large the terminal must be and how large it is; q still quits."""

    DEFAULT_CSS = """
    TooSmallScreen {
        align: center middle;
        background: $background;
    }
    TooSmallScreen > Static {
        width: 1fr;
        height: auto;
        padding: 0 1;
        text-align: center;
        color: $warning;
        text-style: bold;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        """One centred notice."""
        yield Static(self.message(self.app.size.width, self.app.size.height), id="too-small")

    @staticmethod
    def message(width: int, height: int) -> str:
        """What the notice says for a terminal of ``width`` x ``height``."""
        return (f"Terminal too small: {width}x{height}. agentrange needs at least "
                f"{MIN_WIDTH}x{MIN_HEIGHT}.\nEnlarge the window or make the font smaller "
                "(the run goes on underneath); q quits.")

    def show_size(self) -> None:
        """Say the terminal's size as it is now (once the notice is composed)."""
        for notice in self.query("#too-small").results(Static):
            notice.update(self.message(*self.app.size))
