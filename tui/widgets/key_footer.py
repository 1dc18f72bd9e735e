"""The key footer: Textual's footer, folded onto two lines when the terminal is narrow."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.widgets import Footer


class KeyFooter(Footer):
    """Every binding of the screen stays visible: on a narrow terminal the keys take two rows."""

    DEFAULT_CSS = """
    KeyFooter.-two-rows {
        layout: grid;
        height: 2;
        grid-columns: auto;
        grid-gutter: 0 0;
        & FooterKey { margin: 0; padding: 0 1 0 0; }
        & FooterKey.-command-palette { padding: 0 1; }
    }
    """

    NARROW = 110
    """Below this many columns the keys fold onto two rows."""

    def compose(self) -> ComposeResult:
        """Textual's keys; then fold them when the screen is narrow.

        Folded, the keys take the whole width: ctrl+p is left out of the footer (the help
        screen, ``?``, names it), else it covers the end of the first row.
        """
        self.set_reactive(Footer.show_command_palette,
                          self.app.size.width >= self.NARROW)
        keys = list(super().compose())
        inline = [k for k in keys if not k.has_class("-command-palette")]
        two_rows = self.app.size.width < self.NARROW and len(inline) > 6
        self.set_class(two_rows, "-two-rows")
        if two_rows:
            self.styles.grid_size_columns = math.ceil(len(inline) / 2)
        yield from keys

    def on_resize(self) -> None:
        """Re-fold when the terminal changes width."""
        two_rows = self.app.size.width < self.NARROW
        if two_rows != self.has_class("-two-rows"):
            self.call_after_refresh(self.recompose)
