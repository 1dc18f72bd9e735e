"""The story banner: one line on the compare screen saying what happens and what differs."""

from __future__ import annotations

from textual.widgets import Static

from tui.render.story import Story


class StoryBanner(Static):
    """Shows :meth:`Story.text` of a comparison (the story is read from the runs' folds).

    It wraps onto a second or third line on a narrow terminal rather than cutting the
    ending off: the ending is the point.
    """

    DEFAULT_CSS = """
    StoryBanner {
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $boost;
        color: $foreground;
        text-style: bold;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.text = ""
        """The line shown."""

    def show(self, story: Story) -> None:
        """Show ``story``; the banner repaints only when its words change."""
        text = story.text()
        if text != self.text:
            self.text = text
            self.update(text)
