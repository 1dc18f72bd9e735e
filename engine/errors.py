"""The engine's exception hierarchy: every error a user can cause carries where and why."""

from __future__ import annotations

import re

CUT_AT = 60
"""Characters of a long value kept in a message (the rest is counted, not printed)."""

_MAX_FOUND = 200
_MAX_EXPECTED = 1000
_MAX_PATH = 200
_LONG_PART = re.compile(rf"[^.\[\]]{{{CUT_AT + 1},}}")
_LONG_WORD = re.compile(rf"\S{{{CUT_AT + 21},}}")


def _shorten(text: str) -> str:
    """Cut every very long word (a quoted value, usually) of a message."""
    return _LONG_WORD.sub(lambda m: cut(m.group()), text) if len(text) > CUT_AT + 20 else text


def cut(text: str, limit: int = CUT_AT) -> str:
    """``text`` if short, else its first ``limit`` characters and how long it was.

    So an error quoting a 100 KB value still prints one short line:
    ``'xxxxxxxx… (100,002 characters)``.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def location(file: str, line: int | None, column: int | None) -> str:
    """``file:line:column``, as much of it as is known (the form editors and CI jump to)."""
    parts = [file]
    if line is not None:
        parts.append(str(line))
        if column is not None:
            parts.append(str(column))
    return ":".join(parts)


class AgentrangeError(Exception):
    """Base class of every error agentrange raises on purpose."""


class LoadError(AgentrangeError):
    """A scenario or policy document could not be loaded.

    Attributes:
        file: The file (or built-in resource name) being loaded.
        line: 1-based line of the offending node, or None when unknown.
        column: 1-based column of the offending node, or None when unknown.
        path: Location inside the document, such as ``agents[2].tasks[0].steps[1].tool``.
        found: A short rendering of what was found there.
        expected: What was expected instead.
    """

    def __init__(
        self,
        file: str,
        expected: str,
        *,
        line: int | None = None,
        column: int | None = None,
        path: str = "",
        found: str | None = None,
    ) -> None:
        # A last guard: whatever a message quotes, one error stays one readable line.
        self.file = file
        self.line = line
        self.column = column
        self.path = cut(_LONG_PART.sub(lambda m: cut(m.group()), path), _MAX_PATH)
        self.found = None if found is None else cut(_shorten(found), _MAX_FOUND)
        self.expected = cut(_shorten(expected), _MAX_EXPECTED)
        super().__init__(self.render())

    @property
    def where(self) -> str:
        """``file:line:column`` (as much of it as is known)."""
        return location(self.file, self.line, self.column)

    def render(self) -> str:
        """One readable message: where, the document path, what was found and expected."""
        msg = self.where
        if self.path:
            msg += f": at {self.path}"
        msg += f": {self.expected}"
        if self.found is not None:
            msg += f" (found {self.found})"
        return msg


MAX_ERRORS = 50
"""Errors one report lists; the rest are counted in a last line."""


class LoadErrors(LoadError):
    """Several load errors found in one pass; renders all of them, first one leads.

    Attributes:
        errors: The errors listed (at most ``limit``).
        omitted: How many more were found and not listed.
    """

    def __init__(self, errors: list[LoadError], *, limit: int = MAX_ERRORS) -> None:
        if not errors:
            raise ValueError("LoadErrors needs at least one error")
        flat: list[LoadError] = []
        omitted = 0
        for e in errors:
            if isinstance(e, LoadErrors):
                flat.extend(e.errors)
                omitted += e.omitted
            else:
                flat.append(e)
        self.errors: list[LoadError] = flat[:limit]
        self.omitted: int
        self.omitted = omitted + len(flat) - len(self.errors)
        first = self.errors[0]
        super().__init__(
            first.file,
            first.expected,
            line=first.line,
            column=first.column,
            path=first.path,
            found=first.found,
        )

    def render(self) -> str:
        """All errors, one per line."""
        errors = getattr(self, "errors", None)
        if not errors:
            return super().render()
        lines = [LoadError.render(e) for e in errors]
        if self.omitted:
            lines.append(f"... and {self.omitted:,} more problem{'s' if self.omitted > 1 else ''}"
                         " (fix these and validate again)")
        return "\n".join(lines)
