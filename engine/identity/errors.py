"""The errors of workload identity: refused credential operations and malformed scopes.

Key file errors are :class:`engine.keyfiles.KeyFileError`; SPIFFE ID errors are
:class:`engine.identity.spiffe.SpiffeIdError` (the grammar stands alone).
"""

from __future__ import annotations

from engine.errors import AgentrangeError


class CredentialError(AgentrangeError):
    """A credential operation was refused (bad argument, unknown token, quarantined agent)."""


class QuarantinedError(CredentialError):
    """A token was requested for (or through) a quarantined workload."""


class ScopeError(CredentialError):
    """A scope value or ``scope`` claim is not well-formed."""
