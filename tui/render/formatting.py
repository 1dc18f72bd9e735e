"""Text formats every face of agentrange shares: clock, durations, counts, rates, effects.

The dashboard's panels, the command line's tables and the reports all show a figure through
these functions, so the same number reads the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

EFFECT_LABELS: dict[str, str] = {
    "allow": "ALLOW",
    "deny": "DENY",
    "require_approval": "APPROVAL",
}
"""Short labels for decision effects, as the stream shows them."""


def clock(seconds: float) -> str:
    """A simulated time as ``HH:MM:SS`` (``Nd HH:MM:SS`` past a day).

    Args:
        seconds: Simulated seconds since the start of the run.
    """
    if not math.isfinite(seconds):
        return "--:--:--"
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {text}" if days else text


def duration(seconds: float | None) -> str:
    """A duration in the largest two units (``90d``, ``9m 58s``, ``42s``); ``-`` for None.

    Args:
        seconds: The duration in seconds, or None when there is none.
    """
    if seconds is None or not math.isfinite(seconds):
        return "-"
    total = round(max(0.0, seconds))
    if total < 60:
        return f"{total}s"
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    parts: list[str] = []
    for name, size in units:
        if total >= size:
            amount, total = divmod(total, size)
            parts.append(f"{amount}{name}")
        if len(parts) == 2:
            break
    if len(parts) == 2 and parts[1].startswith("0"):
        parts.pop()
    return " ".join(parts)


def count(value: float | None) -> str:
    """A count with thousands separators; ``-`` for None.

    Args:
        value: The number to show.
    """
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def seconds(value: float | None, missing: str = "never") -> str:
    """A duration that may not have happened (a time to detect): ``missing`` when None.

    Args:
        value: The duration in seconds, or None when the moment never came.
        missing: What to show for None (``never``; ``not yet`` while a run goes on).
    """
    return missing if value is None else duration(float(value))


def percent(value: float | None) -> str:
    """A rate (0..1) as a percentage with one decimal; ``-`` for None.

    Args:
        value: The rate.
    """
    return "-" if value is None else f"{100 * float(value):.1f}%"


def size(value: Any) -> str:
    """A count, or how many names a list holds.

    Args:
        value: A number, a list or tuple of names, or None.
    """
    if isinstance(value, list | tuple):
        return count(len(value))
    return count(value)


def metric(data: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a dotted path of a result mapping (``blast_radius.records``); None if absent.

    Args:
        data: A run's figures (``RunResult.to_dict()`` shape) or any part of them.
        path: Keys separated by dots.
    """
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def speed(value: float) -> str:
    """A playback speed as ``600x`` (``max`` when unbounded).

    Args:
        value: Simulated seconds per wall second.
    """
    if math.isinf(value):
        return "max"
    return f"{value:g}x"


def effect_label(effect: str) -> str:
    """The short label of a decision effect.

    Args:
        effect: ``allow``, ``deny`` or ``require_approval``.
    """
    return EFFECT_LABELS.get(effect, effect.upper())


def chain_text(chain: list[str] | tuple[str, ...] | None) -> str:
    """A delegation chain, origin first (``triage-bot>support-bot``); empty when direct.

    Args:
        chain: Agent names, current actor first, as the event carries them.
    """
    if not chain or len(chain) < 2:
        return ""
    return ">".join(reversed(chain))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
