"""AuditWriter: appends records to a new hash-chained log and signs a checkpoint every so often.

The lines it writes are described in docs/audit-log.md. A write that fails (a full disk, the
file-size limit, a lost permission) is an :class:`AuditFileError` naming the file; the writer
then writes nothing more, and what is on disk verifies as truncated.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
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
from engine.audit.identity import documents_problem, is_nonce, new_nonce
from engine.audit.lines import MAX_DEPTH, MAX_LINE_BYTES, nesting_within
from engine.audit.signing import ALGORITHM, b64url, key_id, public_jwk

# Here, not with the format constants in chain.py: the writer alone enforces it, and a method
# of an imported name is called through a bound-method object (CPython 3.11), a cost on every
# append.
RESERVED_FIELDS = frozenset({"seq", "prev", "hash", "header", "checkpoint"})
"""Top-level names the log adds or uses to tell lines apart; a caller's record may not use them."""
MAX_REASON = 500
"""Characters of an incomplete run's reason kept in its closing checkpoint."""
RECORD_BYTES = MAX_LINE_BYTES - 80
"""The longest canonical record the writer logs: its line adds the hash (~80 bytes)."""


def ignore_file_size_signal() -> None:
    """Make a write past the file-size limit (``ulimit -f``) an error instead of a kill.

    SIGXFSZ's default action ends the process before the writer can say anything; ignored, the
    write fails with EFBIG, which the writer reports as an :class:`AuditFileError`. CPython
    ignores it at start-up, but an application embedding Python need not, so the command line
    makes sure. Only the main thread may change a signal's handling; elsewhere this does
    nothing.
    """
    if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def incomplete_reason(exc_type: type[BaseException], exc: BaseException | None) -> str:
    """The closing checkpoint's reason for a run ended by an exception."""
    if issubclass(exc_type, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    text = str(exc) if exc is not None else ""
    return f"stopped by an error: {exc_type.__name__}" + (f": {text}" if text else "")


class AuditWriter:
    """Appends records to a new hash-chained, checkpoint-signed log file.

    Writes are buffered; the file is flushed and ``fsync``-ed after the header, at every
    checkpoint and at close, so a run killed midway leaves a log that verifies up to its last
    complete record (proven up to its last checkpoint). Use it as a context manager, or call
    :meth:`close`; leaving the ``with`` block by an exception closes the log as incomplete.

    Args:
        path: The log file to create.
        key: The run's signing key (see :func:`engine.audit.signing.derive_signing_key`).
        run_id: The run this log belongs to; bound into every checkpoint signature.
        created: Simulated time at which the run starts.
        planned_end: Simulated time at which the run is planned to end, when known.
        documents: The documents the run is made from, by role (``scenario``, ``policy``),
            each ``{"name", "sha256"}`` (see :func:`engine.audit.identity.document`).
        nonce: The run nonce (32 lowercase hex digits); a fresh random one by default. Give
            one only to reproduce a log byte for byte.
        checkpoint_every: Records between signed checkpoints.
        meta: Optional JSON-compatible facts about the run for the header (scenario, seed, ...).
        overwrite: Replace an existing file instead of refusing to.
        buffer_size: Bytes buffered between writes to the OS.

    Raises:
        AuditError: for a bad argument (interval, nonce, documents).
        AuditFileError: when the file exists (and ``overwrite`` is false) or cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: Ed25519PrivateKey,
        *,
        run_id: str,
        created: float = 0.0,
        planned_end: float | None = None,
        documents: Mapping[str, Mapping[str, str]] | None = None,
        nonce: str | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        meta: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        buffer_size: int = 1 << 20,
    ) -> None:
        if (
            not isinstance(checkpoint_every, int)
            or isinstance(checkpoint_every, bool)
            or checkpoint_every < 1
        ):
            raise AuditError(f"checkpoint_every must be a positive integer, not {checkpoint_every}")
        if nonce is not None and not is_nonce(nonce):
            raise AuditError("a run nonce must be 32 lowercase hex digits")
        docs = {role: dict(entry) for role, entry in (documents or {}).items()}
        problem = documents_problem(docs)
        if problem is not None:
            raise AuditError(problem)
        self.path = Path(path)
        self.run_id = run_id
        self.checkpoint_every = checkpoint_every
        self._key = key
        self.kid = key_id(key.public_key())
        self.nonce = nonce or new_nonce()
        header: dict[str, Any] = {
            "alg": ALGORITHM,
            "checkpoint_every": checkpoint_every,
            "created": created,
            "documents": docs,
            "format": FORMAT,
            "jwk": public_jwk(key.public_key()),
            "kid": self.kid,
            "nonce": self.nonce,
            "planned_end": planned_end,
            "run": run_id,
            "version": VERSION,
        }
        if meta is not None:
            header["meta"] = dict(meta)
        line, self._prev = chained_line({"header": header, "prev": GENESIS, "seq": 0})
        self.header_hash = self._prev
        self._seq = 0
        self._failed = False
        try:
            self._file: IO[bytes] | None = open(
                self.path, "wb" if overwrite else "xb", buffering=buffer_size
            )
        except FileExistsError:
            raise AuditFileError(path, "already exists; refusing to overwrite a log") from None
        except OSError as exc:
            raise AuditFileError(path, f"cannot create the log: {exc.strerror}") from None
        try:
            self._write(self._file, line)
            self._sync()
        except AuditFileError:
            if not overwrite:
                # Not even the header is on disk: no log to keep. The file is ours (created
                # exclusively just now); an existing file we were told to overwrite is not.
                self.path.unlink(missing_ok=True)
            raise
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
        """Whether :meth:`close` has run (or a failed write closed the log)."""
        return self._file is None

    def append(self, record: Mapping[str, Any]) -> int:
        """Append one record and return its sequence number (1-based).

        Args:
            record: A JSON-compatible mapping; it may not use the names in
                :data:`RESERVED_FIELDS`. See :func:`engine.audit.query.iter_records` for the
                expected fields.

        Raises:
            AuditError: when the log is closed or the record cannot be logged.
            AuditFileError: when the write fails (the log is closed then).
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
        if len(data) > RECORD_BYTES or not nesting_within(data):
            # Written, it would make every reader refuse the log at this line.
            raise AuditError(
                f"record {seq} is beyond what the log's readers accept ({len(data):,} bytes, "
                f"at most {RECORD_BYTES:,}; JSON nested at most {MAX_DEPTH} deep)")
        digest = hashlib.sha256(data).hexdigest()
        self._write(out, data[:-1] + HASH_MARK + digest.encode() + b'"}\n')
        self._seq = seq
        self._prev = digest
        if seq % self.checkpoint_every == 0:
            self._checkpoint(final=False)
        return seq

    def close(self, *, incomplete: str | None = None, at: float | None = None) -> None:
        """Write the closing checkpoint, flush, fsync and close; a second call does nothing.

        Args:
            incomplete: Why the run stopped before its planned end (``interrupted by SIGINT``,
                a budget, an error); the closing checkpoint is then signed as incomplete with
                this reason, and ``audit verify`` fails the log unless told to allow it. None
                for a run that reached its end.
            at: Simulated time at which an incomplete run stopped.

        Raises:
            AuditError: for an empty reason or a time that is not a finite number.
            AuditFileError: when the closing checkpoint cannot be written (the file is closed
                all the same; what is on disk verifies as truncated).
        """
        if self._file is None:
            return
        mark = None
        if incomplete is not None:
            if not isinstance(incomplete, str) or not incomplete.strip():
                raise AuditError("an incomplete run's reason must be a non-empty string")
            if at is not None and (
                isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at)
            ):
                raise AuditError(f"an incomplete run's time must be a finite number, not {at!r}")
            mark = {"at": None if at is None else float(at), "reason": incomplete[:MAX_REASON]}
        try:
            self._checkpoint(final=True, incomplete=mark)
        finally:
            self._release()

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The records written so far are what happened, even if the caller failed: seal them,
        # marked incomplete when an exception ended the run.
        if exc_type is None:
            self.close()
            return
        try:
            self.close(incomplete=incomplete_reason(exc_type, exc))
        except AuditFileError:
            pass  # the caller's exception is the one to report; the log verifies as truncated

    def _checkpoint(self, *, final: bool, incomplete: dict[str, Any] | None = None) -> None:
        assert self._file is not None
        body = {
            "final": final,
            "hash": self._prev,
            "header": self.header_hash,
            "incomplete": incomplete,
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
            self._fail(exc)

    def _sync(self) -> None:
        assert self._file is not None
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        """Give up on the file after a failed write, and say why."""
        self._failed = True
        self._release()
        raise AuditFileError(self.path, f"cannot write the log: {exc.strerror or exc}") from None

    def _release(self) -> None:
        """Close the file; after a failed write, without trying to write what is buffered."""
        file, self._file = self._file, None
        if file is None:
            return
        try:
            if self._failed:
                # The buffer holds bytes the disk refused; closing the raw file drops them
                # instead of retrying a write that could land after a later one.
                file.raw.close()  # type: ignore[attr-defined]
            file.close()
        except (OSError, ValueError):
            pass

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
