"""PEM key files: the one place agentrange reads and writes private and public keys.

Any key type ``cryptography`` loads (EC, Ed25519, ...): the caller says in words what it
expects and passes a type guard that checks it (class, curve). A refusal is a
:class:`KeyFileError` naming the file and the problem, never the key material. Private keys
are written unencrypted (PKCS#8) with mode 0600 and refused on load when group or others may
access them, the way ssh treats identity files.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeGuard, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)

from engine.errors import AgentrangeError

PrivateT = TypeVar("PrivateT", bound=PrivateKeyTypes)
PublicT = TypeVar("PublicT", bound=PublicKeyTypes)

KeyPath = str | os.PathLike[str]
"""A key file's path, as a string or a path object."""


class KeyFileError(AgentrangeError):
    """A key file could not be written or was refused on load (permissions, format, type).

    The message names the file and the problem; it never contains key material.

    Attributes:
        path: The file concerned.
        problem: What is wrong with it, in words a user can act on.
    """

    def __init__(self, path: KeyPath, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        # The arguments as given, so that type(exc)(*exc.args) rebuilds it (simpy, pickle).
        super().__init__(self.path, problem)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def save_private_key(key: PrivateKeyTypes, path: KeyPath) -> Path:
    """Write a private key as unencrypted PKCS#8 PEM with mode 0600, atomically.

    The file is created 0600 from the start (never briefly readable by others) in the
    target directory and renamed into place, so an existing file, however open its mode,
    is replaced rather than written through; a missing directory is created with mode 0700.

    Args:
        key: The private key.
        path: Where to write it.

    Returns:
        The path written.

    Raises:
        KeyFileError: the file could not be written.
    """
    target = Path(path)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomically(target, pem, 0o600)
    except OSError as exc:
        raise KeyFileError(target, f"cannot write private key: {exc.strerror or exc}") from None
    return target


def _write_atomically(target: Path, data: bytes, mode: int) -> None:
    """Write a file whole or not at all: a temporary file beside it, renamed into place.

    A full disk or a file-size limit leaves no empty or partial key file behind; the
    temporary file is removed. mkstemp creates it with mode 0600 whatever the umask.

    Raises:
        OSError: when it cannot be written.
    """
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".key-", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_public_key(key: PublicKeyTypes, path: KeyPath) -> Path:
    """Write a public key as PEM (SubjectPublicKeyInfo, ``BEGIN PUBLIC KEY``), atomically.

    Mode 0644; written whole or not at all, as :func:`save_private_key` writes.

    Args:
        key: The public key.
        path: Where to write it.

    Returns:
        The path written.

    Raises:
        KeyFileError: the file could not be written.
    """
    target = Path(path)
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        _write_atomically(target, pem, 0o644)
    except OSError as exc:
        raise KeyFileError(target, f"cannot write public key: {exc.strerror or exc}") from None
    return target


def load_private_key(
    path: KeyPath, what: str, is_expected: Callable[[PrivateKeyTypes], TypeGuard[PrivateT]]
) -> PrivateT:
    """Load an unencrypted PEM private key of the expected type from a file.

    A key file that group or others may read or write is refused: a key that others could
    read may already be someone else's key.

    Args:
        path: The key file.
        what: What is expected, in words, for the error (``"an Ed25519 private key"``).
        is_expected: Whether a loaded key is the kind wanted (its class, curve or size);
            a type guard, so the key comes back with its precise type.

    Returns:
        The key.

    Raises:
        KeyFileError: missing or unreadable file, not a regular file, loose permissions,
            not a PEM private key, or not the expected kind of key.
    """
    target = Path(path)
    try:
        fd = os.open(target, os.O_RDONLY)
    except OSError as exc:
        raise KeyFileError(target, f"cannot read private key: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        # fstat on the open descriptor: the permissions checked are those of the file read.
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(target, "is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if os.name == "posix" and mode & 0o077:
            raise KeyFileError(
                target,
                f"has permissions {mode:04o}; a private key file must be readable by its "
                f"owner only (chmod 600 {target})",
            )
        try:
            data = fh.read()
        except OSError as exc:
            raise KeyFileError(
                target, f"cannot read private key: {exc.strerror or exc}"
            ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(target, "is not an unencrypted PEM private key") from None
    if not is_expected(key):
        raise KeyFileError(target, f"expected {what}, found {_describe(key)}")
    return key


def load_public_key(
    path: KeyPath, what: str, is_expected: Callable[[PublicKeyTypes], TypeGuard[PublicT]]
) -> PublicT:
    """Load a PEM public key (SubjectPublicKeyInfo) of the expected type from a file.

    Args:
        path: The key file.
        what: What is expected, in words, for the error (``"an Ed25519 public key"``).
        is_expected: Whether a loaded key is the kind wanted (a type guard).

    Returns:
        The key.

    Raises:
        KeyFileError: missing or unreadable file, not a PEM public key, or not the expected
            kind of key.
    """
    target = Path(path)
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise KeyFileError(target, f"cannot read public key: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise KeyFileError(target, "is not a PEM public key") from None
    if not is_expected(key):
        raise KeyFileError(target, f"expected {what}, found {_describe(key)}")
    return key


def _describe(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    """A key's kind in words, for errors (never its material)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"an EC key on curve {key.curve.name}"
    return f"a {type(key).__name__.removeprefix('_')}"
