"""The live decision stream: a bounded, filterable table of decision events with a cursor."""

from __future__ import annotations

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
from textual.strip import Strip

from sim.events import Event, EventKind
from tui.render.formatting import chain_text, clock, effect_label

Cells = tuple[str, str, str, str, str, str, str, str]
"""time, agent, chain, tool, resource, effect, rule, marker."""

_NO_RULE = {"no_matching_allow": "default deny", "invalid_token": "bad token",
            "error": "error: fail closed"}
"""The rule column when no rule decided, by the decision's reason."""


class DecisionStream(ScrollView, can_focus=True):
    """The most recent decisions, newest last, one row each; older rows fall off the top.

    The parent feeds events with :meth:`add_events`; the widget keeps at most ``capacity``
    decisions, renders only the visible lines and follows the newest row until the user moves
    the cursor up (End follows again). New rows show on the next :meth:`flush` (the parent
    paces redraws: at full speed a tick arrives faster than a repaint is worth).
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
    """Space-separated terms every shown row must contain (agent, tool, effect, rule...)."""

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
        self._haystacks: dict[int, str] = {}
        self._cursor_seq: int | None = None
        self._stale = False
        self.total = 0
        """Decisions seen since the run started (not only those kept)."""

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
        self._rebuild()

    @property
    def rows(self) -> list[Event]:
        """The decisions kept and passing the filter, oldest first (flushed first)."""
        self.flush()
        return list(self._visible)

    @property
    def kept(self) -> int:
        """How many decisions the buffer holds (at most ``capacity``)."""
        return len(self._rows)

    @property
    def cursor_event(self) -> Event | None:
        """The decision under the cursor."""
        self.flush()
        index = self._cursor_index()
        return None if index is None else self._visible[index]

    def select_seq(self, seq: int) -> bool:
        """Put the cursor on the decision with this sequence number, if it is still shown."""
        self.flush()
        for i, event in enumerate(self._visible):
            if event.seq == seq:
                self._move_to(i)
                return True
        return False

    def select_near(self, time: float, agent: str | None = None) -> bool:
        """Put the cursor on the last shown decision at or before ``time`` (by ``agent``)."""
        self.flush()
        best: int | None = None
        for i, event in enumerate(self._visible):
            if event.time > time:
                break
            if agent is None or event.agent == agent:
                best = i
        if best is None:
            return False
        self._move_to(best)
        return True

    # --- internals ---------------------------------------------------------------------

    def _matches(self, event: Event, terms: list[str]) -> bool:
        hay = self._haystacks.get(event.seq)
        if hay is None:
            cells = self._row_cells(event)
            d = event.data
            hay = " ".join((*cells, str(d.get("outcome", "")), str(d.get("data_class", "")),
                            str((d.get("decision") or {}).get("effect", "")))).lower()
            self._haystacks[event.seq] = hay
        return all(term in hay for term in terms)

    def _rebuild(self) -> None:
        self._stale = False
        terms = self.filter_text.lower().split()
        if terms:
            self._visible = [e for e in self._rows if self._matches(e, terms)]
        else:
            self._visible = list(self._rows)
        if len(self._cells) > 2 * self.capacity:
            keep = {e.seq for e in self._rows}
            self._cells = {k: v for k, v in self._cells.items() if k in keep}
            self._haystacks = {k: v for k, v in self._haystacks.items() if k in keep}
        self.virtual_size = Size(self.size.width, len(self._visible) + 1)
        if self.following:
            self._cursor_seq = self._visible[-1].seq if self._visible else None
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def watch_filter_text(self) -> None:
        """Re-filter the kept rows."""
        self._rebuild()

    def _cursor_index(self) -> int | None:
        seq = self._cursor_seq
        if seq is None or not self._visible:
            return None
        # The cursor is usually near the end; search backwards.
        for i in range(len(self._visible) - 1, -1, -1):
            if self._visible[i].seq == seq:
                return i
        return None

    def _move_to(self, index: int) -> None:
        self.flush()
        if not self._visible:
            return
        index = max(0, min(index, len(self._visible) - 1))
        self._cursor_seq = self._visible[index].seq
        self.following = index == len(self._visible) - 1
        body = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + body:
            self.scroll_to(y=index - body + 1, animate=False, immediate=True)
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        """Move the cursor by ``delta`` rows."""
        self.flush()
        index = self._cursor_index()
        if index is None:
            index = len(self._visible)
        self._move_to(index + delta)

    def action_first(self) -> None:
        """Go to the oldest kept decision."""
        self._move_to(0)

    def action_follow(self) -> None:
        """Go to the newest decision and keep following."""
        self._move_to(len(self._visible) - 1)
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
        if not 0 <= index < len(self._visible):
            return
        if self._visible[index].seq == self._cursor_seq or event.chain >= 2:
            self._move_to(index)
            self.action_select()
        else:
            self._move_to(index)

    # --- rendering ---------------------------------------------------------------------

    def _row_cells(self, event: Event) -> Cells:
        cells = self._cells.get(event.seq)
        if cells is None:
            d = event.data
            decision = d.get("decision") or {}
            marker = "!" if d.get("attacker") else ("*" if d.get("incident") else " ")
            cells = (
                clock(event.time),
                event.agent or "",
                chain_text(d.get("chain")),
                str(d.get("tool") or ""),
                str(d.get("resource") or ""),
                effect_label(str(decision.get("effect", ""))),
                str(decision.get("rule") or _NO_RULE.get(str(decision.get("reason")), "")),
                marker,
            )
            self._cells[event.seq] = cells
        return cells

    @staticmethod
    def _layout(width: int) -> list[tuple[int, int]]:
        """(cell index, width) of the columns that fit; chain and resource only when roomy."""
        fixed = 2 + 9 + 9  # marker, time, effect (each with its gap)
        room = max(12, width - fixed)
        agent = max(8, min(16, room * 30 // 100))
        tool = max(10, min(24, room * 40 // 100))
        cols = [(7, 1), (0, 8), (1, agent), (3, tool), (5, 8)]
        spare = room - agent - tool - 2
        if spare >= 38:
            cols.insert(3, (2, 18))
            spare -= 19
        if spare >= 38:
            cols.insert(-1, (4, 18))
            spare -= 19
        cols.append((6, max(4, spare)))
        return cols

    def _strip(self, texts: list[tuple[str, Style]], width: int, base: Style) -> Strip:
        segments = [Segment(text, base + style) for text, style in texts]
        return Strip(segments).adjust_cell_length(width, base).simplify()

    def render_line(self, y: int) -> Strip:
        """Line 0 is the column header; the rest show rows from the scroll offset."""
        width = self.size.width
        base = self.rich_style
        layout = self._layout(width)
        if y == 0:
            names = ("time", "agent", "chain", "tool", "resource", "effect", "rule", "")
            style = self.get_component_rich_style("decision-stream--header")
            return self._strip([(_fit(names[i], w) + " ", style) for i, w in layout],
                               width, base)
        index = int(self.scroll_y) + y - 1
        if not 0 <= index < len(self._visible):
            return Strip.blank(width, base)
        event = self._visible[index]
        cells = self._row_cells(event)
        effect = str((event.data.get("decision") or {}).get("effect", ""))
        effect_style = (self.get_component_rich_style(f"decision-stream--{effect}")
                        if effect in ("allow", "deny", "require_approval") else Style())
        marker_style = self.get_component_rich_style("decision-stream--incident")
        dim = self.get_component_rich_style("decision-stream--dim")
        if event.seq == self._cursor_seq:
            base = base + self.get_component_rich_style("decision-stream--cursor")
        texts: list[tuple[str, Style]] = []
        for i, w in layout:
            style = effect_style if i == 5 else marker_style if i == 7 else (
                dim if i in (0, 2) else Style())
            texts.append((_fit(cells[i], w) + " ", style))
        return self._strip(texts, width, base)

    def on_resize(self) -> None:
        """Keep the newest row in view at the new size."""
        self.virtual_size = Size(self.size.width, len(self._visible) + 1)
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)


def _fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text.ljust(width)
    return text[: max(0, width - 1)] + "…"
