"""The help screen (``?`` or F1): the keys of the screen underneath, then the board's words.

Table headers on the board say things in words ("time to contain", "what the agent asked");
the jargon a trainer or an engineer may look up (JIT, TTL, shadow rule, p95...) is
explained here, beside the keys, so the board itself stays plain.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GLOSSARY: tuple[tuple[str, str], ...] = (
    ("ALLOW / DENY / APPROVAL", "what the policy decided for one tool call; APPROVAL waits "
     "for a person (require_approval)"),
    ("default deny", "no allow rule matched, so the call was refused"),
    ("owners", "who answers for an agent: its business, security and incident owners, "
     "in that order (NONE: nobody named)"),
    ("static credential", "one long-lived token an agent keeps for the whole run"),
    ("JIT", "just in time: a short-lived token minted for one task and revoked after it"),
    ("TTL", "time to live: how long a token stays valid"),
    ("RBAC", "role-based access control: what a role may do, whatever the task"),
    ("shadow rule", "a rule that is evaluated and alerts but does not decide yet; "
     "t enforces one"),
    ("sequence rule", "a rule that fires on an order of calls (read customers, then send "
     "mail out)"),
    ("blast radius", "what an attacker reached: records, money, systems, data classes"),
    ("records exposed", "customer records an attacker read or sent out"),
    ("exposure window", "how long a compromise stayed open, from start to containment"),
    ("time to detect", "from the compromise to the first alert about it"),
    ("detected so far", "blind mode: the blast radius of the incidents an alert has found; "
     "the rest shows when the run ends"),
    ("before detection", "records an incident had reached before the first alert about it"),
    ("time to contain", "from the compromise to the moment it could do nothing more"),
    ("p50 / p95", "the typical and the slowest-in-twenty task time"),
    ("quarantine", "stop an agent: it may start nothing more"),
    ("revoke", "end a token now, before its TTL runs out"),
    ("sender-constrained", "a token bound to its holder's key, useless when stolen (DPoP)"),
    ("not made", "under that profile the agent never asked for this (an earlier step "
     "was refused, or the attack never got that far)"),
)
"""Jargon on the board, with what it means in words."""


def purpose(screen: Screen[Any], action: str) -> str:
    """The first line of an action's docstring: what its key does, in words."""
    method = getattr(screen, f"action_{action.split('(', 1)[0]}", None)
    doc = (getattr(method, "__doc__", None) or "").strip()
    return doc.splitlines()[0].rstrip(".") if doc else action.replace("_", " ")


def key_rows(screen: Screen[Any]) -> Iterable[tuple[str, str]]:
    """(keys, what they do) for every described binding of ``screen``, in its order."""
    seen: dict[str, str] = {}
    for binding in screen.BINDINGS:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        keys = (binding.key_display or binding.key).replace(",", " / ")
        what = purpose(screen, binding.action)
        if keys in seen:  # space: pause and play share the key
            seen[keys] = f"{seen[keys]}; {what[0].lower()}{what[1:]}"
        else:
            seen[keys] = what
    yield from seen.items()


class HelpScreen(ModalScreen[None]):
    """Keys of the screen underneath and a glossary; Esc, ``?``, F1 or q closes it.

    Args:
        under: The screen the help was opened over (its keys are listed).
    """

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 100;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $accent;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen Static {
        width: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "close", "Close", key_display="esc"),
    ]

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        """The keys, the app-wide keys, then the glossary."""
        keys = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column(ratio=1)
        for key, what in key_rows(self.under):
            keys.add_row(key, what)
        keys.add_row("? / F1", "this help (Esc closes it)")
        keys.add_row("ctrl+p", "the command palette: every key by name, themes, the keys panel")
        words = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        words.add_column(style="bold", no_wrap=True)
        words.add_column(ratio=1)
        for word, meaning in GLOSSARY:
            words.add_row(word, meaning)
        with VerticalScroll() as box:
            box.border_title = "help (Esc closes)"
            yield Static(Text("Keys on this screen", style="bold underline"))
            yield Static(keys, id="help-keys")
            yield Static(Text("\nWords on the board", style="bold underline"))
            yield Static(words, id="help-words")

    def on_mount(self) -> None:
        """Focus the text, so the arrows and Page keys scroll it."""
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss()
