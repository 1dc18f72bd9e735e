"""Tamper-evident decision log: hash-chained JSON Lines with signed checkpoints.

The file format, its canonical encoding and why it is signed as it is are described in
docs/audit-log.md. One module per job; nothing is re-exported here, so import a name from
the module that holds it:

* :mod:`engine.audit.writer`: ``AuditWriter``, which writes a log;
* :mod:`engine.audit.identity`: the run's identity in the header (nonce, planned end, digests);
* :mod:`engine.audit.verifier`: ``verify_log``, the chain walk and the signature checks;
* :mod:`engine.audit.diagnosis`: what was inserted, removed or reordered where a chain breaks;
* :mod:`engine.audit.checkpoint_diagnosis`: where a genuine checkpoint and the chain disagree;
* :mod:`engine.audit.verdict`: the verifier's answer (proven, unverified, first ``Problem``);
* :mod:`engine.audit.trust`: which key a verifier trusts, and whether it pins the signer;
* :mod:`engine.audit.anchor`: a log's head, kept elsewhere to hold the log to it;
* :mod:`engine.audit.query`: ``iter_records``, which reads records back with filters;
* :mod:`engine.audit.lines`: ``JsonLines`` and ``parse_json``, the bounded reading every
  reader shares (line length and nesting depth capped);
* :mod:`engine.audit.canonical`: the canonical JSON encoding that is hashed and signed;
* :mod:`engine.audit.chain`: the format's constants and the chained line, built and parsed;
* :mod:`engine.audit.signing`: signing keys, their JWK and key id, PEM key files;
* :mod:`engine.audit.errors`: ``AuditError`` and ``AuditFileError``.
"""
