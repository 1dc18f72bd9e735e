"""Deployment environments of a scenario (test, production, ...) and the identities they give.

A scenario may declare environments, each with its own SPIFFE trust domain; agents, tools and
resources say which one they live in. A profile says whether the environments are
``isolated`` (each trust domain has its own broker, signing key and trust bundle, and a
verifier guarding an environment's tools trusts only that environment's bundle) or
``shared`` (every agent lives in the scenario's one trust domain, as without environments).
Which identity an agent has therefore depends on the profile:
:meth:`engine.model.Scenario.identity_of`.
See docs/scenario-format.md (environments) and docs/identity.md (OWASP NHI8:2025).
"""

from __future__ import annotations

from typing import Literal

from engine.fields import Base, Id, TrustDomain

Isolation = Literal["shared", "isolated"]


class Environment(Base):
    """A deployment environment with its own SPIFFE trust domain."""

    id: Id
    trust_domain: TrustDomain
    description: str = ""
