"""Workload identity: SPIFFE IDs, keys, scopes, JWT-SVIDs, the broker that mints them, the verifier.

One job per module:

- :mod:`engine.identity.spiffe`: the SPIFFE ID grammar (imports nothing but engine.errors).
- :mod:`engine.identity.keys`: seeded EC keys, RFC 7638 thumbprints, JWKs, the signing key file.
- :mod:`engine.identity.scope`: :class:`~engine.identity.scope.Scope`, what a token allows.
- :mod:`engine.identity.jws`: compact JWS encoding and the ECDSA algorithms.
- :mod:`engine.identity.tokens`: reasons, issued tokens, verifications, the issuance ledger.
- :mod:`engine.identity.trust`: trust bundles, the trust store, the revocation list.
- :mod:`engine.identity.broker`: :class:`~engine.identity.broker.CredentialBroker`.
- :mod:`engine.identity.verifier`: :class:`~engine.identity.verifier.TokenVerifier`.
- :mod:`engine.identity.errors`: the package's errors.

The pieces of one run share a :class:`~engine.identity.trust.TrustStore` and a
:class:`~engine.identity.trust.RevocationList`; time is always passed in (Unix seconds), as
the simulator owns the clock. This package re-exports nothing, so that importing the SPIFFE
grammar (as the scenario model does) does not load the cryptography behind tokens.
"""
