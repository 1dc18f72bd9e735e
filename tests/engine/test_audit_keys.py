"""The audit log's key files: a run's derived key, owner-only private keys, public key PEMs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.audit.errors import AuditFileError
from engine.audit.signing import (
    derive_signing_key,
    key_id,
    load_private_key,
    load_public_key,
    save_private_key,
    save_public_key,
)
from engine.audit.verifier import verify_log
from tests.engine.audit_support import KEY, write_log


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "audit.jsonl")


def test_derived_key_is_deterministic_per_seed() -> None:
    assert key_id(derive_signing_key(5).public_key()) == key_id(derive_signing_key(5).public_key())
    assert key_id(derive_signing_key(5).public_key()) != key_id(derive_signing_key(6).public_key())
    assert key_id(derive_signing_key("5").public_key()) == key_id(
        derive_signing_key(5).public_key()
    )


def test_private_key_round_trip_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text("old")
    path.chmod(0o644)  # an existing, too-open file is tightened before the key goes in
    save_private_key(KEY, path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert key_id(load_private_key(path).public_key()) == key_id(KEY.public_key())


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_private_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "audit.key"
    save_private_key(KEY, path)
    path.chmod(mode)
    with pytest.raises(AuditFileError, match="chmod 600") as info:
        load_private_key(path)
    assert info.value.path == str(path)


def test_public_key_pem_pins_the_signer(log: Path, tmp_path: Path) -> None:
    pem = tmp_path / "audit.pub.pem"
    save_public_key(KEY.public_key(), pem)
    assert pem.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert verify_log(log, load_public_key(pem)).ok


@pytest.mark.parametrize(
    ("loader", "content", "why"),
    [
        (load_public_key, b"nonsense", "not a PEM public key"),
        (load_private_key, b"nonsense", "not an unencrypted PEM private key"),
        (load_public_key, None, "cannot read"),
        (load_private_key, None, "cannot read"),
    ],
)
def test_bad_key_files_are_clear_errors(
    tmp_path: Path, loader: Callable[[Path], object], content: bytes | None, why: str
) -> None:
    path = tmp_path / "key.pem"
    if content is not None:
        path.write_bytes(content)
        os.chmod(path, 0o600)
    with pytest.raises(AuditFileError, match=why):
        loader(path)


def test_key_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    path = tmp_path / "p256.pem"
    path.write_bytes(pem)
    with pytest.raises(AuditFileError, match="Ed25519"):
        load_public_key(path)
