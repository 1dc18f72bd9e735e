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

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import IO, Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine.errors import AgentrangeError

FORMAT = "agentrange-audit"
VERSION = 1
ALGORITHM = "Ed25519"
GENESIS = "0" * 64
"""The ``prev`` of the header line, the first link of every chain."""
DEFAULT_CHECKPOINT_EVERY = 1000
RESERVED_FIELDS = frozenset({"seq", "prev", "hash", "header", "checkpoint"})
"""Top-level names the log adds or uses to tell lines apart; a caller's record may not use them."""

_HASH_MARK = b',"hash":"'
# Every chained line ends with ',"hash":"' + 64 hex digits + '"}\n'.
_TAIL_LEN = len(_HASH_MARK) + 64 + 3
_MARK_AT = slice(-_TAIL_LEN, -67)
_DIGEST_AT = slice(-67, -3)
_CHECKPOINT_START = b'{"checkpoint":'
_HEX64 = re.compile(rb"[0-9a-f]{64}")
_B64_SIG = re.compile(r"[A-Za-z0-9_-]{86}")
_KEY_CONTEXT = b"agentrange/audit-signing-key/v1\x00"


class AuditError(AgentrangeError):
    """The audit log was used wrongly (a record it cannot log, an append after close)."""


class AuditFileError(AuditError):
    """A log or key file cannot be used; names the file and why.

    Attributes:
        path: The file concerned.
        reason: What is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# --------------------------------------------------------------------------- canonical JSON


def _not_json(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON-compatible")


# Built once: json.dumps builds a fresh C encoder (with a circular-reference map) on every call,
# which costs ~20% of the append path. Without the map a cyclic record ends in RecursionError,
# which the callers turn into a clear message.
_C_ENCODER = (
    c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", True, False, False)
    if c_make_encoder is not None
    else None
)
_PY_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_SCALARS = frozenset({str, int, bool, type(None)})
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS


def _string_keys(value: object) -> None:
    """Refuse a non-string key anywhere (the stdlib encoder would write ``1`` as ``"1"``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            _string_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _string_keys(item)


def _reference_bytes(value: object) -> bytes:
    """The canonical encoding by the standard library: the definition, for any accepted value."""
    _string_keys(value)
    if _C_ENCODER is not None:
        text = "".join(_C_ENCODER(value, 0))
    else:  # pragma: no cover - CPython ships the C encoder
        text = _PY_ENCODER.encode(value)
    return text.encode("utf-8")


def _orjson_safe(value: object) -> bool:
    """Whether orjson writes ``value`` exactly as the canonical form does.

    True when the value is built from dicts, lists, tuples, str, int, bool and None of exactly
    those types and floats with 1e-4 <= abs(x) < 1e16 or 0.0: there orjson and ``repr`` both write
    the shortest round-trip digits positionally. Outside that range orjson writes ``1e-7``
    where ``repr`` writes ``1e-07``, and it writes NaN and infinities as ``null`` instead of
    refusing them; it would also accept plain enums and UUIDs. Integers beyond 64 bits, non-string
    keys and lone surrogates make orjson raise, which sends the value to the reference encoder.
    """
    kind = type(value)
    if kind is dict:
        items: Any = value.values()  # type: ignore[attr-defined]
    elif kind is list or kind is tuple:
        items = value
    elif kind is float:
        return 1e-4 <= abs(value) < 1e16 or value == 0.0  # type: ignore[arg-type]
    else:
        return kind in _SCALARS
    scalars = _SCALARS
    for item in items:
        kind = type(item)
        if kind in scalars:
            continue
        if kind is float:
            if not (1e-4 <= abs(item) < 1e16 or item == 0.0):
                return False
        elif kind is dict or kind is list or kind is tuple:
            if not _orjson_safe(item):
                return False
        else:
            return False
    return True


def canonical_bytes(value: object) -> bytes:
    """Encode a JSON-compatible value in the log's canonical form (see the module docstring).

    The writer hashes and signs these bytes and the verifier re-encodes with this function, so
    the two cannot disagree. A pure function: equal JSON values give equal bytes (dict order,
    list or tuple, and which encoder ran make no difference).

    Raises:
        AuditError: when the value is not JSON-compatible (NaN, infinity, a non-string key, a
            lone surrogate, a set, a cycle, ...).
    """
    try:
        if _orjson_safe(value):
            try:
                return orjson.dumps(value, option=_ORJSON_OPTIONS)
            except TypeError:
                pass  # big integer, lone surrogate, nesting deeper than orjson's 254 levels
        return _reference_bytes(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise AuditError(f"not JSON-compatible: {exc}") from None


def canonical_json(value: object) -> str:
    """The canonical encoding (:func:`canonical_bytes`) as text.

    Raises:
        AuditError: when the value is not JSON-compatible (or is cyclic).
    """
    return canonical_bytes(value).decode("utf-8")


def _chained_line(body: Mapping[str, Any]) -> tuple[bytes, str]:
    """Return the line (with newline) and the hash for a body that has seq and prev."""
    data = canonical_bytes(body)
    digest = hashlib.sha256(data).hexdigest()
    return data[:-1] + _HASH_MARK + digest.encode() + b'"}\n', digest


# --------------------------------------------------------------------------- keys


def derive_signing_key(seed: int | str) -> Ed25519PrivateKey:
    """Derive a run's audit signing key from its seed, so the same seed signs the same way.

    A seed-derived key is only as secret as the seed: fine for a reproducible simulation, not
    for protecting a real log (use ``Ed25519PrivateKey.generate()`` and :func:`save_private_key`
    there).

    Args:
        seed: The run's seed.
    """
    material = hashlib.sha256(_KEY_CONTEXT + str(seed).encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(material)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK (RFC 8037 ``OKP``/``Ed25519``)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}


def key_id(key: Ed25519PublicKey) -> str:
    """The key's id: its RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    return _b64url(hashlib.sha256(canonical_bytes(public_jwk(key))).digest())


def _public_key_from_jwk(jwk: object) -> Ed25519PublicKey | None:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return None
    x = jwk.get("x")
    if not isinstance(x, str):
        return None
    try:
        raw = _b64url_decode(x)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        return None
    return key if public_jwk(key)["x"] == x else None


def save_private_key(key: Ed25519PrivateKey, path: str | os.PathLike[str]) -> None:
    """Write a private key as unencrypted PKCS#8 PEM, readable by its owner only (mode 0600).

    Raises:
        AuditFileError: when the file cannot be written.
    """
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            # O_CREAT's mode is ignored for a file that already exists: tighten it before
            # the secret goes in.
            os.fchmod(fd, 0o600)
            out.write(pem)
    except OSError as exc:
        raise AuditFileError(path, f"cannot write the private key: {exc.strerror}") from None


def save_public_key(key: Ed25519PublicKey, path: str | os.PathLike[str]) -> None:
    """Write a public key as PEM (SubjectPublicKeyInfo), the format ``audit verify --key`` reads.

    Raises:
        AuditFileError: when the file cannot be written.
    """
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        Path(path).write_bytes(pem)
    except OSError as exc:
        raise AuditFileError(path, f"cannot write the public key: {exc.strerror}") from None


def _read_key_file(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise AuditFileError(path, f"cannot read the {what}: {exc.strerror}") from None


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from PEM, refusing a file that group or others can access.

    Raises:
        AuditFileError: when the file is missing, too open, or not an Ed25519 private key.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise AuditFileError(path, f"cannot read the private key: {exc.strerror}") from None
    if os.name == "posix" and mode & 0o077:
        raise AuditFileError(
            path,
            f"private key file has permissions {stat.filemode(mode)[1:]}; group and others "
            f"must have no access (run: chmod 600 {os.fspath(path)})",
        )
    data = _read_key_file(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise AuditFileError(path, "not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditFileError(path, f"expected an Ed25519 private key, found {type(key).__name__}")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Load an Ed25519 public key from PEM (as written by :func:`save_public_key`).

    Raises:
        AuditFileError: when the file is missing or not an Ed25519 public key.
    """
    data = _read_key_file(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise AuditFileError(path, "not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditFileError(path, f"expected an Ed25519 public key, found {type(key).__name__}")
    return key


# --------------------------------------------------------------------------- writer


class AuditWriter:
    """Appends records to a new hash-chained, checkpoint-signed log file.

    Writes are buffered; the file is flushed and ``fsync``-ed after the header, at every
    checkpoint and at close, so a run killed midway leaves a log that verifies up to its last
    complete record. Use it as a context manager, or call :meth:`close`.

    Args:
        path: The log file to create.
        key: The run's signing key (see :func:`derive_signing_key`).
        run_id: The run this log belongs to; bound into every checkpoint signature.
        created: Simulated time at which the run starts.
        checkpoint_every: Records between signed checkpoints.
        meta: Optional JSON-compatible facts about the run for the header (scenario, seed, ...).
        overwrite: Replace an existing file instead of refusing to.
        buffer_size: Bytes buffered between writes to the OS.

    Raises:
        AuditFileError: when the file exists (and ``overwrite`` is false) or cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: Ed25519PrivateKey,
        *,
        run_id: str,
        created: float = 0.0,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        meta: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        buffer_size: int = 1 << 20,
    ) -> None:
        if isinstance(checkpoint_every, bool) or checkpoint_every < 1:
            raise AuditError(f"checkpoint_every must be a positive integer, not {checkpoint_every}")
        self.path = Path(path)
        self.run_id = run_id
        self.checkpoint_every = checkpoint_every
        self._key = key
        self.kid = key_id(key.public_key())
        header: dict[str, Any] = {
            "alg": ALGORITHM,
            "checkpoint_every": checkpoint_every,
            "created": created,
            "format": FORMAT,
            "jwk": public_jwk(key.public_key()),
            "kid": self.kid,
            "run": run_id,
            "version": VERSION,
        }
        if meta is not None:
            header["meta"] = dict(meta)
        line, self._prev = _chained_line({"header": header, "prev": GENESIS, "seq": 0})
        self._seq = 0
        try:
            self._file: IO[bytes] | None = open(
                self.path, "wb" if overwrite else "xb", buffering=buffer_size
            )
        except FileExistsError:
            raise AuditFileError(path, "already exists; refusing to overwrite a log") from None
        except OSError as exc:
            raise AuditFileError(path, f"cannot create the log: {exc.strerror}") from None
        self._write(self._file, line)
        self._sync()
        self._sync_directory()

    @property
    def seq(self) -> int:
        """Sequence number of the last record appended (0 before the first)."""
        return self._seq

    @property
    def last_hash(self) -> str:
        """Hash of the last line in the chain (the header's before the first record)."""
        return self._prev

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._file is None

    def append(self, record: Mapping[str, Any]) -> int:
        """Append one record and return its sequence number (1-based).

        Args:
            record: A JSON-compatible mapping; it may not use the names in
                :data:`RESERVED_FIELDS`. See :func:`iter_records` for the expected fields.

        Raises:
            AuditError: when the log is closed or the record cannot be logged.
        """
        out = self._file
        if out is None:
            raise AuditError(f"{self.path}: cannot append to a closed audit log")
        if not RESERVED_FIELDS.isdisjoint(record):
            clash = sorted(RESERVED_FIELDS.intersection(record))
            raise AuditError(f"record uses field name(s) reserved by the audit log: {clash}")
        seq = self._seq + 1
        try:
            data = canonical_bytes({**record, "seq": seq, "prev": self._prev})
        except AuditError as exc:
            raise AuditError(f"record {seq} is {exc}") from None
        digest = hashlib.sha256(data).hexdigest()
        self._write(out, data[:-1] + _HASH_MARK + digest.encode() + b'"}\n')
        self._seq = seq
        self._prev = digest
        if seq % self.checkpoint_every == 0:
            self._checkpoint(final=False)
        return seq

    def close(self) -> None:
        """Write the closing checkpoint, flush, fsync and close; a second call does nothing."""
        if self._file is None:
            return
        try:
            self._checkpoint(final=True)
        finally:
            file, self._file = self._file, None
            file.close()

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # The records written so far are what happened, even if the caller failed: seal them.
        self.close()

    def _checkpoint(self, *, final: bool) -> None:
        assert self._file is not None
        body = {
            "count": self._seq,
            "final": final,
            "hash": self._prev,
            "kid": self.kid,
            "run": self.run_id,
            "seq": self._seq,
        }
        message = canonical_bytes(body)
        sig = _b64url(self._key.sign(message)).encode()
        self._write(self._file, _CHECKPOINT_START + message + b',"sig":"' + sig + b'"}\n')
        self._sync()

    def _write(self, out: IO[bytes], line: bytes) -> None:
        try:
            out.write(line)
        except OSError as exc:
            raise AuditFileError(self.path, f"cannot write the log: {exc.strerror}") from None

    def _sync(self) -> None:
        assert self._file is not None
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise AuditFileError(self.path, f"cannot write the log: {exc.strerror}") from None

    def _sync_directory(self) -> None:
        # A new file's directory entry is only durable once its directory is synced.
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- verifier


class Problem(StrEnum):
    """What the verifier found wrong with a log (``ok`` when nothing)."""

    OK = "ok"
    EDITED = "edited"
    """A line's content does not match its hash, or a signed hash no longer matches the chain."""
    DELETED = "deleted"
    """A record or checkpoint is missing: a seq gap, or a record not linked to its predecessor."""
    REORDERED = "reordered"
    """Records (or a checkpoint) appear out of order."""
    INSERTED = "inserted"
    """A line that the writer did not write in that place (including after the close)."""
    DUPLICATED = "duplicated"
    """A line repeats an earlier (or later) one."""
    BAD_SIGNATURE = "bad_signature"
    """A checkpoint's signature does not verify."""
    WRONG_KEY = "wrong_key"
    """The log was signed with a key other than the pinned one."""
    TRUNCATED = "truncated"
    """The log ends early: a partial last line, or no closing checkpoint."""
    MALFORMED = "malformed"
    """A line is not JSON, not canonical, or lacks what the format requires."""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The verdict on one log file.

    Attributes:
        ok: True when the whole log verifies and ends with its closing checkpoint.
        records: Records verified intact and in order before the first problem (all of them
            when ``ok``); in a truncated log these are exactly the records 1..records.
        checkpoints: Valid checkpoints seen before the first problem.
        first_bad_line: 1-based line number of the first bad line; for a log that simply ends
            without its closing checkpoint, the line after the last one. None when ``ok``.
        first_bad_seq: Sequence number of the first bad record (for a deletion, the first
            missing one); None when ``ok`` or when the problem is not a record's.
        problem: The kind of problem.
        message: One human-readable sentence saying what is wrong and where.
        signed_through: Last seq covered by a valid signed checkpoint (None if none verified).
        key_pinned: Whether signatures were checked against a key the caller supplied.
        run: The run id from the header, when the header could be read.
    """

    ok: bool
    records: int
    checkpoints: int
    first_bad_line: int | None
    first_bad_seq: int | None
    problem: Problem
    message: str
    signed_through: int | None = None
    key_pinned: bool = False
    run: str | None = None


@dataclass(frozen=True, slots=True)
class _Line:
    """One parsed line, for the slow path and the look-around that classifies a problem."""

    number: int
    raw: bytes
    obj: dict[str, Any] | None
    consistent: bool  # a canonical chained line whose hash matches its content

    @property
    def seq(self) -> object:
        return None if self.obj is None else self.obj.get("seq")

    @property
    def is_checkpoint(self) -> bool:
        return self.obj is not None and "checkpoint" in self.obj


def _prev_of(obj: dict[str, Any] | None) -> bytes | None:
    prev = None if obj is None else obj.get("prev")
    return prev.encode() if isinstance(prev, str) else None


def _parse(number: int, raw: bytes) -> _Line:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return _Line(number, raw, None, False)
    if not isinstance(obj, dict):
        return _Line(number, raw, None, False)
    consistent = False
    digest = obj.get("hash")
    if isinstance(digest, str) and "checkpoint" not in obj:
        body = {k: v for k, v in obj.items() if k != "hash"}
        try:
            line, real = _chained_line(body)
        except AuditError:
            return _Line(number, raw, obj, False)
        consistent = real == digest and line == raw
    return _Line(number, raw, obj, consistent)


def verify_log(
    path: str | os.PathLike[str], public_key: Ed25519PublicKey | None = None
) -> VerifyReport:
    """Verify a log's hash chain and checkpoint signatures; find the first bad line.

    Never raises on a bad log: every defect becomes a :class:`VerifyReport` with ``ok`` false.
    A log without its closing checkpoint is a failure (``truncated``), but the report says how
    many records before the cut are intact.

    Args:
        path: The log file.
        public_key: The signer's key. When given, the header must name this key and every
            checkpoint must verify with it; when omitted, the header's own key is used, which
            proves integrity but not who signed (a forger could re-sign).

    Raises:
        AuditFileError: when the file cannot be opened or read.
    """
    try:
        with open(path, "rb") as handle:
            return _Verifier(Path(path), handle, public_key).run()
    except OSError as exc:
        raise AuditFileError(path, f"cannot read the log: {exc.strerror}") from None


class _Verifier:
    """One pass over a log: a fast path for well-formed lines, a careful path for the rest."""

    def __init__(self, path: Path, handle: IO[bytes], pinned: Ed25519PublicKey | None) -> None:
        self.path = path
        self.handle = handle
        self.pinned = pinned
        self.key: Ed25519PublicKey | None = pinned
        self.kid = ""
        self.run_id: str | None = None
        self.every = DEFAULT_CHECKPOINT_EVERY
        self.expect = 1  # next record seq
        self.prev = GENESIS.encode()  # hash of the last accepted chain link
        self.prev_line = 0  # line of the last accepted record
        self.due = False  # a checkpoint must come next
        self.closed = False
        self.checkpoints = 0
        self.signed_through: int | None = None
        self.last_checkpoint_raw = b""

    # -- main loop

    def run(self) -> VerifyReport:
        handle = self.handle
        first = handle.readline()
        if not first:
            return self._fail(Problem.TRUNCATED, 1, None, "the log is empty: it has no header")
        if first[-1:] != b"\n":
            return self._partial_line(1, first)
        bad = self._header(first)
        if bad is not None:
            return bad
        # The loop keeps the chain state in locals (this is the hot path) and hands it to the
        # careful path through self whenever a line needs more than the fast check.
        sha256 = hashlib.sha256
        mark, mark_at, digest_at = _HASH_MARK, _MARK_AT, _DIGEST_AT
        tail, checkpoint_start = _TAIL_LEN, _CHECKPOINT_START
        every = self.every
        prev, expect, prev_line, fast = self.prev, self.expect, 0, True
        number = 1
        for raw in handle:
            number += 1
            # Fast path: the line's bytes hash to its hash, and it has exactly one "prev" and
            # one "seq" member, holding the expected values. Exactly one means it is the
            # top-level member the writer put there; anything unusual takes the careful path.
            if fast and raw[mark_at] == mark and raw[-3:] == b'"}\n':
                body = raw[:-tail] + b"}"
                digest = sha256(body).hexdigest().encode()
                if digest == raw[digest_at]:
                    at = body.find(b'"prev":')
                    if (
                        body.startswith(b'"prev":"' + prev + b'"', at)
                        and body.rfind(b'"prev":') == at
                    ):
                        token = b'"seq":%d' % expect
                        at = body.rfind(b'"seq":')
                        if (
                            body.startswith(token, at)
                            and body[at + len(token)] in b",}"
                            and body.find(b'"seq":') == at
                            and not raw.startswith(checkpoint_start)
                        ):
                            prev, prev_line = digest, number
                            if expect % every == 0:
                                fast = False
                                self.due = True
                            expect += 1
                            continue
            self.prev, self.expect, self.prev_line = prev, expect, prev_line
            if raw[-1:] != b"\n":
                return self._partial_line(number, raw)
            line = _parse(number, raw)
            bad = self._checkpoint(line) if line.is_checkpoint else self._record(line)
            if bad is not None:
                return bad
            prev, expect, prev_line = self.prev, self.expect, self.prev_line
            fast = not (self.due or self.closed)
        self.prev, self.expect, self.prev_line = prev, expect, prev_line
        if not self.closed:
            return self._fail(
                Problem.TRUNCATED,
                number + 1,
                None,
                f"truncated after seq {self.expect - 1}: the log ends at line {number} without "
                f"its closing checkpoint{self._intact_suffix()}",
            )
        return VerifyReport(
            ok=True,
            records=self.expect - 1,
            checkpoints=self.checkpoints,
            first_bad_line=None,
            first_bad_seq=None,
            problem=Problem.OK,
            message=f"OK: {self.expect - 1} records, {self.checkpoints} checkpoints",
            signed_through=self.signed_through,
            key_pinned=self.pinned is not None,
            run=self.run_id,
        )

    # -- results

    def _intact_suffix(self) -> str:
        records = self.expect - 1
        if records == 0:
            return ""
        signed = self.signed_through or 0
        if signed >= records:
            return f"; records 1..{records} are intact and signed"
        if signed:
            return f"; records 1..{records} are intact (signed through seq {signed})"
        return f"; records 1..{records} are intact (none covered by a signed checkpoint yet)"

    def _fail(
        self,
        problem: Problem,
        line: int | None,
        seq: int | None,
        message: str,
        *,
        records: int | None = None,
    ) -> VerifyReport:
        return VerifyReport(
            ok=False,
            records=self.expect - 1 if records is None else records,
            checkpoints=self.checkpoints,
            first_bad_line=line,
            first_bad_seq=seq,
            problem=problem,
            message=message,
            signed_through=self.signed_through,
            key_pinned=self.pinned is not None,
            run=self.run_id,
        )

    def _partial_line(self, number: int, raw: bytes) -> VerifyReport:
        if number == 1:
            message = "the log ends inside its header line (line 1 has no newline)"
        else:
            message = (
                f"truncated after seq {self.expect - 1}: line {number} is incomplete "
                f"({len(raw)} bytes, no newline), as when a run is killed mid-write"
                f"{self._intact_suffix()}"
            )
        return self._fail(Problem.TRUNCATED, number, None, message)

    # -- header

    def _header(self, raw: bytes) -> VerifyReport | None:
        line = _parse(1, raw)
        obj = line.obj

        def malformed(why: str) -> VerifyReport:
            return self._fail(Problem.MALFORMED, 1, None, f"line 1 (header): {why}")

        if obj is None:
            return malformed("not a JSON object")
        header = obj.get("header")
        if not isinstance(header, dict):
            return malformed(f"not an {FORMAT} log header")
        if not line.consistent:
            return self._unhashed(line, 0)
        if header.get("format") != FORMAT:
            return malformed(f"not an {FORMAT} log header")
        if obj.get("seq") != 0 or obj.get("prev") != GENESIS:
            return malformed("the header must have seq 0 and the genesis prev")
        if header.get("version") != VERSION:
            return malformed(f"unsupported format version {header.get('version')!r}")
        if header.get("alg") != ALGORITHM:
            return malformed(f"unsupported signature algorithm {header.get('alg')!r}")
        key = _public_key_from_jwk(header.get("jwk"))
        if key is None:
            return malformed("jwk is not an Ed25519 public key")
        kid = header.get("kid")
        if kid != key_id(key):
            return malformed("kid is not the thumbprint of the header's key")
        every = header.get("checkpoint_every")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            return malformed("checkpoint_every must be a positive integer")
        run = header.get("run")
        if not isinstance(run, str):
            return malformed("run must be a string")
        self.run_id = run
        if self.pinned is not None and key_id(self.pinned) != kid:
            return self._fail(
                Problem.WRONG_KEY,
                1,
                None,
                f"the log was signed with key {kid}, not with the pinned key {key_id(self.pinned)}",
            )
        self.key = self.pinned or key
        self.kid = kid
        self.every = every
        self.prev = obj["hash"].encode()
        return None

    def _unhashed(self, line: _Line, seq: int | None) -> VerifyReport:
        """A parseable chained line that is not what its hash says: edited or re-encoded."""
        assert line.obj is not None
        body = {k: v for k, v in line.obj.items() if k != "hash"}
        try:
            _, real = _chained_line(body)
        except AuditError as exc:
            return self._fail(Problem.MALFORMED, line.number, seq, f"line {line.number}: {exc}")
        what = "header" if line.number == 1 else f"seq {seq}" if seq is not None else "record"
        if real != line.obj.get("hash"):
            return self._fail(
                Problem.EDITED,
                line.number,
                seq,
                f"line {line.number} ({what}) was edited: its content does not match its hash",
            )
        return self._fail(
            Problem.MALFORMED,
            line.number,
            seq,
            f"line {line.number} ({what}) is not in canonical form (re-encoded or altered)",
        )

    # -- records

    def _record(self, line: _Line) -> VerifyReport | None:
        obj = line.obj
        n = line.number
        if obj is None:
            return self._fail(
                Problem.MALFORMED, n, None, f"line {n} is not a JSON object (damaged or injected)"
            )
        seq = obj.get("seq")
        seq_or_none = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        if "hash" not in obj or not isinstance(obj.get("prev"), str) or seq_or_none is None:
            return self._fail(
                Problem.MALFORMED, n, None, f"line {n} is not an audit record (no seq/prev/hash)"
            )
        if not line.consistent:
            return self._unhashed(line, seq_or_none)
        assert seq_or_none is not None
        if "header" in obj:
            return self._extra(line, "a second header")
        if seq == self.expect and obj["prev"].encode() == self.prev:
            if self.closed:
                return self._fail(
                    Problem.INSERTED,
                    n,
                    seq,
                    f"line {n} (seq {seq}) comes after the closing checkpoint",
                )
            if self.due:
                return self._missing_checkpoint(n)
            self.prev = obj["hash"].encode()
            self.prev_line = n
            self.expect = seq + 1
            self.due = seq % self.every == 0
            return None
        return self._misplaced(line, seq_or_none)

    def _missing_checkpoint(self, n: int) -> VerifyReport:
        return self._fail(
            Problem.DELETED,
            n,
            None,
            f"the checkpoint after seq {self.expect - 1} is missing before line {n} "
            f"(deleted or moved){self._intact_suffix()}",
        )

    def _extra(self, line: _Line, what: str) -> VerifyReport:
        dup = self._find(lambda o: o.number != line.number, hint=line.raw)
        if dup is not None:
            return self._fail(
                Problem.DUPLICATED,
                line.number,
                None,
                f"line {line.number} repeats line {dup.number} ({what})",
            )
        return self._fail(
            Problem.INSERTED, line.number, None, f"line {line.number} holds {what} (inserted)"
        )

    def _misplaced(self, line: _Line, seq: int) -> VerifyReport:
        """Classify a self-consistent record that does not continue the chain."""
        n, e = line.number, self.expect
        obj = line.obj
        assert obj is not None
        if seq < e:
            earlier = self._find(
                lambda o: o.consistent and o.seq == seq and not o.is_checkpoint,
                before=n,
                hint=b'"seq":%d' % seq,
            )
            if earlier is not None and earlier.obj is not None:
                if earlier.obj["hash"] == obj["hash"]:
                    return self._fail(
                        Problem.DUPLICATED,
                        n,
                        seq,
                        f"line {n} repeats line {earlier.number} (seq {seq})",
                    )
                # Two records claim the same predecessor; the chain after them says which one
                # the writer wrote. If it continues from this line, the earlier one is the fake.
                if (
                    seq == e - 1
                    and earlier.number == self.prev_line
                    and earlier.obj.get("prev") == obj["prev"]
                    and self._continues(line)
                ):
                    return self._fail(
                        Problem.INSERTED,
                        earlier.number,
                        seq,
                        f"line {earlier.number} (seq {seq}) was inserted: line {n} carries the "
                        f"same seq and the chain continues from line {n}",
                        records=seq - 1,
                    )
                where = f" already used at line {earlier.number}"
            else:
                where = ""
            return self._fail(
                Problem.INSERTED,
                n,
                seq,
                f"line {n} (seq {seq}) was inserted: it reuses a sequence number{where}",
            )
        after = self._next_line(n)
        if (
            after is not None
            and after.consistent
            and not after.is_checkpoint
            and after.seq == e
            and _prev_of(after.obj) == self.prev
            and self._continues(after)
        ):
            # The chain goes on as if this line were not there: it is extra.
            same = self._find(
                lambda o: o.consistent and o.seq == seq,
                after=after.number,
                hint=b'"seq":%d' % seq,
            )
            if same is not None and same.raw == line.raw:
                return self._fail(
                    Problem.DUPLICATED,
                    n,
                    seq,
                    f"line {n} repeats line {same.number} (seq {seq}) ahead of its place",
                )
            if seq > e and same is None and self._linked_later(line):
                return self._fail(
                    Problem.REORDERED,
                    n,
                    seq,
                    f"line {n} holds seq {seq} ahead of its place (records reordered)",
                )
            return self._fail(
                Problem.INSERTED,
                n,
                seq,
                f"line {n} (seq {seq}) was inserted: the chain continues without it",
            )
        if seq == e:
            return self._fail(
                Problem.DELETED,
                n,
                seq,
                f"line {n} (seq {seq}) does not link to seq {e - 1} (its prev hash differs): "
                "a record was removed and the rest renumbered, or its neighbour was re-hashed",
            )
        later = self._find(
            lambda o: o.consistent and o.seq == e and not o.is_checkpoint,
            after=n,
            hint=b'"seq":%d' % e,
        )
        if later is not None:
            return self._fail(
                Problem.REORDERED,
                n,
                seq,
                f"line {n} holds seq {seq} but seq {e} comes later at line {later.number} "
                "(records reordered)",
            )
        missing = f"seq {e}" if seq == e + 1 else f"seq {e}..{seq - 1}"
        return self._fail(Problem.DELETED, n, e, f"{missing} missing before line {n} (deleted)")

    # -- checkpoints

    def _checkpoint(self, line: _Line) -> VerifyReport | None:
        n = line.number
        obj = line.obj
        assert obj is not None
        body = obj.get("checkpoint")
        sig = obj.get("sig")
        shape_ok = (
            set(obj) == {"checkpoint", "sig"}
            and isinstance(body, dict)
            and set(body) == {"count", "final", "hash", "kid", "run", "seq"}
            and isinstance(sig, str)
            and isinstance(body["seq"], int)
            and not isinstance(body["seq"], bool)
            and isinstance(body["final"], bool)
            and isinstance(body["hash"], str)
        )
        if not shape_ok:
            return self._fail(Problem.MALFORMED, n, None, f"line {n} is not a valid checkpoint")
        assert isinstance(body, dict) and isinstance(sig, str)
        try:
            canonical = canonical_bytes(obj) + b"\n"
        except AuditError:
            canonical = b""
        if canonical != line.raw:
            return self._fail(
                Problem.MALFORMED, n, None, f"line {n} (checkpoint) is not in canonical form"
            )
        assert self.key is not None
        whose = "the pinned key" if self.pinned is not None else "the header's key"
        try:
            if _B64_SIG.fullmatch(sig) is None or _b64url(_b64url_decode(sig)) != sig:
                raise InvalidSignature
            self.key.verify(_b64url_decode(sig), canonical_bytes(body))
        except (InvalidSignature, ValueError, binascii.Error):
            return self._fail(
                Problem.BAD_SIGNATURE,
                n,
                None,
                f"line {n}: the checkpoint signature (seq {body['seq']}) does not verify with "
                f"{whose}{self._intact_suffix()}",
            )
        if body["kid"] != self.kid or body["count"] != body["seq"]:
            return self._fail(
                Problem.MALFORMED, n, None, f"line {n}: checkpoint kid or count is inconsistent"
            )
        if body["run"] != self.run_id:
            return self._fail(
                Problem.INSERTED, n, None, f"line {n} is a checkpoint from run {body['run']!r}"
            )
        cp_seq: int = body["seq"]
        last = self.expect - 1
        if self.closed or line.raw == self.last_checkpoint_raw:
            return self._extra(line, f"a checkpoint for seq {cp_seq}")
        if cp_seq == last and body["hash"].encode() != self.prev:
            return self._fail(
                Problem.EDITED,
                n,
                None,
                f"line {n}: the signed checkpoint for seq {cp_seq} does not match the chain: "
                "records before it were altered and re-hashed",
            )
        if cp_seq > last:
            later = self._find(
                lambda o: o.consistent and o.seq == self.expect and not o.is_checkpoint,
                after=n,
                hint=b'"seq":%d' % self.expect,
            )
            if later is not None:
                return self._fail(
                    Problem.REORDERED,
                    n,
                    None,
                    f"line {n}: the checkpoint for seq {cp_seq} comes before seq {self.expect} "
                    f"(line {later.number})",
                )
            missing = f"seq {self.expect}"
            if cp_seq > self.expect:
                missing += f"..{cp_seq}"
            return self._fail(
                Problem.DELETED,
                n,
                self.expect,
                f"{missing} missing before the checkpoint at line {n} (deleted)",
            )
        if cp_seq < last:
            return self._extra(line, f"a checkpoint for seq {cp_seq} out of place")
        if not (self.due or body["final"]):
            return self._fail(
                Problem.MALFORMED,
                n,
                None,
                f"line {n}: checkpoint at seq {cp_seq} is off the interval of {self.every}",
            )
        self.checkpoints += 1
        self.signed_through = cp_seq
        self.due = False
        self.closed = body["final"]
        self.last_checkpoint_raw = line.raw
        return None

    # -- look-around (failure path only, so re-reading the file is fine)

    def _find(
        self,
        predicate: Callable[[_Line], bool],
        *,
        after: int = 1,
        before: int | None = None,
        hint: bytes = b"",
    ) -> _Line | None:
        """The first complete line in (after, before) containing ``hint`` that satisfies predicate.

        Only lines containing the hint are parsed, so a scan of a large log stays cheap.
        """
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                if raw[-1:] != b"\n" or (before is not None and number >= before):
                    return None
                if number > after and hint in raw:
                    line = _parse(number, raw)
                    if predicate(line):
                        return line
        return None

    def _next_line(self, number: int) -> _Line | None:
        return self._find(lambda o: True, after=number, before=number + 2)

    def _linked_later(self, line: _Line) -> bool:
        """Whether a later line links to ``line`` (a genuine record moved, not a forged one)."""
        assert line.obj is not None
        digest = line.obj["hash"]

        def links(other: _Line) -> bool:
            if other.is_checkpoint and other.obj is not None:
                cp = other.obj.get("checkpoint")
                return isinstance(cp, dict) and cp.get("hash") == digest
            return other.consistent and other.obj is not None and other.obj.get("prev") == digest

        return self._find(links, after=line.number, hint=digest.encode()) is not None

    def _continues(self, line: _Line) -> bool:
        """Whether the line after ``line`` links to it (or the file ends there)."""
        assert line.obj is not None
        after = self._next_line(line.number)
        if after is None:
            return True
        if after.obj is None:
            return False
        if after.is_checkpoint:
            cp = after.obj.get("checkpoint")
            return (
                isinstance(cp, dict)
                and cp.get("seq") == line.obj.get("seq")
                and cp.get("hash") == line.obj.get("hash")
            )
        return after.consistent and after.obj.get("prev") == line.obj.get("hash")


# --------------------------------------------------------------------------- query


def _names(actor: object) -> set[str]:
    """Every name an actor answers to: its SPIFFE ID (or id) and the ID's last path segment."""
    values: list[object]
    if isinstance(actor, dict):
        values = [actor.get(k) for k in ("spiffe_id", "id", "name", "agent", "sub")]
    else:
        values = [actor]
    names: set[str] = set()
    for value in values:
        if isinstance(value, str) and value:
            names.add(value)
            if "://" in value:
                names.add(value.rstrip("/").rsplit("/", 1)[-1])
    return names


def _rule_ids(decision: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    items = [decision.get("rule")]
    matched = decision.get("matched")
    if isinstance(matched, list):
        items.extend(matched)
    for item in items:
        if isinstance(item, str):
            ids.add(item)
        elif isinstance(item, dict):
            ids.update(v for k in ("rule", "id", "name") if isinstance(v := item.get(k), str))
    return ids


def _chain_actors(record: dict[str, Any], decision: dict[str, Any]) -> list[object]:
    """The delegation chain as a list: the record's ``chain``, else the decision's.

    Either may be a list of actors or a ``{"origin", "actors"}`` object (``Decision.to_dict``).
    """
    chain = record.get("chain", decision.get("chain"))
    if isinstance(chain, dict):
        actors = chain.get("actors")
        return [chain.get("origin"), *(actors if isinstance(actors, list) else [])]
    return chain if isinstance(chain, list) else []


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def iter_records(
    path: str | os.PathLike[str],
    *,
    agent: str | None = None,
    effect: str | None = None,
    rule: str | None = None,
    chain: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the log's records (header and checkpoints skipped) that match every filter given.

    This reads; it does not verify (use :func:`verify_log`). A partial last line, as left by a
    killed run, is skipped. Records are read liberally. The fields consulted are:

    * ``time``: simulated seconds;
    * ``agent``: SPIFFE ID, name, or an object with ``spiffe_id``/``id``/``name``; also
      ``agent_name``;
    * ``chain``: the delegation chain, a list of such actors in any order or an
      ``{"origin", "actors"}`` object; the decision's ``chain`` when the record has none;
    * ``decision``: an object with ``effect``, ``rule`` (the deciding rule), ``matched`` (rule
      ids, or objects with ``rule``/``id``) and ``envelope``.

    The other fields the simulator is expected to write are ``task``, ``tool``, ``resource``,
    ``data_class``, ``records`` (records touched), ``jti``, ``owners`` and ``outcome``; its own
    event number must not be called ``seq`` (see :data:`RESERVED_FIELDS`).

    Args:
        path: The log file.
        agent: The acting agent's SPIFFE ID or name (the ID's last path segment, or
            ``agent_name``).
        effect: The decision's effect, e.g. ``deny``.
        rule: A rule id that decided or matched.
        chain: An actor anywhere in the delegation chain, the acting agent included.
        since: Earliest simulated time, inclusive.
        until: Latest simulated time, inclusive.

    Raises:
        AuditFileError: when the file cannot be read or a complete line is not JSON.
    """
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise AuditFileError(path, f"cannot read the log: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if raw[-1:] != b"\n":
                return
            try:
                obj = json.loads(raw)
            except (ValueError, RecursionError):
                raise AuditFileError(
                    path, f"line {number} is not JSON (run 'agentrange audit verify')"
                ) from None
            if not isinstance(obj, dict) or "header" in obj or "checkpoint" in obj:
                continue
            if agent is not None and agent not in (
                _names(obj.get("agent")) | _names(obj.get("agent_name"))
            ):
                continue
            decision = obj.get("decision")
            if not isinstance(decision, dict):
                decision = {}
            if effect is not None and decision.get("effect") != effect:
                continue
            if rule is not None and rule not in _rule_ids(decision):
                continue
            if chain is not None:
                found = _names(obj.get("agent")) | _names(obj.get("agent_name"))
                for actor in _chain_actors(obj, decision):
                    found |= _names(actor)
                if chain not in found:
                    continue
            if since is not None or until is not None:
                when = _number(obj.get("time"))
                if when is None:
                    continue
                if (since is not None and when < since) or (until is not None and when > until):
                    continue
            yield obj
