"""Every identity test also holds the verifier's fast paths to its full checks.

``TokenVerifier.verify`` and ``verify_attributes`` accept a cached token in one inline
expression and leave everything else to ``_verify`` (the checks one by one). Here each
``verify`` a test makes is answered as before and then asked again of ``verify_attributes``
and of ``_verify``: all three must agree, reason and detail included, and the attributes must
be the outcome's ``attributes(now)``. A fast path that accepts what the checks refuse fails
whichever test reaches that state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.identity.tokens import Verification
from engine.identity.verifier import TokenVerifier

_verify = TokenVerifier.verify


def _verify_and_agree(self: TokenVerifier, token: str, *, now: float, tool: str | None = None,
                      data_class: str | None = None,
                      presenter_thumbprint: str | None = None) -> Verification:
    result = _verify(self, token, now=now, tool=tool, data_class=data_class,
                     presenter_thumbprint=presenter_thumbprint)
    fused, attrs = self.verify_attributes(token, now, tool, data_class, presenter_thumbprint)
    full = self._verify(token, now, tool, data_class, presenter_thumbprint)
    assert fused == result, (fused, result)
    assert full == result, (full, result)
    expected: dict[str, Any] = result.attributes(now)
    assert attrs == expected and list(attrs) == list(expected)
    return result


@pytest.fixture(autouse=True)
def _fast_paths_agree(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(TokenVerifier, "verify", _verify_and_agree)
    yield
