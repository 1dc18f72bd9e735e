"""SPIFFE ID parsing and validation (spiffe/spiffe standards/SPIFFE-ID.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import AgentrangeError

SCHEME = "spiffe://"
_AFTER_SCHEME = len(SCHEME)
MAX_ID_BYTES = 2048
MAX_TRUST_DOMAIN_BYTES = 255

_TRUST_DOMAIN_CHARS = re.compile(r"[a-z0-9._-]+")
_SEGMENT_CHARS = re.compile(r"[a-zA-Z0-9._-]+")


class SpiffeIdError(AgentrangeError):
    """A string is not a valid SPIFFE ID; ``rule`` names the rule it broke."""

    def __init__(self, value: str, rule: str) -> None:
        self.value = value
        self.rule = rule
        super().__init__(f"invalid SPIFFE ID {value!r}: {rule}")


def validate_trust_domain(name: str) -> str:
    """Check a trust domain name against SPIFFE-ID §2.1 and return it.

    Raises:
        SpiffeIdError: naming the broken rule.
    """
    if not name:
        raise SpiffeIdError(name, "trust domain must not be empty")
    if len(name.encode()) > MAX_TRUST_DOMAIN_BYTES:
        raise SpiffeIdError(name, f"trust domain longer than {MAX_TRUST_DOMAIN_BYTES} bytes")
    if "%" in name:
        raise SpiffeIdError(name, "trust domain must not be percent-encoded")
    if ":" in name:
        raise SpiffeIdError(name, "trust domain must not carry a port")
    if "@" in name:
        raise SpiffeIdError(name, "trust domain must not carry userinfo")
    if _TRUST_DOMAIN_CHARS.fullmatch(name) is None:
        raise SpiffeIdError(
            name, "trust domain may contain only lowercase letters, digits, '.', '-' and '_'"
        )
    return name


def validate_path_segment(segment: str) -> str:
    """Check one path segment against SPIFFE-ID §2.2 and return it.

    Raises:
        SpiffeIdError: naming the broken rule.
    """
    if not segment:
        raise SpiffeIdError(segment, "path segments must not be empty")
    if segment in (".", ".."):
        raise SpiffeIdError(segment, "path segments must not be '.' or '..'")
    if "%" in segment:
        raise SpiffeIdError(segment, "path segments must not be percent-encoded")
    if _SEGMENT_CHARS.fullmatch(segment) is None:
        raise SpiffeIdError(
            segment, "path segments may contain only letters, digits, '.', '-' and '_'"
        )
    return segment


@dataclass(frozen=True, slots=True)
class SpiffeId:
    """A validated SPIFFE ID: ``spiffe://<trust_domain><path>``."""

    trust_domain: str
    path: str = ""

    @classmethod
    def parse(cls, value: str) -> SpiffeId:
        """Parse and validate a SPIFFE ID string.

        Raises:
            SpiffeIdError: naming the SPIFFE rule the string broke.
        """
        if len(value.encode()) > MAX_ID_BYTES:
            raise SpiffeIdError(value[:64] + "...", f"longer than {MAX_ID_BYTES} bytes")
        if not value.lower().startswith(SCHEME):
            raise SpiffeIdError(value, "scheme must be 'spiffe://'")
        if not value.startswith(SCHEME):
            # The scheme is case-insensitive, but we only ever emit the canonical form.
            value = SCHEME + value[len(SCHEME) :]
        rest = value[len(SCHEME) :]
        if "?" in rest:
            raise SpiffeIdError(value, "a query is not allowed")
        if "#" in rest:
            raise SpiffeIdError(value, "a fragment is not allowed")
        authority, sep, path = rest.partition("/")
        # The trust domain is case-insensitive (§2.4); fold ASCII only, so that a non-ASCII
        # look-alike (the Kelvin sign folds to "k") cannot slip through the charset check.
        trust_domain = authority.lower() if authority.isascii() else authority
        try:
            validate_trust_domain(trust_domain)
        except SpiffeIdError as exc:
            raise SpiffeIdError(value, exc.rule) from None
        if sep:
            if path == "":
                raise SpiffeIdError(value, "path must not end with '/'")
            for segment in path.split("/"):
                try:
                    validate_path_segment(segment)
                except SpiffeIdError as exc:
                    raise SpiffeIdError(value, exc.rule) from None
            return cls(trust_domain, "/" + path)
        return cls(trust_domain)

    @classmethod
    def for_workload(cls, trust_domain: str, *segments: str) -> SpiffeId:
        """Build ``spiffe://<trust_domain>/<segments...>``, validating every part.

        Raises:
            SpiffeIdError: naming the broken rule.
        """
        validate_trust_domain(trust_domain)
        for segment in segments:
            validate_path_segment(segment)
        return cls(trust_domain, "".join("/" + s for s in segments))

    def __str__(self) -> str:
        return f"{SCHEME}{self.trust_domain}{self.path}"


def agent_id(trust_domain: str, name: str) -> SpiffeId:
    """The SPIFFE ID agentrange gives an agent: ``spiffe://<trust_domain>/agent/<name>``."""
    return SpiffeId.for_workload(trust_domain, "agent", name)


def trust_domain_of(spiffe_id: str) -> str:
    """The trust domain of a SPIFFE ID string in canonical form, without validating it.

    For IDs already parsed and validated (a verified token's subject and actors), on paths
    where parsing again would cost; anything else goes through :meth:`SpiffeId.parse`.
    """
    return spiffe_id[_AFTER_SCHEME:].partition("/")[0]
