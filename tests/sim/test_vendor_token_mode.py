"""A compromised vendor's tokens carry the profile's credential mode (issue 18, bug 7).

Under a static profile the dashboard showed the forged vendor tokens as "jit" with a 90-day
TTL: the simulator minted them as JIT whatever the profile. The data was wrong, not the label.
"""

from __future__ import annotations

import copy

import pytest

from tests.sim.support import base, kinds, run

READS = {"policy": "p", "legal_owner": "own", "rules": [
    {"id": "reads", "envelope": "security", "effect": "allow", "target": {"actions": ["read"]}}]}


@pytest.mark.parametrize("profile", ["static", "jit"])
def test_a_compromised_vendors_tokens_have_the_profiles_credential_mode(profile: str) -> None:
    data = copy.deepcopy(base())
    data["vendors"] = [{"id": "acme", "name": "Acme", "trust_domain": "acme.vendor"}]
    data["agents"].append({
        "name": "vbot", "kind": "vendor_hosted", "vendor": "acme", "roles": ["reader"],
        "tasks": [{"id": "sync", "arrival": {"kind": "fixed", "interval": "20m"},
                   "steps": [{"tool": "wiki.read", "records": 3}]}]})
    data["incidents"] = [{"id": "inc", "kind": "vendor_compromise", "at": "30m",
                          "agent": "vbot", "repeat_every": "2m",
                          "plan": [{"tool": "wiki.read", "records": 3}]}]
    _, events = run(data, profile, READS)
    forged = [e for e in kinds(events, "token_issued") if e.data["incident"] == "inc"]
    assert forged
    assert {e.data["mode"] for e in forged} == {profile}
