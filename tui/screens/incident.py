"""Incident-response dialogs: inject an incident, revoke a token, quarantine an agent.

Revoke and quarantine pick one target (:class:`~tui.screens.pick_dialog.PickDialog`); inject
picks an agent and a kind, in a box of the same style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, NamedTuple, get_args

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList
from textual.widgets.option_list import Option

from engine.model import IncidentKind
from tui.render.formatting import clock
from tui.screens.pick_dialog import DIALOG_CSS, PickDialog

INCIDENT_KINDS: tuple[str, ...] = get_args(IncidentKind)
"""Every incident kind the simulator can inject."""


class Injection(NamedTuple):
    """What the user chose to inject."""

    kind: str
    agent: str


class InjectDialog(ModalScreen[Injection | None]):
    """Choose an agent and an incident kind; Enter on the kind injects it."""

    DEFAULT_CSS = DIALOG_CSS % "InjectDialog"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, agents: Sequence[str]) -> None:
        super().__init__()
        self.agents = list(agents)

    def compose(self) -> ComposeResult:
        """Agent list, kind list, buttons."""
        with Vertical() as box:
            box.border_title = "inject an incident now"
            yield Label("Which agent is hit, and how? Enter on a kind injects it.",
                        classes="dialog-help")
            with Horizontal(classes="dialog-lists"):
                yield OptionList(*[Option(a, id=a) for a in self.agents], id="inject-agent")
                yield OptionList(*[Option(k.replace("_", " "), id=k) for k in INCIDENT_KINDS],
                                 id="inject-kind")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Inject", variant="error", id="inject-go")
                yield Button("Cancel", id="inject-cancel")

    def on_mount(self) -> None:
        """Start on the first agent and kind."""
        for list_id in ("#inject-agent", "#inject-kind"):
            self.query_one(list_id, OptionList).highlighted = 0
        self.query_one("#inject-agent", OptionList).focus()

    def _choice(self) -> Injection | None:
        agents = self.query_one("#inject-agent", OptionList)
        kinds = self.query_one("#inject-kind", OptionList)
        if agents.highlighted is None or kinds.highlighted is None:
            return None
        agent = agents.get_option_at_index(agents.highlighted).id
        kind = kinds.get_option_at_index(kinds.highlighted).id
        if agent is None or kind is None:
            return None
        return Injection(kind, agent)

    @on(OptionList.OptionSelected, "#inject-agent")
    def _agent_chosen(self) -> None:
        self.query_one("#inject-kind", OptionList).focus()

    @on(OptionList.OptionSelected, "#inject-kind")
    @on(Button.Pressed, "#inject-go")
    def _go(self) -> None:
        self.dismiss(self._choice())

    @on(Button.Pressed, "#inject-cancel")
    def action_cancel(self) -> None:
        """Close without injecting."""
        self.dismiss(None)


class TokenFacts(NamedTuple):
    """What a responder weighs before revoking a token (as the run's events told it)."""

    holder: str
    """Who holds it (several names for a shared credential)."""
    scope: tuple[str, ...]
    """Its scope claim's entries (``tool:...``, ``data:...``)."""
    expires: float | None
    """Simulated time it expires (None: unknown)."""
    last_use: float | None
    """Simulated time of the last request presenting it (None: never used)."""


def _scope_text(scope: Sequence[str], width: int = 34) -> str:
    text = ", ".join(scope) if scope else "no scope claim"
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def token_label(jti: str, facts: TokenFacts | None) -> Text:
    """One token's line: id, holder, scope, expiry and last use."""
    line = Text(f"  {jti}", style="bold")
    if facts is None:
        return line
    line.append(f"\n    held by {facts.holder}; expires "
                f"{clock(facts.expires) if facts.expires is not None else '?'}; last used "
                f"{clock(facts.last_use) if facts.last_use is not None else 'never'}",
                style="")
    line.append(f"\n    scope: {_scope_text(facts.scope, 60)}", style="dim")
    return line


class RevokeDialog(PickDialog):
    """Pick a live token, or an agent to revoke all its tokens.

    Args:
        holders: Agent name -> ids of the live tokens it holds.
        tokens: Token id -> its holder, scope, expiry and last use (where known).
    """

    DEFAULT_CSS = DIALOG_CSS % "RevokeDialog" + """
    RevokeDialog > Vertical { width: 90; }
    RevokeDialog OptionList { max-height: 20; }
    """
    TITLE_TEXT = "revoke a credential"
    HELP_TEXT = ("Revoke one token, or an agent's every token. The next request with it is "
                 "denied. Each token shows its holder, expiry, last use and scope.")

    def __init__(self, holders: Mapping[str, Sequence[str]],
                 tokens: Mapping[str, TokenFacts] | None = None) -> None:
        super().__init__()
        self.holders = {k: list(v) for k, v in holders.items()}
        self.tokens = dict(tokens or {})

    def options(self) -> list[Option]:
        """An entry per agent, then one per live token under it."""
        opts: list[Option] = []
        for agent, tokens in self.holders.items():
            label = f"{agent}: every token" + ("" if tokens else " (none live)")
            opts.append(Option(label, id=agent))
            opts.extend(Option(token_label(jti, self.tokens.get(jti)), id=jti)
                        for jti in tokens[:20])
        return opts


class QuarantineDialog(PickDialog):
    """Pick an agent to quarantine."""

    DEFAULT_CSS = DIALOG_CSS % "QuarantineDialog"
    TITLE_TEXT = "quarantine an agent"
    HELP_TEXT = "A quarantined agent starts nothing more and its credentials are withdrawn."

    def __init__(self, agents: Sequence[str]) -> None:
        super().__init__()
        self.agents = list(agents)

    def options(self) -> list[Option]:
        """One entry per agent."""
        return [Option(a, id=a) for a in self.agents]
