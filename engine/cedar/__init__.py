"""Cedar as a second policy language: export, import checks and a Cedar-backed decider.

Rooms: :mod:`~engine.cedar.schema` (the Cedar data model of a scenario: entity types, the
request context, value encoding), :mod:`~engine.cedar.entities` (the scenario's entities),
:mod:`~engine.cedar.export` (a policy document becomes Cedar policies, or is refused),
:mod:`~engine.cedar.policyset` (Cedar text read into policies with their annotations),
:mod:`~engine.cedar.check` (a hand-written policy set checked against a scenario),
:mod:`~engine.cedar.state` (counters and sequences, which Cedar cannot keep),
:mod:`~engine.cedar.engine` (the decider) and :mod:`~engine.cedar.profile` (a profile run
through Cedar). The mapping is documented in ``docs/cedar.md``.

cedarpy is an optional dependency (``pip install 'agentrange[cedar]'``), imported only inside
this package and only when Cedar is actually used (:func:`~engine.cedar.runtime.cedarpy`),
so importing this package costs nothing without it. The rest of the engine never imports
this package (an import-linter contract).
"""

from engine.cedar.errors import CedarError, CedarMissingError, ExportRefusedError

__all__ = ["CedarError", "CedarMissingError", "ExportRefusedError"]
