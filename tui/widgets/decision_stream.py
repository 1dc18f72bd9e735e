"""The live decision stream: a bounded, filterable table of decision events with a cursor."""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollDown, ScrollTo, ScrollUp
from textual.strip import Strip

from sim.events import Event, EventKind
from tui.run_index import Cells, RunIndex, event_values
from tui.run_query import Query, QueryError, Term, parse_query
from tui.widgets.decision_rows import (
    DIM_CELLS,
    EFFECT_CELL,
    HEADER,
    MARKER_CELL,
    column_layout,
    fit,
    row_cells,
)


class DecisionStream(ScrollView, can_focus=True):
    """The most recent decisions, newest last, one row each; older rows fall off the top.

    The parent feeds events with :meth:`add_events`; the widget keeps at most ``capacity``
    decisions, renders only the visible lines and follows the newest row until the user moves
    the cursor up or scrolls up (End, or scrolling back to the bottom, follows again). New rows
    show on the next :meth:`flush` (the parent paces redraws: at full speed a tick arrives
    faster than a repaint is worth).

    When the parent hands it the run's :class:`~tui.run_index.RunIndex` (attribute
    :attr:`index`), a filter covers the whole run, and :meth:`select_seq` with ``reach`` can
    show a decision older than the kept rows: the stream then lists the whole run from the
    index's compact rows until End (or clearing the filter) returns it to the newest rows.
    """

    DEFAULT_CSS = """
    DecisionStream {
        height: 1fr;
        background: $surface;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
        & > .decision-stream--header { text-style: bold; color: $text-muted; }
        & > .decision-stream--allow { color: $success; }
        & > .decision-stream--deny { color: $error; text-style: bold; }
        & > .decision-stream--require_approval { color: $warning; text-style: bold; }
        & > .decision-stream--cursor { background: $accent 40%; }
        & > .decision-stream--incident { color: $error; }
        & > .decision-stream--dim { color: $text-muted; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "decision-stream--header",
        "decision-stream--allow",
        "decision-stream--deny",
        "decision-stream--require_approval",
        "decision-stream--cursor",
        "decision-stream--incident",
        "decision-stream--dim",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "follow", "Follow newest", show=False),
        Binding("enter", "select", "Details", show=False),
    ]

    filter_text: reactive[str] = reactive("", init=False)
    """A query every shown row satisfies (:mod:`tui.run_query`: ``effect:deny`` or words)."""

    following: reactive[bool] = reactive(True, init=False)
    """True while the cursor tracks the newest row."""

    class Selected(Message):
        """The user asked for the details of a decision (Enter, or a click on the cursor)."""

        def __init__(self, stream: DecisionStream, event: Event) -> None:
            self.stream = stream
            self.event = event
            super().__init__()

        @property
        def control(self) -> DecisionStream:
            """The stream the decision was chosen in."""
            return self.stream

    def __init__(self, capacity: int = 500, *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.capacity = capacity
        self._rows: deque[Event] = deque(maxlen=capacity)
        self._visible: list[Event] = []
        self._cells: dict[int, Cells] = {}
        self._cursor_seq: int | None = None
        self._stale = False
        self.total = 0
        """Decisions seen since the run started (not only those kept)."""
        self.index: RunIndex | None = None
        """The run's index (set by the parent, which feeds it): filters reach the whole run."""
        self._query: Query = parse_query("")
        self._history = False
        self._whole: list[int] | None = None
        """Sequence numbers shown while the stream lists the whole run (None: kept rows)."""
        self._whole_total = 0
        self._whole_dropped = 0

    # --- data in -----------------------------------------------------------------------

    def add_events(self, batch: Iterable[Event]) -> int:
        """Append the decision events of a batch (shown at the next flush); returns how many."""
        decision = EventKind.DECISION
        new = [e for e in batch if e.kind is decision]
        if new:
            self._rows.extend(new)
            self.total += len(new)
            self._stale = True
        return len(new)

    def flush(self) -> None:
        """Show the rows added since the last flush (filter, follow the newest, repaint)."""
        if self._stale:
            self._rebuild()

    def clear(self) -> None:
        """Forget every row (a new run starts)."""
        self._rows.clear()
        self.total = 0
        self._cursor_seq = None
        self.following = True
        self._history = False
        self._whole = None
        self._rebuild()

    @property
    def whole_run(self) -> bool:
        """True while the stream lists the whole run (a filter, or a jump into the past)."""
        return self._whole is not None

    @property
    def rows(self) -> list[Event]:
        """The decisions shown, oldest first (flushed first).

        Over the whole run, a decision whose full event is no longer kept comes as the
        index's abridged event (``data["summary"]`` is True).
        """
        self.flush()
        if self._whole is not None:
            assert self.index is not None
            found = (self.index.summary(seq) for seq in self._whole)
            return [e for e in found if e is not None]
        return list(self._visible)

    @property
    def kept(self) -> int:
        """How many decisions the buffer holds (at most ``capacity``)."""
        return len(self._rows)

    @property
    def cursor_event(self) -> Event | None:
        """The decision under the cursor (abridged if only the index remembers it)."""
        self.flush()
        index = self._cursor_index()
        if index is None:
            return None
        if self._whole is not None:
            assert self.index is not None
            return self.index.summary(self._whole[index])
        return self._visible[index]

    def select_seq(self, seq: int, *, reach: bool = False) -> bool:
        """Put the cursor on the decision with this sequence number.

        Args:
            seq: The decision event's sequence number.
            reach: When the decision is not shown (older than the kept rows, or filtered
                out) but the index has it, list the whole run, unfiltered, and go there.

        Returns:
            False when the decision cannot be shown.
        """
        self.flush()
        for i in range(self._count() - 1, -1, -1):
            if self._seq_at(i) == seq:
                self._move_to(i)
                return True
        if not reach or self.index is None or self.index.position(seq) is None:
            return False
        self._history = True
        self.following = False
        self._cursor_seq = seq
        if self.filter_text:
            self.filter_text = ""  # the watcher rebuilds
        else:
            self._rebuild()
        for i in range(self._count() - 1, -1, -1):
            if self._seq_at(i) == seq:
                self._move_to(i)
                return True
        return False

    def select_near(self, time: float, agent: str | None = None) -> bool:
        """Put the cursor on the last shown decision at or before ``time`` (by ``agent``)."""
        self.flush()
        best: int | None = None
        for i, event in enumerate(self._visible if self._whole is None else ()):
            if event.time > time:
                break
            if agent is None or event.agent == agent:
                best = i
        if best is None:
            return False
        self._move_to(best)
        return True

    # --- internals ---------------------------------------------------------------------

    def _rebuild(self, *, anew: bool = False) -> None:
        self._stale = False
        index = self.index
        if index is not None and (self._history or not self._query.empty):
            self._visible = []
            if (anew or self._whole is None or self._whole_dropped != index.dropped
                    or self._whole_total > index.total):
                self._whole = index.select(self._query)
            else:
                start = max(0, len(index) - (index.total - self._whole_total))
                self._whole.extend(index.select(self._query, start))
            self._whole_total, self._whole_dropped = index.total, index.dropped
            self._note_whole()
        else:
            if self._whole is not None:
                self._whole = None
                self.border_subtitle = ""
            if not self._query.empty:
                wanted = self._query.predicate()
                self._visible = [e for e in self._rows if wanted(event_values(e))]
            else:
                self._visible = list(self._rows)
        if len(self._cells) > 2 * self.capacity:
            keep = {e.seq for e in self._rows}
            self._cells = {k: v for k, v in self._cells.items() if k in keep}
        count = self._count()
        self.virtual_size = Size(self.size.width, count + 1)
        if self.following:
            self._cursor_seq = self._seq_at(count - 1) if count else None
            self._stick_to_end()
        self.refresh()

    def _stick_to_end(self) -> None:
        """Scroll to the newest row, whether or not the scrollbar is showing yet.

        Textual only scrolls a widget whose scrollbar shows, and decides that at the next
        layout; a flush that first fills the view would otherwise leave the stream at the top
        (and a layout that only adds the scrollbar sends no Resize to try again). ``force``
        scrolls anyway; the offset is clamped again once the layout knows the real height.
        """
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Repaint at the new offset and keep the scrollbar's thumb on it.

        ScrollView moves the thumb only while the scrollbar shows; after a forced scroll
        made before the layout shows it, the thumb would sit at the top of a stream scrolled
        to its end. Textual's own anchoring sets the position the same way.
        """
        super().watch_scroll_y(old_value, new_value)
        if self.is_mounted:
            self.vertical_scrollbar.position = new_value

    def _note_whole(self) -> None:
        """Say in the border what the whole-run list shows."""
        shown = len(self._whole or ())
        index = self.index
        seen = index.total if index is not None else 0
        dropped = f" ({index.dropped:,} oldest forgotten)" if index and index.dropped else ""
        if self._query.empty:
            self.border_subtitle = f"whole run: {seen:,} decisions{dropped}; End: newest"
        else:
            self.border_subtitle = (f"filter {shown:,}/{seen:,}{dropped}: "
                                    f"{self._query.text}")

    def watch_filter_text(self) -> None:
        """Re-filter: over the whole run when the index is there, else over the kept rows."""
        try:
            self._query = parse_query(self.filter_text)
        except QueryError:
            # The parent checks queries before setting them; a bad one set directly is
            # taken word by word rather than failing in a watcher.
            self._query = Query(self.filter_text, tuple(
                Term(None, word.lower()) for word in self.filter_text.split()))
        if not self._query.empty:
            self._history = False
        self._rebuild(anew=True)

    def _count(self) -> int:
        return len(self._visible) if self._whole is None else len(self._whole)

    def _seq_at(self, i: int) -> int:
        return self._visible[i].seq if self._whole is None else self._whole[i]

    def _cursor_index(self) -> int | None:
        seq = self._cursor_seq
        count = self._count()
        if seq is None or not count:
            return None
        if self._whole is not None:
            i = bisect_left(self._whole, seq)
            return i if i < count and self._whole[i] == seq else None
        # The cursor is usually near the end; search backwards.
        for i in range(count - 1, -1, -1):
            if self._visible[i].seq == seq:
                return i
        return None

    def _move_to(self, index: int) -> None:
        self.flush()
        count = self._count()
        if not count:
            return
        index = max(0, min(index, count - 1))
        self._cursor_seq = self._seq_at(index)
        self.following = index == count - 1
        body = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True, force=True)
        elif index >= top + body:
            self.scroll_to(y=index - body + 1, animate=False, immediate=True, force=True)
        self.refresh()

    def _scrolled(self) -> None:
        """Follow or not after the user scrolled (the wheel or the scrollbar).

        Off the bottom stops following, so new rows leave the view where it is; back at the
        bottom follows the newest again. Judged by where the scroll is going (a dragged thumb
        or a page may still be animating).
        """
        if self.scroll_target_y < self.max_scroll_y:
            self.following = False
        elif not self.following and not self._history:
            self.action_follow()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        super()._on_mouse_scroll_up(event)
        self._scrolled()

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        super()._on_mouse_scroll_down(event)
        self._scrolled()

    def _on_scroll_to(self, message: ScrollTo) -> None:
        super()._on_scroll_to(message)  # the scrollbar dragged
        self._scrolled()

    def _on_scroll_up(self, event: ScrollUp) -> None:
        super()._on_scroll_up(event)  # a click on the scrollbar above the thumb
        self._scrolled()

    def _on_scroll_down(self, event: ScrollDown) -> None:
        super()._on_scroll_down(event)
        self._scrolled()

    def action_cursor(self, delta: int) -> None:
        """Move the cursor by ``delta`` rows."""
        self.flush()
        index = self._cursor_index()
        if index is None:
            index = self._count()
        self._move_to(index + delta)

    def action_first(self) -> None:
        """Go to the oldest kept decision."""
        self._move_to(0)

    def action_follow(self) -> None:
        """Go to the newest decision and keep following (back to the newest rows)."""
        if self._history:
            self._history = False
            self._rebuild(anew=True)
        self._move_to(self._count() - 1)
        self.following = True

    def action_select(self) -> None:
        """Ask for the details of the decision under the cursor."""
        event = self.cursor_event
        if event is not None:
            self.post_message(self.Selected(self, event))

    def on_click(self, event: events.Click) -> None:
        """Click moves the cursor; a click on the cursor row opens its details."""
        offset = event.get_content_offset(self)  # event.y counts the border too
        if offset is None or offset.y < 1:
            return
        self.flush()
        index = int(self.scroll_y) + offset.y - 1
        if not 0 <= index < self._count():
            return
        if self._seq_at(index) == self._cursor_seq or event.chain >= 2:
            self._move_to(index)
            self.action_select()
        else:
            self._move_to(index)

    # --- rendering ---------------------------------------------------------------------

    def _row_cells(self, event: Event) -> Cells:
        cells = self._cells.get(event.seq)
        if cells is None:
            cells = self._cells[event.seq] = row_cells(event)
        return cells

    def _strip(self, texts: list[tuple[str, Style]], width: int, base: Style) -> Strip:
        segments = [Segment(text, base + style) for text, style in texts]
        return Strip(segments).adjust_cell_length(width, base).simplify()

    def render_line(self, y: int) -> Strip:
        """Line 0 is the column header; the rest show rows from the scroll offset."""
        width = self.size.width
        base = self.rich_style
        layout = column_layout(width)
        if y == 0:
            style = self.get_component_rich_style("decision-stream--header")
            return self._strip([(fit(HEADER[i], w) + " ", style) for i, w in layout],
                               width, base)
        index = int(self.scroll_y) + y - 1
        if not 0 <= index < self._count():
            return Strip.blank(width, base)
        seq = self._seq_at(index)
        if self._whole is None:
            event = self._visible[index]
            cells = self._row_cells(event)
            effect = str((event.data.get("decision") or {}).get("effect", ""))
        else:
            assert self.index is not None
            cells = self.index.cells(seq) or ('', '', '', '', '', '', '', '')
            effect = self.index.effect(seq)
        effect_style = (self.get_component_rich_style(f"decision-stream--{effect}")
                        if effect in ("allow", "deny", "require_approval") else Style())
        marker_style = self.get_component_rich_style("decision-stream--incident")
        dim = self.get_component_rich_style("decision-stream--dim")
        if seq == self._cursor_seq:
            base = base + self.get_component_rich_style("decision-stream--cursor")
        texts: list[tuple[str, Style]] = []
        for i, w in layout:
            style = effect_style if i == EFFECT_CELL else marker_style if i == MARKER_CELL else (
                dim if i in DIM_CELLS else Style())
            texts.append((fit(cells[i], w) + " ", style))
        return self._strip(texts, width, base)

    def on_resize(self) -> None:
        """Keep the newest row in view at the new size."""
        self.virtual_size = Size(self.size.width, self._count() + 1)
        if self.following:
            self._stick_to_end()

