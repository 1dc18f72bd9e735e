"""Decision detail: the request, token claims, chain, rules, conditions, owners and frameworks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from engine.model import Scenario
from engine.policy.what_if import NearMiss, near_misses
from sim.events import Event
from tui.render.formatting import chain_text, clock, count, duration, effect_label
from tui.screens.catalogue import RuleCatalogue

EFFECT_STYLE = {"allow": "bold green", "deny": "bold red", "require_approval": "bold yellow"}


_NO_RULE = {
    "no_matching_allow": "none: no rule allowed it (default deny)",
    "invalid_token": "none: the token failed verification, so no rule was evaluated",
    "error": "none: a rule could not be evaluated (fail closed)",
}
"""What the deciding-rule row says when no rule decided, by the decision's reason."""


def _grid(rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        if value is None or value == "" or value == [] or value == ():
            continue
        table.add_row(key, value if isinstance(value, Text) else Text(str(value)))
    return table


def _section(title: str, body: RenderableType) -> Group:
    return Group(Text(title, style="bold underline"), body, Text(""))


def headline(decision: Mapping[str, Any]) -> Text:
    """The effect, the deciding rule and why, as one line (from ``Decision.to_dict()``)."""
    effect = str(decision.get("effect", ""))
    text = Text(effect_label(effect), style=EFFECT_STYLE.get(effect, "bold"))
    rule = decision.get("rule")
    reason = str(decision.get("reason", "")).replace("_", " ")
    text.append(f"  {reason}")
    if rule:
        text.append(" by ")
        text.append(str(rule), style="bold")
    if decision.get("envelope"):
        text.append(f"  [{decision['envelope']} envelope, owner "
                    f"{decision.get('owner') or 'unassigned'}]")
    return text


class DecisionView:
    """Renders what a decision record says about one request and the reference data it names.

    The detail screen shows one; the diff detail shows one per profile.

    Args:
        event: The ``decision`` event.
        token: The ``token_issued`` event of the token used, when known.
        incident: The ``incident`` event the request belongs to, when any.
        agent: The agent as the run announced it (name, spiffe_id, kind, owners).
        rules: The profile's rules, for descriptions and framework references.
        scenario: The scenario, for owner names.
        kept: How many recent decisions the run keeps whole (named when ``event`` is an
            abridged one, ``data["summary"]``, of a decision only the run's index remembers).
    """

    def __init__(self, event: Event, *, token: Event | None = None,
                 incident: Event | None = None, agent: Mapping[str, Any] | None = None,
                 rules: RuleCatalogue | None = None, scenario: Scenario | None = None,
                 kept: int | None = None) -> None:
        self.kept = kept
        self.event = event
        self.token = token
        self.incident = incident
        self.agent = agent or {}
        self.rules = rules or RuleCatalogue("")
        self.scenario = scenario

    # --- the sections ------------------------------------------------------------------

    def render_detail(self) -> Group:
        """All sections as one renderable."""
        d = self.event.data
        decision: Mapping[str, Any] = d.get("decision") or {}
        parts: list[RenderableType] = [headline(decision), Text("")]
        if d.get("summary"):
            # Only the index's row is left: show what it remembers, claim nothing more.
            parts.append(Text(
                "Only this decision's row is still kept: the run keeps the full records of "
                f"its {self.kept or 'most recent'} most recent decisions and of those alerts "
                "point to. The row is shown below.", style="italic yellow"))
            parts.append(Text(""))
            parts.append(_section("Request", self._request(d)))
            if d.get("chain") and len(d["chain"]) > 1:
                parts.append(_section("Delegation chain", self._chain(d, decision)))
            parts.append(_section("Rules", self._rules(decision)))
            return Group(*parts)
        misses = self.near_misses(decision)
        if misses:
            parts.append(_section("What would it take (allow rules that nearly matched)",
                                  self._near(misses)))
        parts.append(_section("Request", self._request(d)))
        parts.append(_section("Token", self._token(d)))
        if (d.get("chain") and len(d["chain"]) > 1) or decision.get("chain"):
            parts.append(_section("Delegation chain", self._chain(d, decision)))
        parts.append(_section("Rules", self._rules(decision)))
        failed = decision.get("failed") or ()
        if failed:
            parts.append(_section("Failed conditions", self._failed(failed)))
        if decision.get("sequences"):
            parts.append(_section("Sequences completed", self._sequences(decision)))
        if decision.get("obligations"):
            parts.append(_section("Obligations", Text(", ".join(decision["obligations"]))))
        if decision.get("errors"):
            parts.append(_section("Errors", Text("\n".join(decision["errors"]), style="red")))
        parts.append(_section("Owners", self._owners(decision)))
        parts.append(_section("Framework references", self._frameworks(decision)))
        return Group(*parts)

    def near_misses(self, decision: Mapping[str, Any]) -> list[NearMiss]:
        """The enforced allow rules that nearly matched, when the decision is a default deny."""
        rules = {r.id: {"effect": str(r.effect), "mode": r.mode}
                 for r in self.rules.rules.values()}
        return near_misses(decision, rules)

    def _near(self, misses: Iterable[NearMiss]) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold green", no_wrap=True)
        table.add_column(overflow="fold")
        for miss in misses:
            info = self.rules.get(miss.rule)
            text = Text("needs ", style="dim")
            text.append(miss.condition, style="bold")
            text.append("; it was ", style="dim")
            text.append(f"{miss.path} = "
                        f"{'absent' if miss.actual is None else repr(miss.actual)}",
                        style="bold yellow")
            if info is not None and info.description:
                text.append(f"\n{info.description}", style="dim")
            table.add_row(miss.rule, text)
        return table

    def _request(self, d: Mapping[str, Any]) -> Table:
        incident = d.get("incident")
        origin = None
        if incident:
            origin = Text(str(incident), style="bold red")
            if d.get("attacker"):
                origin.append("  (attacker replaying a stolen token)")
        return _grid([
            ("agent", self.event.agent),
            ("task", f"{d.get('task')} (run {d.get('run')}, step {d.get('step')})"),
            ("tool", d.get("tool")),
            ("action", d.get("action")),
            ("resource", d.get("resource")),
            ("data class", d.get("data_class")),
            ("records", count(d.get("records")) if d.get("records") else None),
            ("amount", d.get("amount")),
            ("destination", d.get("destination")),
            ("outcome", d.get("outcome")),
            ("incident", origin),
        ])

    def _token(self, d: Mapping[str, Any]) -> Table:
        rows: list[tuple[str, Any]] = [("jti", d.get("jti") or "none presented"),
                                       ("verification", d.get("token_reason"))]
        spiffe = self.agent.get("spiffe_id")
        if self.token is not None:
            t = self.token.data
            exp = t.get("exp")
            left = None if exp is None else float(exp) - self.event.time
            rows += [
                ("sub", self.token.data.get("sub") or spiffe),
                ("holder", self.token.agent),
                ("mode", t.get("mode")),
                ("issued", clock(self.token.time)),
                ("ttl", duration(t.get("ttl"))),
                ("exp", f"{clock(exp) if exp is not None else '-'}"
                        + (f" ({duration(left)} left at the request)"
                           if left is not None and left >= 0 else "")),
                ("scope", ", ".join(str(s) for s in t.get("scope") or ()) or "-"),
                ("act", " <- ".join(str(a) for a in t.get("actors") or ())),
                ("cnf", "sender-constrained" if t.get("sender_constrained") else "bearer"),
                ("task", t.get("task")),
            ]
            for key, value in (t.get("claims") or {}).items():
                rows.append((str(key), value))
        elif spiffe:
            rows.append(("sub", spiffe))
        return _grid(rows)

    def _chain(self, d: Mapping[str, Any], decision: Mapping[str, Any]) -> Table:
        chain = decision.get("chain") or {}
        actors = chain.get("actors") or d.get("chain") or ()
        return _grid([
            ("origin first", chain_text(list(actors)) or " ".join(actors)),
            ("restricted by", decision.get("hop")),
        ])

    def _rule_row(self, rule_id: str, style: str = "") -> Text:
        info = self.rules.get(rule_id)
        text = Text(rule_id, style=style or "bold")
        if info is not None:
            text.append(f"  {info.envelope}/{info.effect}", style="dim")
            if info.description:
                text.append(f"  {info.description}")
        return text

    def _rules(self, decision: Mapping[str, Any]) -> Table:
        rows: list[tuple[str, Any]] = []
        rule = decision.get("rule")
        rows.append(("deciding rule", self._rule_row(rule) if rule else Text(
            _NO_RULE.get(str(decision.get("reason")), "none"))))
        for i, matched in enumerate(decision.get("matched") or ()):
            rows.append(("matched" if i == 0 else "", self._rule_row(matched, "default")))
        for i, shadow in enumerate(decision.get("shadow") or ()):
            text = self._rule_row(str(shadow.get("rule")), "yellow")
            text.append(f"  would {str(shadow.get('effect')).replace('_', ' ')}", style="yellow")
            rows.append(("shadow" if i == 0 else "", text))
        if self.rules.problem:
            rows.append(("policy", Text(self.rules.problem, style="dim")))
        return _grid(rows)

    @staticmethod
    def _failed(failed: Iterable[Mapping[str, Any]]) -> Table:
        table = Table(box=None, padding=(0, 2), show_edge=False, header_style="dim")
        table.add_column("rule", style="bold", no_wrap=True)
        table.add_column("condition not met", overflow="fold")
        table.add_column("actual", overflow="fold")
        for f in failed:
            actual = f.get("actual")
            table.add_row(str(f.get("rule")), str(f.get("condition")),
                          f"{f.get('path')} = {'absent' if actual is None else repr(actual)}")
        return table

    @staticmethod
    def _sequences(decision: Mapping[str, Any]) -> Table:
        rows: list[tuple[str, Any]] = []
        for s in decision.get("sequences") or ():
            steps = "; ".join(f"{clock(float(st.get('time', 0)))} {st.get('tool')}"
                              for st in s.get("steps") or ())
            kind = "shadow " if s.get("shadow") else ""
            rows.append((f"{kind}{s.get('sequence')}",
                         Text(f"{s.get('effect')}: earlier steps {steps}",
                              style="yellow" if s.get("shadow") else "red")))
        return _grid(rows)

    def _owner_name(self, owner_id: Any) -> str:
        if owner_id is None:
            return "NONE (fails the readiness gate)"
        if self.scenario is not None:
            try:
                owner = self.scenario.owner(str(owner_id))
            except KeyError:
                return str(owner_id)
            title = f", {owner.title}" if owner.title else ""
            return f"{owner.id} ({owner.name}{title})"
        return str(owner_id)

    def _owners(self, decision: Mapping[str, Any]) -> Table:
        owners = self.agent.get("owners") or {}
        rows: list[tuple[str, Any]] = [
            ("accountable", Text(self._owner_name(decision.get("owner"))
                                 if decision.get("owner") else "unassigned", style="bold")),
            ("envelope", decision.get("envelope")),
        ]
        if isinstance(owners, Mapping):
            for role in ("business", "security", "incident"):
                rows.append((f"{role} owner", self._owner_name(owners.get(role))))
        return _grid(rows)

    def _frameworks(self, decision: Mapping[str, Any]) -> Table:
        rows: list[tuple[str, Any]] = []
        seen: set[str] = set()
        ids = [decision.get("rule"), *(decision.get("matched") or ()),
               *(s.get("sequence") for s in decision.get("sequences") or ())]
        for rule_id in ids:
            info = self.rules.get(rule_id)
            if info is not None and info.frameworks and info.id not in seen:
                seen.add(info.id)
                rows.append((f"rule {info.id}", ", ".join(info.frameworks)))
        if self.incident is not None:
            frameworks = self.incident.data.get("frameworks") or ()
            rows.append((f"incident {self.incident.data.get('id')}",
                         ", ".join(frameworks) or "-"))
        if self.scenario is not None and self.scenario.frameworks:
            rows.append(("scenario", ", ".join(self.scenario.frameworks)))
        if not rows:
            rows.append(("", "none recorded"))
        return _grid(rows)


class DecisionDetailScreen(ModalScreen[None]):
    """One decision in full (see :class:`DecisionView` for the arguments)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "close", "Close"),
    ]

    DEFAULT_CSS = """
    DecisionDetailScreen {
        align: center middle;
        & > VerticalScroll {
            width: 100;
            max-width: 100%;
            height: 90%;
            border: thick $accent;
            background: $surface;
            padding: 0 1;
        }
    }
    """

    def __init__(self, event: Event, *, token: Event | None = None,
                 incident: Event | None = None, agent: Mapping[str, Any] | None = None,
                 rules: RuleCatalogue | None = None, scenario: Scenario | None = None,
                 kept: int | None = None) -> None:
        super().__init__()
        self.view = DecisionView(event, token=token, incident=incident, agent=agent,
                                 rules=rules, scenario=scenario, kept=kept)
        self.event = event

    def compose(self) -> ComposeResult:
        """The sections, scrollable."""
        box = VerticalScroll(id="detail")
        box.border_title = f"decision #{self.event.seq} at {clock(self.event.time)}"
        with box:
            yield Static(self.render_detail(), id="detail-body")
        yield Footer()

    def render_detail(self) -> Group:
        """All sections as one renderable."""
        return self.view.render_detail()

    def action_close(self) -> None:
        """Back to the run."""
        self.dismiss(None)
