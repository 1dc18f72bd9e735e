"""``agentrange export cedar`` and ``agentrange import cedar``, and the ``--engine`` option.

``export cedar SCENARIO --profile P -o DIR`` writes a profile's policy as Cedar (policies,
shadow policies, schema, entities; see :mod:`engine.cedar.export`); a rule Cedar cannot
express with the same meaning is refused, naming it. ``import cedar DIR --scenario S`` checks
a hand-written Cedar policy set against the scenario and reports, with file and line, every
construct or attribute agentrange cannot supply (:mod:`engine.cedar.check`). ``--engine``
(on ``run`` and ``compare``) chooses the decision point: ``cedar`` runs a profile through its
export. The Cedar modules are imported when a command runs, so the parser stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.errors import AgentrangeError

ENGINE_HELP = ("decision point: native, or cedar to decide every request through the "
               "profile's Cedar export (needs agentrange[cedar]; default: the profile's own, "
               "Cedar for a profile written in Cedar)")


class CedarCommandError(AgentrangeError):
    """A bad option of ``export cedar`` or ``import cedar``."""


def register(sub: Any) -> None:
    """Add the ``export`` and ``import`` commands (each with its ``cedar`` format)."""
    p = sub.add_parser("export", help="export a profile's policy to another policy language",
                       description="Export a profile's policy to another policy language.")
    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    e = formats.add_parser(
        "cedar", help="write the policy as Cedar policies, schema and entities",
        description="Write a profile's policy as Cedar: policies.cedar (one policy per rule, "
        "annotated with its id, envelope, effect, mode, owner and framework references), "
        "shadow.cedar, schema.cedarschema.json and entities.json. The policies are "
        "validated strictly against the schema; a rule Cedar cannot express with the same "
        "meaning is refused, naming it.")
    e.add_argument("scenario", metavar="SCENARIO",
                   help="a scenario file, a directory holding scenario.yaml, or a built-in name")
    e.add_argument("--profile", metavar="P", help="profile id (default: the scenario's)")
    e.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="directory to write the four files into (created when missing)")
    e.set_defaults(func=export_command)

    p = sub.add_parser("import", help="check a policy set in another language against a "
                       "scenario", description="Check a policy set written in another "
                       "policy language against a scenario.")
    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    i = formats.add_parser(
        "cedar", help="check hand-written Cedar policies against a scenario's schema",
        description="Check a Cedar policy file or directory against a scenario: every "
        "policy is validated strictly against the scenario's Cedar schema, and every "
        "construct or attribute agentrange cannot supply is reported with its file and "
        "line. Exit 0 when the set can be rehearsed, 2 otherwise.")
    i.add_argument("path", metavar="DIR", help="a .cedar file or a directory of them")
    i.add_argument("--scenario", metavar="S", required=True,
                   help="a scenario file, a directory holding scenario.yaml, or a built-in name")
    i.add_argument("--profile", metavar="P",
                   help="a profile whose policy file gives the counters the Cedar policies may "
                        "read (context.counter) and the legal owner")
    i.set_defaults(func=import_command)


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """Add ``--engine native|cedar`` to a command that runs scenarios."""
    p.add_argument("--engine", choices=("native", "cedar"), default=None, help=ENGINE_HELP)


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
