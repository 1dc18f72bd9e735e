"""The scenario picker: built-ins and files on disk with description, frameworks and profiles.

The library loads in a thread worker (a 10 MB file found on disk can take seconds), each
scenario posted to the screen as it loads: rows appear one by one under a "loading" row, and
the keys answer meanwhile.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, NamedTuple

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist
from textual.worker import Worker, WorkerState, get_current_worker

from engine.errors import AgentrangeError
from engine.loader import SCENARIO_FILE
from engine.model import Scenario
from scenarios import library
from scenarios.library import load_scenario
from tui.render.formatting import duration

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache",
             ".pytest_cache", ".ruff_cache", ".hypothesis"}


@dataclass(frozen=True)
class Entry:
    """One scenario the picker offers: where it is, and it loaded or why not."""

    ref: str
    origin: str
    """``built-in`` or ``file``."""
    scenario: Scenario | None
    problem: str | None = None


class Choice(NamedTuple):
    """What the user picked to run."""

    scenario: Scenario
    profile: str


def scenario_files(roots: Sequence[Path], depth: int = 3) -> Iterator[Path]:
    """Scenario files under ``roots``: ``scenario.yaml`` or ``*.scenario.yaml``, shallow first.

    Args:
        roots: Directories to search.
        depth: How many directory levels to descend.
    """
    seen: set[Path] = set()
    for root in roots:
        level = [root]
        for _ in range(depth + 1):
            nxt: list[Path] = []
            for directory in level:
                try:
                    entries = sorted(os.scandir(directory), key=lambda e: e.name)
                except OSError:
                    continue
                for entry in entries:
                    path = Path(entry.path)
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name not in SKIP_DIRS and not entry.name.startswith("."):
                            nxt.append(path)
                    elif entry.name == SCENARIO_FILE or entry.name.endswith(".scenario.yaml"):
                        resolved = path.resolve()
                        if resolved not in seen:
                            seen.add(resolved)
                            yield path
            level = nxt


def catalogue(roots: Sequence[Path]) -> Iterator[Entry]:
    """Built-in scenarios, then the files found under ``roots``, each loaded or its error."""
    for name in library.names():
        yield _load(name, "built-in")
    shipped = Path(str(library.root())).resolve()
    for path in scenario_files(roots):
        if not path.resolve().is_relative_to(shipped):
            yield _load(str(path), "file")


def _load(ref: str, origin: str) -> Entry:
    try:
        return Entry(ref, origin, load_scenario(ref))
    except AgentrangeError as exc:
        return Entry(ref, origin, None, str(exc))


LOADING = "loading"
"""The id of the list's last row while the library loads."""


class PickerScreen(Screen[Choice | None]):
    """Pick a scenario and a profile; Enter runs it.

    Args:
        roots: Directories searched for scenario files (default: the working directory).
        entries: Pre-loaded entries (skips the search and the worker).
        current: The scenario name to highlight first (the one playing, or the default).
    """

    class Found(Message):
        """The loading worker has loaded one more scenario (or found why it does not load)."""

        def __init__(self, entry: Entry) -> None:
            self.entry = entry
            super().__init__()

    class Loaded(Message):
        """The loading worker has gone through the whole library."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "run", "Run", priority=False),
        Binding("escape", "back", "Back"),
        Binding("q", "quit", "Quit"),
    ]

    DEFAULT_CSS = """
    PickerScreen {
        & #picker-help { background: $panel; width: 1fr; }
        & #picker-body { height: 1fr; }
        & #picker-list { width: 2fr; min-width: 28; height: 1fr; border: round $primary; }
        & #picker-side { width: 3fr; height: 1fr; }
        & #picker-about { height: 1fr; border: round $primary; padding: 0 1; }
        & #picker-profiles { height: auto; max-height: 8; border: round $primary; }
    }
    """

    def __init__(self, roots: Sequence[Path] | None = None,
                 entries: list[Entry] | None = None, current: str | None = None) -> None:
        super().__init__()
        self.roots = list(roots) if roots is not None else [Path.cwd()]
        self.entries: list[Entry] = []
        """What the list shows so far, in its order."""
        self.loading = entries is None
        """Whether the worker is still loading the library."""
        self.current = current
        self._given = entries
        self._first: int | None = None
        """The list index highlighted for the user before the current scenario arrived."""

    def compose(self) -> ComposeResult:
        """Scenario list on the left, description and profiles on the right."""
        yield Label(" Choose a scenario: arrows move, Tab reaches the profiles, Enter runs.",
                    id="picker-help")
        with Horizontal(id="picker-body"):
            listing = OptionList(id="picker-list")
            listing.border_title = "scenarios"
            yield listing
            with Vertical(id="picker-side"):
                about = VerticalScroll(Static(id="picker-about-text"), id="picker-about",
                                       can_focus=False)
                about.border_title = "about"
                yield about
                profiles = OptionList(id="picker-profiles")
                profiles.border_title = "profiles (Enter runs)"
                yield profiles
        yield Footer()

    def on_mount(self) -> None:
        """Fill the list: the entries given, else load the library in a worker."""
        listing = self.query_one("#picker-list", OptionList)
        listing.focus()
        if self._given is not None:
            for entry in self._given:
                self._add(entry)
            return
        listing.add_option(Option(Text("loading…", style="dim italic"), id=LOADING,
                                  disabled=True))
        self.query_one("#picker-about-text", Static).update(
            Text("Loading the scenario library…", style="dim"))
        self.load_library()

    @work(thread=True, exclusive=True, group="library", exit_on_error=False)
    def load_library(self) -> None:
        """Load every scenario (off the UI thread), posting each as it loads."""
        worker = get_current_worker()
        for entry in catalogue(self.roots):
            if worker.is_cancelled:
                return
            self.post_message(self.Found(entry))
        self.post_message(self.Loaded())

    def on_picker_screen_found(self, message: PickerScreen.Found) -> None:
        """One more scenario: its row goes in above the "loading" row."""
        self._add(message.entry)

    def on_picker_screen_loaded(self, message: PickerScreen.Loaded) -> None:
        """The library is complete: the "loading" row goes."""
        self._done()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A loading worker that failed (not a scenario: the search itself) ends the loading."""
        if event.worker.group == "library" and event.state == WorkerState.ERROR:
            self.notify(f"the scenario search stopped: {event.worker.error}",
                        title="scenario picker", severity="error")
            self._done()

    def _done(self) -> None:
        self.loading = False
        with suppress(OptionDoesNotExist):
            self.query_one("#picker-list", OptionList).remove_option(LOADING)
        if not self.entries:
            self.query_one("#picker-about-text", Static).update(
                Text("No scenarios found.", style="dim"))

    def _add(self, entry: Entry) -> None:
        """Add a row for ``entry`` (under its section's heading) and keep the highlight."""
        listing = self.query_one("#picker-list", OptionList)
        loading = self.loading and listing.option_count > 0
        if loading:
            listing.remove_option(LOADING)
        last_origin = self.entries[-1].origin if self.entries else None
        self.entries.append(entry)
        index = len(self.entries) - 1
        if entry.origin != last_origin:
            if last_origin is not None:
                listing.add_option(None)
            listing.add_option(Option(Text(entry.origin + (
                "s" if entry.origin == "file" else ""), style="dim"), disabled=True))
        label = Text(entry.scenario.name if entry.scenario else Path(entry.ref).name)
        if entry.scenario is None:
            label.append("  (does not load)", style="red")
        elif entry.origin == "file":
            label.append(f"  {entry.ref}", style="dim")
        listing.add_option(Option(label, id=str(index)))
        row = listing.option_count - 1
        if loading:
            listing.add_option(Option(Text("loading…", style="dim italic"), id=LOADING,
                                      disabled=True))
        # The first row is highlighted at once; the current scenario takes over when it
        # arrives, unless the user has moved meanwhile.
        untouched = listing.highlighted is None or listing.highlighted == self._first
        if untouched and entry.scenario is not None and entry.scenario.name == self.current:
            listing.highlighted = row
            self._first = None
        elif listing.highlighted is None:
            listing.highlighted = row
            self._first = row

    @property
    def selected(self) -> Entry | None:
        """The highlighted entry."""
        listing = self.query_one("#picker-list", OptionList)
        if listing.highlighted is None:
            return None
        option_id = listing.get_option_at_index(listing.highlighted).id
        return None if option_id in (None, LOADING) else self.entries[int(option_id)]

    @on(OptionList.OptionHighlighted, "#picker-list")
    def _show(self) -> None:
        entry = self.selected
        about = self.query_one("#picker-about-text", Static)
        profiles = self.query_one("#picker-profiles", OptionList)
        profiles.clear_options()
        if entry is None:
            about.update("")
            return
        if entry.scenario is None:
            about.update(Text(f"{entry.ref}\n\n{entry.problem}", style="red"))
            return
        s = entry.scenario
        tags = Text()
        for tag in s.frameworks:
            tags.append(f" {tag} ", style="reverse")
            tags.append(" ")
        facts = Text(f"{len(s.agents)} agents, {len(s.tools)} tools, {len(s.incidents)} "
                     f"incidents, {duration(s.duration)} simulated, seed {s.seed}",
                     style="dim")
        about.update(Group(Text(s.title or s.name, style="bold"), Text(s.source, style="dim"),
                           Text(""), Text(s.description.strip()), Text(""), tags, facts))
        for p in s.profiles:
            label = Text(p.id, style="bold")
            if p.id == s.default_profile_id:
                label.append(" (default)", style="dim")
            label.append(f"  {p.description}")
            profiles.add_option(Option(label, id=p.id))
        default = [p.id for p in s.profiles].index(s.default_profile_id)
        profiles.highlighted = default

    @on(OptionList.OptionSelected)
    def _selected(self, message: OptionList.OptionSelected) -> None:
        message.stop()
        self.action_run()

    def action_run(self) -> None:
        """Run the highlighted scenario under the highlighted profile."""
        entry = self.selected
        if entry is None:
            return
        if entry.scenario is None:
            self.notify(entry.problem or "this scenario does not load", title="cannot run",
                        severity="error")
            return
        profiles = self.query_one("#picker-profiles", OptionList)
        profile = entry.scenario.default_profile_id
        if profiles.highlighted is not None:
            profile = profiles.get_option_at_index(profiles.highlighted).id or profile
        self.dismiss(Choice(entry.scenario, profile))

    def action_back(self) -> None:
        """Close the picker without choosing (or quit when nothing runs underneath)."""
        self.dismiss(None)

    def action_quit(self) -> None:
        """Leave agentrange."""
        self.app.exit()
