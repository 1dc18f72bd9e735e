"""Readiness findings rendered as a JSON document or a SARIF 2.1.0 log.

The gate (:mod:`engine.readiness`) returns :class:`~engine.readiness.findings.Finding` data;
this module gives it the shapes ``agentrange check --format json|sarif`` prints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.readiness.findings import SEVERITIES, Check, Finding
from engine.readiness.registry import REGISTRY

TOOL_URI = "https://github.com/agentrange/agentrange"
"""The tool's home page, as SARIF's ``informationUri``."""
SARIF_LEVEL = {"info": "note", "low": "note", "medium": "warning", "high": "error",
               "critical": "error"}
"""Severity -> SARIF result level."""
SECURITY_SEVERITY = {"info": "0.0", "low": "3.0", "medium": "5.0", "high": "8.0",
                     "critical": "9.5"}
"""Severity -> the ``security-severity`` score code-scanning interfaces sort by."""


def to_json(findings: Sequence[Finding], *, scanned: Sequence[str] = ()) -> dict[str, Any]:
    """Findings as a JSON-compatible document with counts by severity.

    Args:
        findings: What to report.
        scanned: The scenario references that were checked.
    """
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    return {"scanned": list(scanned), "counts": counts,
            "findings": [f.to_dict() for f in findings]}


def artifact_uri(file: str, base: str | None) -> str:
    """A finding's file as a URI reference relative to the scanned directory."""
    path = file.removeprefix("builtin:")
    if base is not None and not file.startswith("builtin:"):
        absolute = os.path.abspath(path)
        root = os.path.abspath(base)
        if os.path.commonpath([absolute, root]) == root:
            path = os.path.relpath(absolute, root)
    return Path(path).as_posix().replace(" ", "%20")


def rule_descriptor(check: Check) -> dict[str, Any]:
    """The SARIF ``reportingDescriptor`` of a check."""
    return {
        "id": check.id,
        "name": check.name,
        "shortDescription": {"text": check.summary},
        "fullDescription": {"text": check.help},
        "help": {"text": check.help},
        "defaultConfiguration": {"level": SARIF_LEVEL[check.severity]},
        "properties": {"tags": list(check.frameworks),
                       "security-severity": SECURITY_SEVERITY[check.severity]},
    }


def to_sarif(findings: Sequence[Finding], *, base: str | None = None,
             version: str = "0") -> dict[str, Any]:
    """Findings as a SARIF 2.1.0 log (one run; rules from the registry).

    Args:
        findings: What to report.
        base: The scanned directory; artifact URIs are made relative to it.
        version: The tool's version.
    """
    ids = list(REGISTRY)
    results = []
    for f in findings:
        region: dict[str, Any] = {}
        if f.line is not None:
            region["startLine"] = f.line
            if f.column is not None:
                region["startColumn"] = f.column
        physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(f.file, base)}}
        if region:
            physical["region"] = region
        results.append({
            "ruleId": f.check,
            "ruleIndex": ids.index(f.check),
            "level": SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message}. Remediation: {f.remediation}"},
            "locations": [{"physicalLocation": physical}],
            "properties": {"severity": f.severity, "frameworks": list(f.frameworks),
                           "profiles": list(f.profiles), "production": f.production,
                           "remediation": f.remediation},
        })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "agentrange",
                "informationUri": TOOL_URI,
                "version": version,
                "rules": [rule_descriptor(REGISTRY[c]) for c in ids],
            }},
            "results": results,
        }],
    }
