"""The accountability report rendered for people: GitHub-flavoured Markdown and printable HTML.

The report itself is data (:class:`sim.collectors.report_model.AccountabilityReport`, folded
from events by :func:`sim.collectors.report.build_report`); this module only words and
escapes it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from engine import framework_mappings as fwm
from engine import frameworks as fw
from engine.durations import format_duration
from sim.collectors.report_coverage import FrameworkCoverage
from sim.collectors.report_model import AccountabilityReport, Attempt, IncidentEntry
from tui.render.formatting import count


def to_markdown(report: AccountabilityReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    return _Markdown(report).render()


def to_html(report: AccountabilityReport) -> str:
    """The report as one self-contained HTML page with print styles."""
    return _Html(report).render()


def coverage_markdown(cov: FrameworkCoverage) -> str:
    """A scenario set's framework coverage as GitHub-flavoured Markdown: one row per item."""
    covered = sum(1 for i in cov.items if i.covered)
    lines = [f"# Framework coverage of {_plural(len(cov.scenarios), 'scenario')}", "",
             f"{covered} of {len(cov.items)} items of {' and '.join(cov.frameworks)} are "
             "referenced. *Rehearsed*: an incident of the scenario is that risk happening; "
             "*mapped*: only the scenario's own list or a policy rule names it.", "",
             "| item | name | rehearsed by | mapped by |", "|---|---|---|---|"]
    for i in cov.items:
        lines.append(f"| {_md(i.id)} | {_md(i.name)} | {_md(', '.join(i.rehearsed) or '-')} | "
                     f"{_md(', '.join(i.mapped) or '-')} |")
    if cov.uncovered:
        lines += ["", f"Not covered: {', '.join(cov.uncovered)}."]
    lines += ["", f"Scenarios read: {', '.join(cov.scenarios)}.", ""]
    return "\n".join(lines)


def _when(seconds: float | None) -> str:
    # A report of record names the exact simulated instant (2h20s), not the panels' two units.
    return "-" if seconds is None else format_duration(seconds)


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _list(value: object) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(str(v) for v in value)) or "-"
    return "-"


class _View:
    """The report's words, shared by both renderings (each escapes them its own way)."""

    def __init__(self, report: AccountabilityReport) -> None:
        self.r = report

    def owner(self, owner_id: str | None) -> str:
        if not owner_id or owner_id == "(none named)":
            return "NONE NAMED"
        name = self.r.owner_names.get(owner_id)
        return f"{owner_id} ({name})" if name else owner_id

    def title(self) -> str:
        r = self.r
        what = r.scenario or (r.run or "audit log")
        if r.profile:
            what += f" under {r.profile}"
        if r.seed is not None:
            what += f" (seed {r.seed})"
        return f"Accountability report: {what}"

    def facts(self) -> list[tuple[str, str]]:
        r = self.r
        rows = [("scenario", r.scenario or "unknown (no scenario given)"),
                ("profile", r.profile or "unknown"),
                ("seed", "-" if r.seed is None else str(r.seed)),
                ("run", r.run or "-")]
        if r.log is None:
            rows.append(("audit log", "none: folded from the run's events as it played"))
        else:
            rows.append(("audit log", self.evidence()))
        rows.append(("decisions", f"{r.decisions:,}"))
        rows.append(("out-of-scope attempts",
                     f"{r.total_attempts:,} ({len(r.attempts):,} distinct): "
                     f"{r.not_stopped:,} not stopped, {r.stopped:,} stopped"
                     + (f", {r.pending:,} pending approval" if r.pending else "")))
        rows.append(("incidents", f"{len(r.incidents):,}"))
        rows.append(("agents missing owners", f"{len(r.owner_gaps):,}"))
        return rows

    def evidence(self) -> str:
        """What the audit log proves, in one cell: verdict, proven and unverified, signer."""
        log = self.r.log
        assert log is not None
        signed = _plural(log.checkpoints, "signed checkpoint")
        if log.ok:
            verdict = f"verified: {_plural(log.records, 'record')}, all proven by {signed}"
        elif log.incomplete is not None:
            verdict = (f"INCOMPLETE run, stopped{self.stopped()}: {log.incomplete}; "
                       f"{_plural(log.records, 'record')} proven by {signed}")
        else:
            after = (f"{log.unverified:,} after them unverified" if log.unverified
                     else "none read after them")
            verdict = (f"FAILED verification ({log.problem}): "
                       f"{_plural(log.records, 'record')} proven by {signed}, {after}")
        key = f"key {log.signer}" if log.signer else "key"
        trust = "pinned" if log.key_pinned else "signer not pinned (key from the log itself)"
        return f"{verdict}; {self.which_run()}{key}, {trust}"

    def which_run(self) -> str:
        """The run the log is of: its nonce and planned end, and whether it was cut short."""
        log = self.r.log
        assert log is not None
        facts = [] if log.nonce is None else [f"run nonce {log.nonce}"]
        if log.planned_end is not None:
            planned = f"planned end {_when(log.planned_end)}"
            if log.shortened_from is not None:
                planned += (f" of the scenario's {_when(log.shortened_from)} "
                            "(cut short by --until)")
            facts.append(planned)
        return f"{', '.join(facts)}; " if facts else ""

    def stopped(self) -> str:
        log = self.r.log
        return "" if log is None or log.stopped_at is None else f" at {_when(log.stopped_at)}"

    def warning(self) -> str | None:
        log = self.r.log
        if log is None or log.ok:
            return None
        if log.incomplete is not None and log.problem == "incomplete":
            return (f"WARNING: this audit log records an INCOMPLETE run -- it stopped"
                    f"{self.stopped()} before its planned end ({log.incomplete}). Its "
                    f"{log.records:,} records are proven; what the rest of the run would have "
                    "done is not in it.")
        if log.records and not log.unverified:
            proven = (f"Only records 1..{log.records:,} are proven by a signed checkpoint, "
                      f"and nothing after seq {log.records:,} can be trusted.")
        elif log.records:
            proven = (f"Only records 1..{log.records:,} are proven by a signed checkpoint; "
                      f"the {log.unverified:,} read after them are unverified, and nothing "
                      f"after seq {log.records:,} can be trusted.")
        else:
            proven = (f"No record is proven by a signed checkpoint; treat all "
                      f"{log.unverified:,} records read as unverified.")
        return f"WARNING: this audit log FAILED verification -- {log.message}. {proven}"

    def gap_rows(self) -> list[list[str]]:
        return [[g.agent, ", ".join(g.missing), *(self.owner(o) for _, o in g.owners)]
                for g in self.r.owner_gaps]

    def incident_rows(self, i: IncidentEntry) -> list[tuple[str, str]]:
        reached = i.reached
        touched = count(reached.get("records"))
        reach = f"{touched} record{'' if touched == '1' else 's'} touched"
        if reached.get("egress_records") is not None:
            reach += f" ({count(reached.get('egress_records'))} sent out)"
        if reached.get("amount"):
            reach += f"; money moved {count(reached.get('amount'))}"
        reach += (f"; data classes {_list(reached.get('data_classes'))}"
                  f"; systems {_list(reached.get('systems'))}"
                  f"; tools {_list(reached.get('tools'))}")
        status = (f"detected {_when(i.detected_at)}, contained {_when(i.contained_at)}"
                  + (f" ({i.how})" if i.how else ""))
        return [
            ("kind", i.kind), ("victim", i.victim), ("what happened", i.description or "-"),
            ("started", _when(i.start)), ("detection and containment", status),
            ("what it reached", reach),
            ("out-of-scope steps", f"{i.attempts:,}, of which {i.stopped:,} stopped"),
            ("stopped by", "; ".join(i.stopped_by) or "nothing stopped it"),
            ("owners", "; ".join(f"{role} {self.owner(o)}" for role, o in i.owners)),
            *self.human_rows(i),
        ]

    def human_rows(self, i: IncidentEntry) -> list[tuple[str, str]]:
        if not i.human_use:
            return []
        if i.person:
            return [("accountable human", f"{self.owner(i.person)}: named when the session, "
                     "without an agent runtime attestation, was refused")]
        return [("accountable human", f"NONE: a person worked with {i.victim}'s credential; "
                 f"its {i.attempts:,} out-of-scope steps name only the agent (NHI10:2025)")]

    def attempt_rows(self, a: Attempt) -> list[tuple[str, str]]:
        who = a.agent
        if a.on_behalf_of:
            who += " on behalf of " + " ← ".join(a.on_behalf_of)
        if a.attacker:
            who += " (attacker holding its credential)"
        serves = a.incident or ("attacker" if a.attacker else "its own work (benign)")
        serves += {True: ", off the approved plan", False: ", a step of the approved plan",
                   None: ""}[a.off_plan]
        when = _when(a.first_time)
        if a.count > 1:
            when = f"{a.count:,} times, {when} to {_when(a.last_time)}"
        what = f"{a.tool} on {a.resource or '-'}"
        if a.data_class:
            what += f" ({a.data_class})"
        what += f", {a.records:,} records"
        decision = f"{a.effect} ({a.reason})"
        if a.token_reason and a.token_reason != "ok":
            decision += f", token {a.token_reason}"
        verdict = {True: "STOPPED", False: "NOT STOPPED", None: "PENDING"}[a.stopped]
        return [
            ("agent", f"{who}, {a.spiffe_id}" if a.spiffe_id else who),
            ("serves", serves), ("task", a.task), ("when", when), ("request", what),
            ("decision", f"{decision}; outcome {a.outcome}"),
            ("envelope broken", a.envelope),
            ("accountable", "; ".join(f"{role} {self.owner(o)}" for role, o in a.accountable)),
            ("stopped?", f"{verdict}: {a.stopped_by}"),
        ]

    @staticmethod
    def verdict(a: Attempt) -> str:
        return {True: "STOPPED", False: "NOT STOPPED", None: "PENDING"}[a.stopped]

    @staticmethod
    def ref_line(ident: str) -> tuple[str, str]:
        item = fw.CATALOGUE.get(ident)
        if item is None:
            return ident, "(not in the catalogue)"
        return ident, f"{item.name} ({item.framework}): {item.meaning}"


def _md(text: object) -> str:
    """A table cell or inline value: one line, pipes and markup characters escaped."""
    out = " ".join(str(text).split())
    # Intraword underscores are literal in GFM, so ids such as prompt_injection stay readable.
    for ch in ("\\", "|", "*", "`", "<", ">", "[", "]"):
        out = out.replace(ch, "\\" + ch)
    return out


class _Markdown(_View):
    def render(self) -> str:
        r = self.r
        lines = [f"# {_md(self.title())}", ""]
        warning = self.warning()
        if warning:
            lines += [f"> **{_md(warning)}**", ""]
        lines += ["| | |", "|---|---|"]
        lines += [f"| {_md(k)} | {_md(v)} |" for k, v in self.facts()]
        lines += ["", "## Agents missing owners", ""]
        if r.owner_gaps:
            lines += ["| agent | missing | business | security | incident |",
                      "|---|---|---|---|---|"]
            lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in self.gap_rows()]
            lines += ["", f"Why it matters: {_md(fwm.MISSING_OWNERS_REFS.why)} "
                      f"({_md(', '.join(fwm.MISSING_OWNERS_REFS.refs))})"]
            described = [g for g in r.owner_gaps if g.description]
            if described:
                lines.append("")
                lines += [f"- **{_md(g.agent)}**: {_md(g.description)}" for g in described]
        else:
            lines.append("None: every agent names a business, a security and an incident owner.")
        lines += ["", "## Incidents", ""]
        if not r.incidents:
            lines.append("None in this run.")
        for i in r.incidents:
            lines += [f"### {_md(i.id)}", "", "| | |", "|---|---|"]
            lines += [f"| {_md(k)} | {_md(v)} |" for k, v in self.incident_rows(i)]
            lines += [f"| references | {_md(', '.join(i.refs) or '-')} |", ""]
        lines += ["## Out-of-scope attempts", ""]
        if not r.attempts:
            lines.append("None: no incident or attacker step left its plan and nothing was "
                         "denied.")
        for n, a in enumerate(r.attempts, 1):
            title = f"{n}. {self.verdict(a)}: {a.agent} → {a.tool}"
            lines += [f"### {_md(title)}", "", "| | |", "|---|---|"]
            lines += [f"| {_md(k)} | {_md(v)} |" for k, v in self.attempt_rows(a)]
            lines += [f"| references | {_md(', '.join(a.refs) or '-')} |", ""]
        refs = r.references()
        if refs:
            lines += ["## Framework references", ""]
            lines += [f"- **{_md(k)}**: {_md(v)}" for k, v in map(self.ref_line, refs)]
            lines.append("")
        return "\n".join(lines).rstrip("\n") + "\n"


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #999;
     margin-top: 2rem; } h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 1rem; }
th, td { border: 1px solid #bbb; padding: .25rem .5rem; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
th { background: #eee; width: 14rem; }
.warning { border: 3px solid #b00; background: #fee; color: #700; padding: .75rem;
           font-weight: bold; }
.not-stopped { border-left: 6px solid #b00; padding-left: .5rem; }
.stopped { border-left: 6px solid #080; padding-left: .5rem; }
.pending { border-left: 6px solid #c80; padding-left: .5rem; }
.verdict { font-weight: bold; }
dt { font-weight: bold; } dd { margin: 0 0 .4rem 1.5rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; color: #000; }
  h2 { break-after: avoid; } h3 { break-after: avoid; }
  section.entry, table, .warning { break-inside: avoid; }
  th { background: none; }
  a { color: inherit; text-decoration: none; }
}
""".strip()


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


class _Html(_View):
    def table(self, rows: Iterable[tuple[str, str]]) -> list[str]:
        out = ["<table>"]
        out += [f"<tr><th scope=\"row\">{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows]
        out.append("</table>")
        return out

    def render(self) -> str:
        r = self.r
        out = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
               f"<title>{_e(self.title())}</title>", f"<style>\n{_CSS}\n</style>", "</head>",
               "<body>", f"<h1>{_e(self.title())}</h1>"]
        warning = self.warning()
        if warning:
            out.append(f"<p class=\"warning\" role=\"alert\">{_e(warning)}</p>")
        out += self.table(self.facts())
        out.append("<h2>Agents missing owners</h2>")
        if r.owner_gaps:
            out.append("<table><tr><th>agent</th><th>missing</th><th>business</th>"
                       "<th>security</th><th>incident</th></tr>")
            for row in self.gap_rows():
                out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
            out.append("</table>")
            out.append(f"<p>Why it matters: {_e(fwm.MISSING_OWNERS_REFS.why)} "
                       f"({_e(', '.join(fwm.MISSING_OWNERS_REFS.refs))})</p>")
            for g in r.owner_gaps:
                if g.description:
                    out.append(f"<p><b>{_e(g.agent)}</b>: {_e(g.description)}</p>")
        else:
            out.append("<p>None: every agent names a business, a security and an incident "
                       "owner.</p>")
        out.append("<h2>Incidents</h2>")
        if not r.incidents:
            out.append("<p>None in this run.</p>")
        for i in r.incidents:
            out += ["<section class=\"entry\">", f"<h3>{_e(i.id)}</h3>"]
            out += self.table([*self.incident_rows(i),
                               ("references", ", ".join(i.refs) or "-")])
            out.append("</section>")
        out.append("<h2>Out-of-scope attempts</h2>")
        if not r.attempts:
            out.append("<p>None: no incident or attacker step left its plan and nothing was "
                       "denied.</p>")
        for n, a in enumerate(r.attempts, 1):
            css = {True: "stopped", False: "not-stopped", None: "pending"}[a.stopped]
            out += [f"<section class=\"entry {css}\">",
                    f"<h3>{n}. <span class=\"verdict\">{_e(self.verdict(a))}</span>: "
                    f"{_e(a.agent)} → {_e(a.tool)}</h3>"]
            out += self.table([*self.attempt_rows(a), ("references", ", ".join(a.refs) or "-")])
            out.append("</section>")
        refs = r.references()
        if refs:
            out += ["<h2>Framework references</h2>", "<dl>"]
            for k, v in map(self.ref_line, refs):
                out += [f"<dt>{_e(k)}</dt>", f"<dd>{_e(v)}</dd>"]
            out.append("</dl>")
        out += ["</body>", "</html>"]
        return "\n".join(out) + "\n"
