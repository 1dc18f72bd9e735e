"""The shadow-rule dialog: what each shadow rule did so far, and what enforcing it would change.

Engineers tuning a policy run a rule in shadow mode first. The dialog lists each shadow rule
(or sequence) of the profile's policy with how many of the run's decisions it matched and
how many of those enforcing it would have changed (both read from the run's
:class:`~tui.run_index.RunIndex`, a fold over the event stream); Enter on one enforces it from
now on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, NamedTuple

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList
from textual.widgets.option_list import Option

from tui.run_index import ShadowCount


class ShadowRule(NamedTuple):
    """A shadow rule of the policy, as the dialog lists it."""

    id: str
    description: str
    effect: str
    """What it would do when it matches."""


def shadow_line(rule: ShadowRule, count: ShadowCount | None) -> Text:
    """One entry: the rule, what it would do, its matches and the decisions it would change."""
    matched = count.matched if count else 0
    changes = count.changes if count else 0
    text = Text(rule.id, style="bold")
    text.append(f"  would {rule.effect.replace('_', ' ')}", style="yellow")
    text.append(f"\n  matched {matched:,} decision{'s' if matched != 1 else ''}; ")
    text.append(f"enforcing would change {changes:,}",
                style="bold red" if changes else "dim")
    if rule.description:
        text.append(f"\n  {rule.description}", style="dim")
    return text


class ShadowDialog(ModalScreen[str | None]):
    """Pick a shadow rule to enforce, seeing what it matched and what enforcing would change.

    Args:
        rules: The policy's shadow rules and sequences.
        counts: Rule id -> its figures so far (rules that never matched are absent).
        decisions: How many decisions the run has made so far.
    """

    DEFAULT_CSS = """
    ShadowDialog {
        align: center middle;
        & > Vertical {
            width: 80;
            max-width: 100%;
            height: auto;
            max-height: 90%;
            border: thick $accent;
            background: $surface;
            padding: 0 1;
        }
        & OptionList { height: auto; max-height: 16; }
        & .dialog-buttons { height: auto; align-horizontal: right; margin-top: 1; }
        & Label.dialog-help { color: $text-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, rules: Sequence[ShadowRule], counts: Mapping[str, ShadowCount],
                 decisions: int) -> None:
        super().__init__()
        self.rules = list(rules)
        self.counts = dict(counts)
        self.decisions = decisions

    def compose(self) -> ComposeResult:
        """Help line, one entry per shadow rule, a cancel button."""
        with Vertical() as box:
            box.border_title = "enforce a shadow rule"
            yield Label(f"Shadow rules are evaluated but not enforced. Over the "
                        f"{self.decisions:,} decisions so far; Enter enforces one from now on.",
                        classes="dialog-help")
            yield OptionList(*[Option(shadow_line(r, self.counts.get(r.id)), id=r.id)
                               for r in self.rules], id="shadow-pick")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="shadow-cancel")

    def on_mount(self) -> None:
        """Focus the list on its first entry."""
        pick = self.query_one("#shadow-pick", OptionList)
        pick.focus()
        pick.action_first()

    @on(OptionList.OptionSelected, "#shadow-pick")
    def _chosen(self, message: OptionList.OptionSelected) -> None:
        self.dismiss(message.option.id)

    @on(Button.Pressed, "#shadow-cancel")
    def action_cancel(self) -> None:
        """Close without enforcing anything."""
        self.dismiss(None)
