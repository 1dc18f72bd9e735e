"""Errors of the policy engine (bad policy files raise engine.errors.LoadError instead)."""

from __future__ import annotations

from engine.errors import AgentrangeError


class PolicyError(AgentrangeError):
    """A policy engine operation was asked for something it cannot do."""


class UnknownRuleError(PolicyError):
    """A rule or sequence id that the compiled policy does not have (e.g. to tighten)."""


class NoPolicyFileError(PolicyError):
    """A profile's policy file cannot be located: the scenario was built in memory."""
