"""Escalation chains: delegation chains in progress and completed sequences, as a tree."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import Tree

from sim.events import Event
from sim.events import EventKind as K
from tui.render.formatting import clock


@dataclass
class TaskNode:
    """One task run inside a chain."""

    agent: str
    task: str
    run: Any
    delegated_by: str | None
    status: str = "running"
    incident: str | None = None


@dataclass
class ChainState:
    """A chain of task runs linked by delegation, with the sequences it completed."""

    key: Any
    started: float
    tasks: list[TaskNode] = field(default_factory=list)
    sequences: list[tuple[float, str, str, bool, list[str]]] = field(default_factory=list)
    """(time, sequence id, effect, shadow, earlier step tools)."""
    denied: int = 0
    incident: str | None = None

    @property
    def flagged(self) -> bool:
        """A chain that completed a sequence or runs an incident's plan."""
        return bool(self.sequences) or self.incident is not None

    @property
    def open(self) -> bool:
        """True while any of its task runs is still going."""
        return any(t.status == "running" for t in self.tasks)


def root_run(run: Any) -> str:
    """The top-level run a (possibly delegated) run belongs to: the chain's identity.

    Delegated runs are named ``<parent run>/<step>><agent>/<task>``, so the root is what
    precedes the first ``>`` without its step number.
    """
    text = str(run)
    head, sep, _ = text.partition(">")
    return head.rpartition("/")[0] if sep else text


class ChainTree(Tree[str]):
    """Delegation chains in progress (and recently flagged ones), flagged ones highlighted.

    A chain shows when it delegates, runs an incident's plan or completes a sequence rule;
    single-task chains are too many to be useful here. A chain is one top-level run and the
    runs it delegated (keyed by the root run id). At most ``4 * capacity`` chains are held
    and the newest ``max_shown`` of those worth showing are drawn.
    """

    DEFAULT_CSS = """
    ChainTree {
        height: 1fr;
        overflow-x: hidden;
        background: $surface;
        & > .chain-tree--flagged { color: $error; text-style: bold; }
        & > .chain-tree--shadow { color: $warning; }
        & > .chain-tree--done { color: $text-muted; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chain-tree--flagged",
        "chain-tree--shadow",
        "chain-tree--done",
    }

    def __init__(self, capacity: int = 40, max_shown: int = 12, *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__("chains", name=name, id=id, classes=classes)
        self.show_root = False
        self.capacity = capacity
        self.max_shown = max_shown
        """How many chains the tree draws (the newest); the rest wait in memory."""
        self.chains: OrderedDict[Any, ChainState] = OrderedDict()
        self._dirty = False

    def add_events(self, batch: Iterable[Event]) -> bool:
        """Follow task starts and ends and sequence matches; True when the tree must redraw."""
        chains = self.chains
        started, completed, failed = K.TASK_STARTED, K.TASK_COMPLETED, K.TASK_FAILED
        decision_kind = K.DECISION
        for event in batch:
            kind = event.kind
            if kind is started:
                d = event.data
                key = root_run(d.get("run"))
                state = chains.get(key)
                if state is None:
                    state = chains[key] = ChainState(key=key, started=event.time)
                state.tasks.append(TaskNode(str(event.agent), str(d.get("task")), d.get("run"),
                                            d.get("delegated_by"),
                                            incident=d.get("incident")))
                if d.get("incident"):
                    state.incident = str(d.get("incident"))
                if d.get("delegated_by") or state.flagged:
                    self._dirty = True
            elif kind is completed or kind is failed:
                d = event.data
                run = d.get("run")
                state = chains.get(root_run(run))
                if state is None:
                    continue
                for node in state.tasks:
                    if node.run == run:
                        node.status = ("done" if kind is completed
                                       else f"failed: {d.get('reason', '?')}")
                if len(state.tasks) > 1 or state.flagged:
                    self._dirty = True
                if not state.open and not state.flagged:
                    del chains[state.key]
            elif kind is decision_kind:
                record = event.data.get("decision") or {}
                sequences = record.get("sequences") or ()
                if not sequences:
                    continue
                state = self._chain_of(event)
                for s in sequences:
                    tools = [str(step.get("tool")) for step in s.get("steps", ())]
                    tools.append(str(event.data.get("tool")))
                    state.sequences.append((event.time, str(s.get("sequence")),
                                            str(s.get("effect")), bool(s.get("shadow")),
                                            tools))
                self._dirty = True
        self._trim()
        return self._dirty

    def _chain_of(self, event: Event) -> ChainState:
        run = event.data.get("run")
        key = root_run(run)
        state = self.chains.get(key)
        if state is None:
            # The chain's start is no longer held (trimmed): the match gets a chain of its own.
            state = self.chains[key] = ChainState(key=key, started=event.time)
            state.tasks.append(TaskNode(str(event.agent), str(event.data.get("task")), run,
                                        None, status="?"))
        return state

    def _trim(self) -> None:
        chains = self.chains
        if len(chains) <= self.capacity * 4:
            return
        # Drop finished, unflagged chains first, then the oldest.
        for key in [k for k, s in chains.items() if not s.open and not s.flagged]:
            del chains[key]
        while len(chains) > self.capacity * 4:
            chains.popitem(last=False)

    def shown(self) -> list[ChainState]:
        """The chains the tree shows: flagged and delegating ones, newest last."""
        picked = [s for s in self.chains.values() if s.flagged or len(s.tasks) > 1]
        return picked[-self.max_shown:]

    def redraw(self) -> None:
        """Rebuild the tree from the chain states if anything changed."""
        if not self._dirty:
            return
        self._dirty = False
        flagged = self.get_component_rich_style("chain-tree--flagged")
        shadow = self.get_component_rich_style("chain-tree--shadow")
        done = self.get_component_rich_style("chain-tree--done")
        self.clear()
        for state in self.shown():
            origin = state.tasks[0] if state.tasks else None
            label = Text(f"{clock(state.started)} ")
            if origin is not None:
                label.append(f"{origin.agent} {origin.task}")
            if state.incident:
                label.append(f" [{state.incident}]", style=flagged)
            if state.flagged:
                label.stylize(flagged)
            elif not state.open:
                label.stylize(done)
            if len(state.tasks) <= 1 and not state.sequences:
                if origin is not None:
                    label.append(f" ({origin.status})", style=done)
                self.root.add_leaf(label)
                continue
            node = self.root.add(label, expand=True)
            for task in state.tasks[1:]:
                text = Text(f"{task.delegated_by or '?'} -> {task.agent} {task.task}")
                text.append(f" ({task.status})", style=done)
                node.add_leaf(text)
            for when, seq_id, effect, is_shadow, tools in state.sequences:
                text = Text(f"{'shadow ' if is_shadow else ''}sequence {seq_id}: {effect}",
                            style=shadow if is_shadow else flagged)
                seq_node = node.add(text, expand=True)
                for tool in tools:
                    seq_node.add_leaf(f"{tool}")
                seq_node.add_leaf(Text(f"at {clock(when)}", style=done))

