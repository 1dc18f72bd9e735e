"""A request is frozen data however it is built: Request(...), make_request(...), a copy."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from types import MappingProxyType

import pytest

from engine.policy.request import EMPTY, Request, make_request

PRINCIPAL = MappingProxyType({"id": "support-bot", "roles": ("support",)})
TOOL = MappingProxyType({"id": "crm.read", "action": "read"})
TOKEN = {"valid": True, "jti": "t-1"}


def full(build: object) -> Request:
    assert callable(build)
    request = build(PRINCIPAL, "read", TOOL, TOKEN, None, {"records": 3}, {"id": "answer"},
                    {"id": "run-1"}, EMPTY, {"now": 60.0}, 7, None)
    assert isinstance(request, Request)
    return request


@pytest.mark.parametrize("build", [Request, make_request], ids=["Request", "make_request"])
def test_a_request_holds_every_field_it_was_given_and_is_a_request(build: object) -> None:
    request = full(build)
    assert type(request) is Request
    assert (request.principal, request.action, request.tool, request.token) == (
        PRINCIPAL, "read", TOOL, TOKEN)
    assert (request.resource, request.request, request.task, request.session) == (
        None, {"records": 3}, {"id": "answer"}, {"id": "run-1"})
    assert (request.chain, request.time, request.ref, request.hops) == (
        EMPTY, {"now": 60.0}, 7, None)


@pytest.mark.parametrize("build", [Request, make_request], ids=["Request", "make_request"])
def test_a_request_cannot_be_changed(build: object) -> None:
    request = full(build)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.action = "write"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del request.ref
    # A name that is no field: the frozen dataclass's __setattr__ refuses it too (with a
    # TypeError on Python 3.11, where its super() call names the class before slots).
    with pytest.raises((AttributeError, TypeError)):
        request.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(request, "extra")


def test_both_builders_make_equal_requests_and_defaults_match() -> None:
    assert full(Request) == full(make_request)
    short = Request(PRINCIPAL, "read", TOOL, TOKEN)
    assert short == make_request(PRINCIPAL, "read", TOOL, TOKEN)
    assert (short.resource, short.request, short.ref, short.hops) == (None, EMPTY, None, None)
    assert Request(principal=PRINCIPAL, action="read", tool=TOOL, token=TOKEN, ref=2).ref == 2
    with pytest.raises(TypeError):
        Request(PRINCIPAL, "read", TOOL)  # type: ignore[call-arg]


def test_copies_replacements_and_pickles_are_requests_with_the_same_fields() -> None:
    plain = Request({"id": "a"}, "read", {"id": "t"}, {"valid": True}, ref=3)
    for twin in (copy.copy(plain), copy.deepcopy(plain), pickle.loads(pickle.dumps(plain))):
        assert type(twin) is Request and twin == plain
    changed = dataclasses.replace(plain, action="write")
    assert type(changed) is Request and changed.action == "write" and changed.ref == 3
