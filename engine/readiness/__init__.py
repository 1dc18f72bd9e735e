"""The readiness gate: lint a scenario's agents, profiles and compiled policies into findings.

Pure analysis: a loaded scenario plus its compiled policies in, plain :class:`Finding` data
out; rendering findings (table, JSON, SARIF) is the face's job (``tui/render/findings.py``).
One job per module, imported from where it lives:

- :mod:`.subject`: what is analysed (:class:`Subject`, :func:`load_subject`).
- :mod:`.findings`: :class:`Finding`, severities, :class:`Check` and :func:`fails`.
- :mod:`.registry`: every check by id (:data:`REGISTRY`) and :func:`run_checks`.
- :mod:`.candidates`: finite candidate values complete for what conditions compare.
- :mod:`.analysis`: the scenario's call space, rule witnesses and reachable effects.
- :mod:`.checks_identity`, :mod:`.checks_policy`, :mod:`.checks_rules`: the checks by family.

The policy checks analyse the compiled rules over the scenario's finite space of calls (every
agent x tool x resource it could touch) and, for the attributes a request carries at run
time, over a finite set of candidate values that is complete for the comparisons the
conditions make (every threshold, the points between and beyond them, every operand,
absent); so "never matches" and "always overridden" are proofs over that space, not guesses
from rule text. Every run-time attribute is taken as possibly absent and independent of the
others, which can only make the analysis report less (a rule that matches only when, say,
``task.approved`` is absent is not reported as dead), never report a rule that can in fact
match.
"""
