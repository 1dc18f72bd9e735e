"""Asks a drill participant for the name their score goes under (when ``--name`` was not given)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class NameScreen(ModalScreen[str | None]):
    """One line: your name on the scoreboard. Enter joins; Esc leaves the drill.

    Args:
        drill: How the drill is named to the participant.
    """

    DEFAULT_CSS = """
    NameScreen {
        align: center middle;
        & > Vertical {
            width: 64; max-width: 100%; height: auto;
            border: thick $accent; background: $surface; padding: 0 1;
        }
        & Label { width: 100%; margin-bottom: 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "leave", "Leave")]

    def __init__(self, drill: str) -> None:
        super().__init__()
        self.drill = drill

    def compose(self) -> ComposeResult:
        """The question and the name box."""
        with Vertical() as box:
            box.border_title = f"join {self.drill}"
            yield Label("Your name on the scoreboard, then Enter. The run plays blind: find "
                        "the compromised agent from the alerts, then contain it.")
            yield Input(placeholder="your name", id="drill-name", max_length=40)

    @on(Input.Submitted, "#drill-name")
    def _named(self, message: Input.Submitted) -> None:
        name = message.value.strip()
        if not name:
            self.notify("Type a name first.", timeout=3)
            return
        self.dismiss(name)

    def action_leave(self) -> None:
        """Leave without joining."""
        self.dismiss(None)
