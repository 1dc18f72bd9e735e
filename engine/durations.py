"""Durations in scenario files and on the command line: "90d", "5m", "30s", "1h30m" or seconds."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")

DURATION_HELP = 'a duration such as "30s", "5m", "2h", "90d", "1h30m" or a number of seconds'


def parse_duration(value: str | int | float) -> float:
    """Return a duration in seconds.

    Args:
        value: A number of seconds, or a string of number+unit parts (ms, s, m, h, d, w).

    Raises:
        ValueError: when the text is not a duration; the message says what is expected.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, found a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            if _WHOLE.fullmatch(text) is None:
                raise ValueError(f"expected {DURATION_HELP}, found {value!r}") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"expected {DURATION_HELP}, found {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds compactly for people: 90 -> "1m30s", 7776000 -> "90d"."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:.0f}ms"
    total = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            n, total = divmod(total, size)
            parts.append(f"{n}{unit}")
    return "".join(parts) or "0s"
