"""What one row of the decision stream shows: its cells, the columns that fit, their text.

Pure functions of an event and a width, kept apart from :class:`~tui.widgets.decision_stream.
DecisionStream`, which owns the rows, the cursor, the scrolling and the styles.
"""

from __future__ import annotations

from sim.events import Event
from tui.render.formatting import chain_text, clock, effect_label
from tui.run_index import NO_RULE, Cells

HEADER: Cells = ("time", "agent", "chain", "tool", "resource", "effect", "rule", "")
"""The column names, in the order of a row's cells."""

EFFECT_CELL = 5
"""The index of the effect cell (styled by the decision's effect)."""

MARKER_CELL = 7
"""The index of the marker cell (``!`` an attacker, ``*`` an incident)."""

DIM_CELLS = (0, 2)
"""The cells drawn dimmed: the time and the chain."""


def row_cells(event: Event) -> Cells:
    """The text of each cell of a decision event's row, in :data:`HEADER`'s order."""
    d = event.data
    decision = d.get("decision") or {}
    marker = "!" if d.get("attacker") else ("*" if d.get("incident") else " ")
    return (
        clock(event.time),
        event.agent or "",
        chain_text(d.get("chain")),
        str(d.get("tool") or ""),
        str(d.get("resource") or ""),
        effect_label(str(decision.get("effect", ""))),
        str(decision.get("rule") or NO_RULE.get(str(decision.get("reason")), "")),
        marker,
    )


def column_layout(width: int) -> list[tuple[int, int]]:
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


def fit(text: str, width: int) -> str:
    """``text`` padded to ``width`` cells, or cut to it with an ellipsis."""
    if len(text) <= width:
        return text.ljust(width)
    return text[: max(0, width - 1)] + "…"
