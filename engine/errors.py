"""The engine's exception hierarchy: every error a user can cause carries where and why."""

from __future__ import annotations


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
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.found = found
        self.expected = expected
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


class LoadErrors(LoadError):
    """Several load errors found in one document; renders all of them, first one leads."""

    def __init__(self, errors: list[LoadError]) -> None:
        if not errors:
            raise ValueError("LoadErrors needs at least one error")
        self.errors = errors
        first = errors[0]
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
        return "\n".join(LoadError.render(e) for e in errors)
