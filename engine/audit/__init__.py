r"""Tamper-evident decision log: hash-chained JSON Lines, signed checkpoints, verifier and query.

File format (one JSON object per line, UTF-8, each line ends with a newline):

* **Line 1, the header**: ``{"hash":…, "header":{…}, "prev":GENESIS, "seq":0}`` where the header
  object holds ``format`` (``"agentrange-audit"``), ``version`` (1), ``run`` (run id),
  ``created`` (simulated time), ``alg`` (``"Ed25519"``), ``kid``, ``jwk`` (the public key, so a
  verifier without ``--key`` can still check integrity), ``checkpoint_every`` and an optional
  ``meta`` object. The header is link 0 of the hash chain.
* **Record lines**: the caller's record plus ``seq`` (1-based: the first record is seq 1, so
  after record N exactly N records exist), ``prev`` (the previous link's ``hash``; the header's
  ``prev`` is :data:`GENESIS`) and ``hash``.
* **Checkpoint lines**: ``{"checkpoint":{"count","final","hash","kid","run","seq"},"sig":…}``,
  written after every ``checkpoint_every``-th record and once more (``final: true``) at close.
  ``sig`` is the unpadded base64url Ed25519 signature over the canonical encoding of the
  ``checkpoint`` object; it covers the seq and hash of the last record, hence the whole chain.

``hash`` is the SHA-256 hex digest of the canonical encoding (below) of the line without its
``hash`` member. The writer emits exactly that encoding with ``,"hash":"<hex>"}`` spliced over
its closing brace, so the digest is also ``sha256(line[: line.rindex(',"hash":"')] + "}")`` -- a
verifier in any language can check it without re-encoding.

Canonical encoding (format version 1; :func:`canonical_bytes`). It is byte for byte what
``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False).encode("utf-8")`` writes for JSON data, with one rule stricter:

* **Objects**: ``{`` members ``}`` without whitespace, ``"key":value`` joined by ``,``; members
  sorted by key in code point order (which is also UTF-8 byte order). Keys must be strings.
* **Arrays**: ``[`` values joined by ``,`` ``]``.
* **Strings**: UTF-8. ``"`` and ``\`` are escaped with a backslash; U+0008, U+0009, U+000A,
  U+000C and U+000D as ``\b \t \n \f \r``; the other characters below U+0020 as
  ``\u00xx`` (lowercase hex); every other character, U+007F, U+2028 and U+2029 included, as
  itself. A lone surrogate cannot be UTF-8: refused.
* **Integers**: decimal, ``-`` for negatives, any size (up to Python's 4,300-digit limit).
  ``true`` and ``false`` are booleans, never 1 and 0; ``null`` is None.
* **Floats**: Python's ``repr``: the shortest digits that round-trip. For 1e-4 <= abs(x) < 1e16
  positional with at least one digit after the point (``0.0001``, ``2.5``, ``1e15`` as
  ``1000000000000000.0``); otherwise a mantissa and an exponent of at least two digits with its
  sign (``1e-05``, ``2.5e-07``, ``1e+16``, ``5e-324``). ``-0.0`` keeps its sign. NaN and the
  infinities are refused.
* **Python values accepted**: dict (str keys), list, tuple, str, int, float (subclasses of these
  encode as their base value; an ``IntEnum`` as its number, a ``StrEnum`` as its string), bool
  and None. Anything else (sets, bytes, datetimes, plain enums, UUIDs, cycles) is refused.

orjson is a fast path, not the definition: it is used only for values built from exactly those
types whose floats lie where orjson writes them as ``repr`` does (see :func:`_orjson_safe`);
anything else (tiny or huge floats, big integers, subclasses, surrogates, deep nesting) takes
the standard library's encoder. Both produce the bytes above, which the tests check; version 1
logs written before orjson was adopted are the same bytes, so the format version stays 1. The
verifier hashes a record's raw bytes and re-encodes only the header, checkpoints and lines it
must classify, with the same function.

Why Ed25519 rather than ECDSA P-256: its signatures are deterministic, so a run with the same
seed and the same records produces a byte-identical log (the project's determinism rule); it
signs and verifies faster, and has no parameter choices to get wrong. (JWT-SVID's RS/ES/PS
restriction applies to tokens, not to this log.)

Trust: the header carries the public key, so verifying **without** a pinned key proves only
that the log is internally consistent -- a forger who rewrites it can re-sign it with a key of
their own. Verifying **with** ``public_key`` (``audit verify --key``) pins the signer.
"""
