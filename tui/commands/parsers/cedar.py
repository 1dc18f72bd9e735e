"""The options of ``agentrange export cedar``, ``import cedar`` and ``--engine``.

Handlers in :mod:`tui.commands.cedar`; nothing of Cedar is imported to build the parser.
"""

from __future__ import annotations

import argparse
from typing import Any

from tui.commands.parsers import Handler

ENGINE_HELP = ("decision point: native, or cedar to decide every request through the "
               "profile's Cedar export (needs agentrange[cedar]; default: the profile's own, "
               "Cedar for a profile written in Cedar)")


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
    e.set_defaults(func=Handler("tui.commands.cedar", "export_command"))

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
    i.set_defaults(func=Handler("tui.commands.cedar", "import_command"))


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """Add ``--engine native|cedar`` to a command that runs scenarios."""
    p.add_argument("--engine", choices=("native", "cedar"), default=None, help=ENGINE_HELP)
