"""The audit log's errors: one for misuse, one for a log or key file that cannot be used."""

from __future__ import annotations

import os

from engine.errors import AgentrangeError


class AuditError(AgentrangeError):
    """The audit log was used wrongly (a record it cannot log, an append after close)."""


class AuditFileError(AuditError):
    """A log or key file cannot be used; names the file and why.

    Attributes:
        path: The file concerned.
        reason: What is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        # The arguments as given, so that type(exc)(*exc.args) rebuilds it: simpy does that to
        # re-raise a process's exception in the caller, and so does pickling.
        super().__init__(self.path, reason)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"
