"""The agent roster: each agent's kind, owners, credential with a live TTL countdown, and state.

The roster scrolls (a fleet taller than its panel shows a scrollbar and scrolls with the
wheel, or the arrows once focused with Tab); its table is one inner widget it repaints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget

from sim.events import Event
from tui.render.formatting import duration

STATES = ("running", "idle", "awaiting approval", "quarantined", "compromised")
"""Agent states the roster shows, as the event stream implies them."""


@dataclass
class AgentRow:
    """What the roster knows of one agent, updated from events."""

    name: str
    kind: str = ""
    owners: dict[str, str | None] = field(default_factory=dict)
    mode: str = ""
    tokens: dict[str, float] = field(default_factory=dict)
    """Live tokens held: jti -> expiry (simulated seconds)."""
    last_token: str | None = None
    last_token_end: str | None = None
    """How the last token ended (expired, revoked) when none is live."""
    running: int = 0
    awaiting: int = 0
    quarantined: bool = False
    open_incidents: set[str] = field(default_factory=set)
    """Incidents on this agent not contained yet."""

    @property
    def compromised(self) -> bool:
        """An incident on this agent is still open (not contained)."""
        return bool(self.open_incidents)

    @property
    def state(self) -> str:
        """The most pressing state: quarantined, compromised, awaiting approval, running, idle."""
        if self.quarantined:
            return "quarantined"
        if self.compromised:
            return "compromised"
        if self.awaiting > 0:
            return "awaiting approval"
        if self.running > 0:
            return "running"
        return "idle"

    def credential(self, now: float) -> str:
        """Credential mode with the time left on the soonest-expiring live token."""
        if self.tokens:
            left = min(self.tokens.values()) - now
            extra = f" +{len(self.tokens) - 1}" if len(self.tokens) > 1 else ""
            return f"{self.mode} {duration(left)}{extra}".strip()
        if self.last_token_end:
            return f"{self.mode} {self.last_token_end}".strip()
        return self.mode or "-"


class _RosterTable(Widget):
    """The roster's table, as tall as the fleet; the roster around it scrolls."""

    DEFAULT_CSS = """
    _RosterTable {
        height: auto;
    }
    """

    def __init__(self, roster: AgentRoster) -> None:
        super().__init__()
        self.roster = roster

    def render(self) -> Table:
        """The fleet as the roster knows it, at this widget's width."""
        return self.roster.table(self.size.width)


class AgentRoster(VerticalScroll):
    """A table of the fleet; the parent feeds events and the clock, the table re-renders."""

    DEFAULT_CSS = """
    AgentRoster {
        height: auto;
        max-height: 12;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        & > .agent-roster--running { color: $success; }
        & > .agent-roster--idle { color: $text-muted; }
        & > .agent-roster--awaiting-approval { color: $warning; }
        & > .agent-roster--quarantined { color: $accent; text-style: bold; }
        & > .agent-roster--compromised { color: $error; text-style: bold reverse; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "agent-roster--running",
        "agent-roster--idle",
        "agent-roster--awaiting-approval",
        "agent-roster--quarantined",
        "agent-roster--compromised",
    }

    now: reactive[float] = reactive(0.0, layout=False)
    """The simulated clock, for TTL countdowns."""

    MAX_ROWS: ClassVar[int] = 200

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.agents: dict[str, AgentRow] = {}
        self._jti_holder: dict[str, str] = {}
        self._approvals: dict[tuple[Any, Any, Any], str] = {}
        self._incident_agent: dict[str, str] = {}
        self._table = _RosterTable(self)

    def compose(self) -> ComposeResult:
        """The table, inside the scrolling panel."""
        yield self._table

    def refresh(self, *regions: Any, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> AgentRoster:
        """Repaint the table too (the parent and the clock refresh the roster as a whole)."""
        super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
        if self._table.is_mounted:
            self._table.refresh(layout=layout)
        return self

    def set_fleet(self, agents: Iterable[Mapping[str, Any]], mode: str = "") -> None:
        """Start over with the fleet a run announces (``run_started`` data ``agents``)."""
        self.agents = {}
        self._jti_holder = {}
        self._approvals = {}
        self._incident_agent = {}
        for agent in agents:
            owners = agent.get("owners") or {}
            if not isinstance(owners, Mapping):
                owners = dict(zip(("business", "security", "incident"), owners, strict=False))
            self.agents[str(agent["name"])] = AgentRow(
                name=str(agent["name"]), kind=str(agent.get("kind", "")),
                owners=dict(owners), mode=mode)
        # How many there are, where a short panel scrolls the rest out of sight.
        self.border_subtitle = f"{len(self.agents)} agents" if len(self.agents) > 1 else ""
        self.refresh(layout=True)

    def _row(self, name: str | None) -> AgentRow | None:
        if name is None:
            return None
        row = self.agents.get(name)
        if row is None and len(self.agents) < self.MAX_ROWS * 10:
            row = self.agents[name] = AgentRow(name=name)
        return row

    def add_events(self, batch: Iterable[Event]) -> bool:
        """Update states and tokens from a batch; True when anything shown changed."""
        changed = False
        for event in batch:
            kind = event.kind
            d = event.data
            if kind == "decision":
                continue
            if kind == "run_started":
                self.set_fleet(d.get("agents") or (), self._mode_of(d))
                changed = True
                continue
            row = self._row(event.agent)
            if kind == "token_issued":
                if row is not None:
                    jti = str(d.get("jti"))
                    row.tokens[jti] = float(d.get("exp", event.time))
                    row.last_token = jti
                    row.mode = str(d.get("mode", row.mode))
                    self._jti_holder[jti] = row.name
            elif kind in ("token_expired", "token_revoked"):
                jti = str(d.get("jti"))
                holder = self.agents.get(self._jti_holder.pop(jti, event.agent or ""))
                if holder is not None and holder.tokens.pop(jti, None) is not None:
                    holder.last_token_end = "expired" if kind == "token_expired" else "revoked"
            elif kind == "task_started" and row is not None:
                row.running += 1
            elif kind in ("task_completed", "task_failed") and row is not None:
                row.running = max(0, row.running - 1)
            elif kind == "approval_requested" and row is not None:
                row.awaiting += 1
            elif kind == "approval_resolved" and row is not None:
                row.awaiting = max(0, row.awaiting - 1)
            elif kind == "incident":
                if row is not None:
                    row.open_incidents.add(str(d.get("id")))
                    self._incident_agent[str(d.get("id"))] = row.name
            elif kind == "contained":
                victim = self.agents.get(self._incident_agent.get(str(d.get("incident")), ""))
                if victim is not None:
                    victim.open_incidents.discard(str(d.get("incident")))
            elif kind == "response" and d.get("kind") == "quarantine_agent":
                target = self.agents.get(str(d.get("target")))
                if target is not None:
                    target.quarantined = True
            else:
                continue
            changed = True
        return changed

    @staticmethod
    def _mode_of(data: Mapping[str, Any]) -> str:
        profile = data.get("credentials")
        if isinstance(profile, Mapping):
            return str(profile.get("mode", ""))
        return ""

    def live_tokens(self, agent: str) -> list[str]:
        """The live token ids an agent holds, soonest to expire first."""
        row = self.agents.get(agent)
        if row is None:
            return []
        return sorted(row.tokens, key=lambda jti: row.tokens[jti])

    def table(self, width: int) -> Table:
        """The roster as a table ``width`` columns wide; owners give way first when narrow."""
        wide = width >= 80
        with_kind = width >= 56
        table = Table(box=None, expand=True, padding=(0, 1), show_edge=False,
                      header_style="bold")
        table.add_column("agent", no_wrap=True, ratio=3, overflow="ellipsis")
        if with_kind:
            table.add_column("kind", no_wrap=True, ratio=2, overflow="ellipsis")
        if wide:
            table.add_column("owners", no_wrap=True, ratio=4,
                             overflow="ellipsis")
        table.add_column("credential", no_wrap=True, ratio=2, overflow="ellipsis")
        table.add_column("state", no_wrap=True, ratio=2, overflow="ellipsis")
        rows = list(self.agents.values())
        for row in rows[: self.MAX_ROWS]:
            state = row.state
            style = self.get_component_rich_style(
                "agent-roster--" + state.replace(" ", "-"))
            cells: list[str | Text] = [row.name]
            if with_kind:
                cells.append(row.kind.replace("_", " "))
            if wide:
                cells.append("/".join(str(row.owners.get(k) or "NONE")
                                      for k in ("business", "security", "incident")))
            cells += [row.credential(self.now), Text(state, style=style)]
            table.add_row(*cells)
        if len(rows) > self.MAX_ROWS:
            table.add_row(f"... {len(rows) - self.MAX_ROWS} more")
        return table
