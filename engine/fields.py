"""Field types shared by the scenario and policy documents, and their strict base model.

Identifiers, globs, durations (``"30s"``, ``"2h"``, ``"90d"`` or seconds), SPIFFE trust
domains and agent names, condition scalars: each validated where the document is parsed, so
a model holding one never checks it again.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from engine.durations import DURATION_HELP, parse_duration
from engine.identity.spiffe import SpiffeIdError, validate_path_segment, validate_trust_domain

Id = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", min_length=1, max_length=128),
]
"""An identifier: letters, digits, '.', '-' and '_', starting with a letter or digit."""

Glob = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9*?\[\]._-]+$", max_length=128)]


def to_seconds(value: Any) -> Any:
    """A duration written as text (``"5m"``) or a number, in seconds.

    Anything that is not a string or a number (booleans included) is returned as is, for
    pydantic's own type check to reject.

    Raises:
        ValueError: for text or a number that is not a duration.
    """
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        seconds = _parse(value) if not isinstance(value, str) or len(value) > 32 else (
            _parse_text(value))
        if seconds is None:
            # The value is not quoted: the loader shows what was found, cut when long.
            raise ValueError(DURATION_HELP)
        return seconds
    return value


def _parse(value: str | int | float) -> float | None:
    try:
        return parse_duration(value)
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _parse_text(text: str) -> float | None:
    """A duration's text in seconds, or None; remembered (a scenario repeats a few of them)."""
    return _parse(text)


_DURATION_PATTERN = r"^\s*(\d+(\.\d+)?(ms|s|m|h|d|w))+\s*$|^\s*\d+(\.\d+)?\s*$"


def _duration_schema(minimum: dict[str, float]) -> WithJsonSchema:
    return WithJsonSchema({
        "anyOf": [{"type": "number", **minimum},
                  {"type": "string", "pattern": _DURATION_PATTERN}],
        "description": DURATION_HELP,
    })


Duration = Annotated[float, BeforeValidator(to_seconds), Field(ge=0),
                     _duration_schema({"minimum": 0})]
"""A duration in seconds, written as "30s", "5m", "2h", "90d" or a number of seconds."""

PositiveDuration = Annotated[float, BeforeValidator(to_seconds), Field(gt=0),
                             _duration_schema({"exclusiveMinimum": 0})]


def _trust_domain(value: str) -> str:
    try:
        return validate_trust_domain(value)
    except SpiffeIdError as exc:
        raise ValueError(f"a SPIFFE trust domain: {exc.rule}") from None


TrustDomain = Annotated[str, AfterValidator(_trust_domain)]


def _spiffe_segment(value: str) -> str:
    try:
        return validate_path_segment(value)
    except SpiffeIdError as exc:
        raise ValueError(f"an agent name usable as a SPIFFE path segment: {exc.rule}") from None


AgentName = Annotated[str, StringConstraints(max_length=128), AfterValidator(_spiffe_segment)]

Scalar = str | int | float | bool


class Base(BaseModel):
    """Shared configuration: strict types, unknown keys rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
