"""What a YAML scalar means: plain scalars by the YAML 1.2 core schema, explicit tags checked.

:mod:`engine.yamldoc` asks here for the value of every scalar it reads. Plain scalars resolve
as ruamel.yaml's YAML 1.2 resolver did before the loader moved to libyaml (``true``/``false``
only, ``0o`` octals, ``~``/``null``/empty as null, dates kept as strings), so no document
means something else than it did. Only the standard scalar tags are accepted; any other tag
(``!!python/object`` and friends) is an error, and nothing is ever constructed.
"""

from __future__ import annotations

import re
from typing import Any

MERGE = "<<"
"""The plain key that merges mappings into the one it appears in."""

_T = "tag:yaml.org,2002:"

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""", re.X)
_FLOAT = re.compile(r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)

FIRST_SPECIAL = frozenset("tTfF~nN-+0123456789.")
"""First characters a non-string plain scalar can start with (everything else is a string)."""


class ScalarError(ValueError):
    """A scalar that does not mean what its tag says, or carries an unsupported tag."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"{expected} (found {found})")
        self.expected = expected
        self.found = found


def plain_scalar(value: str) -> Any:
    """The value of an untagged, unquoted scalar: null, bool, int, float, else the string."""
    if value and value[0] not in FIRST_SPECIAL:
        return value
    if _NULL.match(value):
        return None
    if _BOOL.match(value):
        return value[0] in "tT"
    if _FLOAT.match(value):
        return _float(value)
    if _INT.match(value):
        try:
            return _int(value)
        except ScalarError:  # the pattern allows no digit at all (``+_``, ``0x_``): a string
            return value
    return value


def explicit_scalar(tag: str, value: str) -> Any:
    """The value of a scalar written with a standard tag (``!!str``, ``!!int``, ...).

    Raises:
        ScalarError: for any other tag, or a value its tag does not allow.
    """
    if tag in (_T + "str", _T + "timestamp", _T + "binary"):
        return value
    if tag == _T + "null":
        return None
    if tag == _T + "bool":
        return value.lower() in ("true", "yes", "on")
    if tag == _T + "int":
        return _int(value)
    if tag == _T + "float":
        return _float(value)
    raise ScalarError("a plain YAML value (no custom tags)", f"tag {shorten(tag)}")


def _int(value: str) -> int:
    text = value.replace("_", "")
    try:
        return int(text, 0)
    except ValueError:
        try:
            return int(text, 10)
        except ValueError:
            raise ScalarError("an integer", shorten(repr(value))) from None


def _float(value: str) -> float:
    text = value.replace("_", "").lower()
    if text in (".inf", "+.inf"):
        return float("inf")
    if text == "-.inf":
        return float("-inf")
    if text == ".nan":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise ScalarError("a number", shorten(repr(value))) from None


def shorten(text: str, limit: int = 60) -> str:
    """``text``, cut to ``limit`` characters with "..." (a found value is quoted, not dumped)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any) -> str:
    """A short rendering of a found value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = shorten(repr(value))
    kind = type(value).__name__
    return {"str": "string", "int": "integer", "float": "number"}.get(kind, kind) + " " + text
