"""``agentrange list``, ``validate`` and ``schema``: what scenarios exist and whether files load."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from engine.errors import LoadError
from engine.model import Scenario
from engine.validation import validate_scenario
from scenarios import library
from scenarios.library import load_scenario


def summary(scenario: Scenario) -> str:
    """The scenario's title or the first sentence of its description."""
    if scenario.title:
        return scenario.title
    return scenario.description.split(". ")[0].strip()


def run_list(args: argparse.Namespace) -> int:
    """Print the built-in scenarios."""
    rows = []
    for name in library.names():
        s = load_scenario(name)
        rows.append({"name": name, "title": summary(s),
                     "description": " ".join(s.description.split()),
                     "profiles": [p.id for p in s.profiles],
                     "frameworks": list(s.frameworks)})
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="Built-in scenarios", title_justify="left")
    table.add_column("scenario", style="bold cyan", no_wrap=True)
    table.add_column("what it rehearses")
    table.add_column("profiles", style="green")
    for row in rows:
        table.add_row(str(row["name"]), str(row["title"]), ", ".join(row["profiles"]))
    Console().print(table)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """Validate each named scenario; exit 2 if any fails."""
    failed = 0
    for ref in args.scenarios:
        try:
            s = validate_scenario(library.locate(ref)).scenario
        except LoadError as exc:
            failed += 1
            print(f"agentrange: error: {exc}", file=sys.stderr)
            continue
        cedar, problems = _cedar_profiles(s)
        if problems:
            failed += 1
            for problem in problems:
                print(f"agentrange: error: {problem}", file=sys.stderr)
            continue
        print(f"ok: {s.source}: {len(s.agents)} agents, {len(s.tools)} tools, "
              f"{len(s.incidents)} incidents, profiles {', '.join(p.id for p in s.profiles)}"
              f"{cedar}")
    return 2 if failed else 0


def _cedar_profiles(s: Scenario) -> tuple[str, list[str]]:
    """Check the Cedar policies of the profiles written in Cedar.

    Returns what to add to the ok line, and the problems (each naming file and line); without
    cedarpy the policies are left unchecked, and the ok line says so.
    """
    written = [p.id for p in s.profiles if getattr(p, "cedar", None) is not None]
    if not written:
        return "", []
    from engine.cedar.errors import CedarError, CedarMissingError
    from engine.cedar.profile import profile_document, read_profile_policies
    from engine.cedar.runtime import cedarpy

    try:
        cedarpy()
    except CedarMissingError as exc:
        return f" (Cedar policies of {', '.join(written)} not checked: {exc})", []
    problems: list[str] = []
    for profile in written:
        document, _source = profile_document(s, profile)
        try:
            read_profile_policies(s, document, s.profile(profile).cedar or "")
        except CedarError as exc:
            problems.append(f"profile {profile}: {exc}")
    return f" (Cedar policies of {', '.join(written)} checked)", problems


def run_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the scenario (or policy) format."""
    if args.policy:
        from engine.policy.model import PolicyDocument

        schema = PolicyDocument.model_json_schema()
    else:
        schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    print(json.dumps(schema, indent=2))
    return 0
