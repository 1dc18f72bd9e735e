"""OpenTelemetry GenAI traces: a run exported as OTLP/JSON, recorded traces judged under a policy.

:mod:`sim.otlp.wire` (the OTLP/JSON form), :mod:`sim.otlp.export` (the fold over the event
stream), :mod:`sim.otlp.http` (OTLP/HTTP), :mod:`sim.otlp.traces` (bounded reading of
recorded traces), :mod:`sim.otlp.judge` (matching them to a scenario, re-deciding, blast
radius). The mapping is described in docs/otlp.md.
"""
