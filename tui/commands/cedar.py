"""``agentrange export cedar`` and ``agentrange import cedar``, and what ``--engine`` asks for.

``export cedar SCENARIO --profile P -o DIR`` writes a profile's policy as Cedar (policies,
shadow policies, schema, entities; see :mod:`engine.cedar.export`); a rule Cedar cannot
express with the same meaning is refused, naming it. ``import cedar DIR --scenario S`` checks
a hand-written Cedar policy set against the scenario and reports, with file and line, every
construct or attribute agentrange cannot supply (:mod:`engine.cedar.check`). ``--engine``
(on ``run`` and ``compare``) chooses the decision point: ``cedar`` runs a profile through its
export. The options are in :mod:`tui.commands.parsers.cedar`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.errors import AgentrangeError


class CedarCommandError(AgentrangeError):
    """A bad option of ``export cedar`` or ``import cedar``."""


def engine_factory(args: argparse.Namespace, scenario: Any, profile: str) -> Any:
    """The engine factory ``--engine`` asks for a profile (None: the native engine)."""
    choice = getattr(args, "engine", None)
    from engine.cedar.profile import engine_for

    return engine_for(scenario, profile, choice)


def export_command(args: argparse.Namespace) -> int:
    """Export a profile's policy to Cedar and list what was written."""
    from engine.cedar.profile import export_profile
    from scenarios.library import load_scenario

    scenario = load_scenario(args.scenario)
    profile = args.profile or scenario.default_profile_id
    _known_profile(scenario, profile)
    export, source = export_profile(scenario, profile)
    written = export.write(args.output)
    shadow = sum(1 for p in export.policies if p.mode == "shadow")
    print(f"exported policy {export.name} ({source}) of {scenario.name}/{profile}: "
          f"{len(export.policies)} Cedar policies ({len(export.policies) - shadow} enforced, "
          f"{shadow} shadow), validated against the schema")
    for path in written:
        print(f"  {path}")
    return 0


def import_command(args: argparse.Namespace) -> int:
    """Check a Cedar policy set against a scenario; print each problem with file and line."""
    from engine.cedar.check import check_policies
    from engine.cedar.profile import model_for, profile_document
    from scenarios.library import load_scenario

    scenario = load_scenario(args.scenario)
    document = None
    if args.profile is not None:
        _known_profile(scenario, args.profile)
        document, _source = profile_document(scenario, args.profile)
    report = check_policies(Path(args.path), model_for(scenario, document),
                            legal_owner=None if document is None else document.legal_owner)
    for problem in report.problems:
        print(problem.render())
    errors = len(report.errors)
    verdict = ("agentrange can rehearse it" if report.ok else
               f"{errors} problem{'s' if errors != 1 else ''} agentrange cannot rehearse")
    print(f"{args.path}: {len(report.policies)} Cedar policies checked against "
          f"{scenario.name}: {verdict}")
    return 0 if report.ok else 2


def _known_profile(scenario: Any, profile: str) -> None:
    known = [p.id for p in scenario.profiles]
    if profile not in known:
        raise CedarCommandError(f"--profile: scenario {scenario.name} has no profile "
                                f"{profile!r} (profiles: {', '.join(known)})")
