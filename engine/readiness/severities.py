"""The readiness gate's severities, least to most severe: a leaf module with no imports.

The command line offers them as ``check --fail-on`` choices when it builds its parser, which
must not load the scenario model that :mod:`engine.readiness.findings` needs.
"""

from __future__ import annotations

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
"""Severities from least to most severe."""
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
