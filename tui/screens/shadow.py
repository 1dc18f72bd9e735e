"""The shadow-rule dialog: what each shadow rule did so far, and what enforcing it would change.

Engineers tuning a policy run a rule in shadow mode first. The dialog lists each shadow rule
(or sequence) of the profile's policy with how many of the run's decisions it matched and
how many of those enforcing it would have changed (both read from the run's
:class:`~tui.run_index.RunIndex`, a fold over the event stream); Enter on one enforces it from
now on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from rich.text import Text
from textual.widgets.option_list import Option

from tui.run_index import ShadowCount
from tui.screens.pick_dialog import DIALOG_CSS, PickDialog


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


class ShadowDialog(PickDialog):
    """Pick a shadow rule to enforce, seeing what it matched and what enforcing would change.

    Args:
        rules: The policy's shadow rules and sequences.
        counts: Rule id -> its figures so far (rules that never matched are absent).
        decisions: How many decisions the run has made so far.
    """

    DEFAULT_CSS = DIALOG_CSS % "ShadowDialog" + """
    ShadowDialog > Vertical { width: 80; }
    ShadowDialog OptionList { max-height: 16; }
    """
    TITLE_TEXT = "enforce a shadow rule"
    PICK_ID = "shadow-pick"

    def __init__(self, rules: Sequence[ShadowRule], counts: Mapping[str, ShadowCount],
                 decisions: int) -> None:
        super().__init__()
        self.rules = list(rules)
        self.counts = dict(counts)
        self.decisions = decisions

    def help_text(self) -> str:
        """What shadow rules are, over how many decisions."""
        return (f"Shadow rules are evaluated but not enforced. Over the {self.decisions:,} "
                "decisions so far; Enter enforces one from now on.")

    def options(self) -> list[Option]:
        """One entry per shadow rule, with its figures."""
        return [Option(shadow_line(r, self.counts.get(r.id)), id=r.id) for r in self.rules]
