"""The one place cedarpy is imported, with a one-line error naming the extra when it is missing."""

from __future__ import annotations

from types import ModuleType

from engine.cedar.errors import CedarMissingError


def cedarpy() -> ModuleType:
    """The cedarpy module.

    Raises:
        CedarMissingError: when cedarpy is not installed (``pip install 'agentrange[cedar]'``).
    """
    try:
        import cedarpy as module
    except ImportError:
        raise CedarMissingError() from None
    return module
