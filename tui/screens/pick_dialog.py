"""The shape every pick-one dialog shares: a titled box, a help line, a list, Cancel.

The response dialogs (:mod:`tui.screens.incident`) and the shadow-rule dialog
(:mod:`tui.screens.shadow`) are :class:`PickDialog` subclasses: each says its title, its help
and its entries; Enter or a click on an entry dismisses the dialog with the entry's id, Esc
or Cancel with None.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList
from textual.widgets.option_list import Option

DIALOG_CSS = """
%s {
    align: center middle;
    & > Vertical {
        width: 72;
        max-width: 100%%;
        height: auto;
        max-height: 90%%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    & OptionList { height: auto; max-height: 12; }
    & .dialog-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    & .dialog-buttons Button { margin-left: 1; }
    & Label.dialog-help { color: $text-muted; }
}
"""
"""A dialog's style, ``%`` its class name (a DEFAULT_CSS applies to its own class only)."""


class PickDialog(ModalScreen[str | None]):
    """A list to pick one entry from; Enter or a click confirms, Esc or Cancel closes.

    Subclasses set :attr:`TITLE_TEXT` and :attr:`HELP_TEXT` (or override :meth:`help_text`),
    :attr:`PICK_ID` when tests or styles name the list, and give :meth:`options`.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    TITLE_TEXT = ""
    HELP_TEXT = ""
    PICK_ID = "pick"

    def options(self) -> list[Option]:
        """The entries, each with the id the dialog returns."""
        raise NotImplementedError

    def help_text(self) -> str:
        """The line above the list."""
        return self.HELP_TEXT

    def compose(self) -> ComposeResult:
        """Help line, the list, a cancel button."""
        with Vertical() as box:
            box.border_title = self.TITLE_TEXT
            yield Label(self.help_text(), classes="dialog-help")
            yield OptionList(*self.options(), id=self.PICK_ID, classes="dialog-pick")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", classes="dialog-cancel")

    def on_mount(self) -> None:
        """Focus the list on its first enabled entry."""
        pick = self.query_one(".dialog-pick", OptionList)
        pick.focus()
        pick.action_first()

    @on(OptionList.OptionSelected, ".dialog-pick")
    def _chosen(self, message: OptionList.OptionSelected) -> None:
        self.dismiss(message.option.id)

    @on(Button.Pressed, ".dialog-cancel")
    def action_cancel(self) -> None:
        """Close without acting."""
        self.dismiss(None)
