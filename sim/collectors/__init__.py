"""Folds over the event stream: every figure agentrange shows is computed here, once.

A collector is a sink (:data:`sim.events.Sink`): call it with each event, live or read back
from a file or an audit log, and read its figures at any time. :class:`MetricsCollector`
builds the run result (the ``--format json`` shape), the dashboard's metrics and blast panels
and the report's incident figures; the same events give the same figures wherever they are
folded.
"""
