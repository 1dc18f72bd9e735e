"""``agentrange test``: run each scenario's ``expect:`` assertions like a test runner.

Each scenario runs once under every profile its expectations name (its own seed, headless);
:func:`sim.expectations.check` turns the results into verdicts. One ``PASS``/``FAIL`` line per
assertion, ``N passed, M failed`` last, exit 1 on any failure; ``--junit FILE`` writes JUnit
XML (one testsuite per scenario, one testcase per expectation).
"""

from __future__ import annotations

import argparse
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from engine.errors import AgentrangeError
from engine.model import Scenario
from scenarios.library import load_scenario
from sim.expectations import ExpectationResult, check
from sim.result import RunResult
from sim.runner import Simulation
from tui.commands.check import scenario_refs


class TestCommandError(AgentrangeError):
    """A report file that cannot be written."""

    __test__ = False  # not a pytest test class, despite its name


@dataclass(frozen=True)
class ScenarioVerdicts:
    """The verdicts of one scenario's expectations, with the time its runs took."""

    scenario: Scenario
    verdicts: tuple[ExpectationResult, ...]
    seconds: float

    @property
    def failed(self) -> int:
        """How many expectations failed."""
        return sum(1 for v in self.verdicts if not v.passed)


def run_expectations(scenario: Scenario) -> ScenarioVerdicts:
    """Run a scenario under each profile its expectations name (once each) and check them."""
    start = time.perf_counter()
    profiles = list(dict.fromkeys(e.profile for e in scenario.expect))
    results: dict[str, RunResult] = {p: Simulation(scenario, p).run() for p in profiles}
    verdicts = tuple(check(scenario, results))
    return ScenarioVerdicts(scenario, verdicts, time.perf_counter() - start)


def test_command(args: argparse.Namespace) -> int:
    """Run the expectations of every named scenario and print one line per assertion."""
    refs = scenario_refs(args.paths)
    scenarios = [load_scenario(ref) for ref in refs]
    console = Console(highlight=False, soft_wrap=True)
    suites: list[ScenarioVerdicts] = []
    for scenario in scenarios:
        suite = run_expectations(scenario)
        suites.append(suite)
        if not suite.verdicts:
            console.print(f"[dim]SKIP  {scenario.name}: no expectations[/]")
        for v in suite.verdicts:
            mark = "[green]PASS[/]" if v.passed else "[bold red]FAIL[/]"
            console.print(f"{mark}  {escape(scenario.name)} \\[{escape(v.profile)}] "
                          f"{escape(v.what)}  [dim]actual: {escape(v.actual)}[/]")
    passed = sum(len(s.verdicts) - s.failed for s in suites)
    failed = sum(s.failed for s in suites)
    if args.junit:
        write_junit(args.junit, suites)
    # Plain text so runners that read the closing line find it unstyled.
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def junit_xml(suites: Sequence[ScenarioVerdicts]) -> ET.Element:
    """The JUnit XML tree: one testsuite per scenario, one testcase per expectation."""
    root = ET.Element("testsuites", {
        "name": "agentrange",
        "tests": str(sum(len(s.verdicts) for s in suites)),
        "failures": str(sum(s.failed for s in suites)),
        "errors": "0",
        "time": f"{sum(s.seconds for s in suites):.3f}",
    })
    for s in suites:
        suite = ET.SubElement(root, "testsuite", {
            "name": s.scenario.name, "tests": str(len(s.verdicts)),
            "failures": str(s.failed), "errors": "0", "skipped": "0",
            "time": f"{s.seconds:.3f}",
        })
        for v in s.verdicts:
            case = ET.SubElement(suite, "testcase", {
                "classname": f"{s.scenario.name}.{v.profile}",
                "name": f"expect[{v.index}] {v.what}",
                "time": "0",
            })
            if not v.passed:
                failure = ET.SubElement(case, "failure", {
                    "message": f"expected {v.what}; actual: {v.actual}",
                    "type": "ExpectationFailed"})
                failure.text = (f"scenario {s.scenario.name}, profile {v.profile}\n"
                                f"expected: {v.what}\nactual: {v.actual}\n")
            else:
                out = ET.SubElement(case, "system-out")
                out.text = f"actual: {v.actual}"
    return root


def write_junit(path: str, suites: Sequence[ScenarioVerdicts]) -> None:
    """Write the JUnit XML report.

    Raises:
        TestCommandError: when the file cannot be written.
    """
    tree = ET.ElementTree(junit_xml(suites))
    ET.indent(tree)
    try:
        tree.write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        raise TestCommandError(f"{path}: cannot write the JUnit report "
                               f"({exc.strerror})") from None
