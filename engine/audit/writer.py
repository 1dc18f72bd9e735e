"""AuditWriter: appends records to a new hash-chained log and signs a checkpoint every so often.

The lines it writes are described in docs/audit-log.md.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine.audit.canonical import canonical_bytes
from engine.audit.chain import (
    CHECKPOINT_START,
    DEFAULT_CHECKPOINT_EVERY,
    FORMAT,
    GENESIS,
    HASH_MARK,
    VERSION,
    chained_line,
)
from engine.audit.errors import AuditError, AuditFileError
from engine.audit.signing import ALGORITHM, b64url, key_id, public_jwk

# Here, not with the format constants in chain.py: the writer alone enforces it, and a method
# of an imported name is called through a bound-method object (CPython 3.11), a cost on every
# append.
RESERVED_FIELDS = frozenset({"seq", "prev", "hash", "header", "checkpoint"})
"""Top-level names the log adds or uses to tell lines apart; a caller's record may not use them."""


class AuditWriter:
    """Appends records to a new hash-chained, checkpoint-signed log file.

    Writes are buffered; the file is flushed and ``fsync``-ed after the header, at every
    checkpoint and at close, so a run killed midway leaves a log that verifies up to its last
    complete record. Use it as a context manager, or call :meth:`close`.

    Args:
        path: The log file to create.
        key: The run's signing key (see :func:`engine.audit.signing.derive_signing_key`).
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
        line, self._prev = chained_line({"header": header, "prev": GENESIS, "seq": 0})
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
                :data:`RESERVED_FIELDS`. See :func:`engine.audit.query.iter_records` for the
                expected fields.

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
        self._write(out, data[:-1] + HASH_MARK + digest.encode() + b'"}\n')
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
        sig = b64url(self._key.sign(message)).encode()
        self._write(self._file, CHECKPOINT_START + message + b',"sig":"' + sig + b'"}\n')
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
