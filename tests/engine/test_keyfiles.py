"""PEM key files (engine/keyfiles.py): any key type, owner-only private keys, clear errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TypeGuard

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from engine.errors import AgentrangeError
from engine.keyfiles import (
    KeyFileError,
    load_private_key,
    load_public_key,
    save_private_key,
    save_public_key,
)

EC_KEY = ec.derive_private_key(12345, ec.SECP256R1())
ED_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def is_ec(key: PrivateKeyTypes) -> TypeGuard[ec.EllipticCurvePrivateKey]:
    return isinstance(key, ec.EllipticCurvePrivateKey)


def is_ed25519(key: PrivateKeyTypes) -> TypeGuard[Ed25519PrivateKey]:
    return isinstance(key, Ed25519PrivateKey)


def is_ed25519_public(key: PublicKeyTypes) -> TypeGuard[Ed25519PublicKey]:
    return isinstance(key, Ed25519PublicKey)


def test_private_key_is_written_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = save_private_key(EC_KEY, tmp_path / "keys" / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = load_private_key(path, "an EC private key", is_ec)
    assert loaded.private_numbers() == EC_KEY.private_numbers()


def test_an_existing_too_open_file_is_replaced_by_an_owner_only_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text("old")
    path.chmod(0o644)
    save_private_key(ED_KEY, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private_key(path, "an Ed25519 private key", is_ed25519).private_bytes_raw() \
        == ED_KEY.private_bytes_raw()


def test_ed25519_public_key_round_trips_as_spki_pem(tmp_path: Path) -> None:
    path = save_public_key(ED_KEY.public_key(), tmp_path / "k.pub.pem")
    assert path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    loaded = load_public_key(path, "an Ed25519 public key", is_ed25519_public)
    assert loaded.public_bytes_raw() == ED_KEY.public_key().public_bytes_raw()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = save_private_key(EC_KEY, tmp_path / "k.pem")
    path.chmod(mode)
    with pytest.raises(KeyFileError) as err:
        load_private_key(path, "an EC private key", is_ec)
    message = str(err.value)
    assert err.value.path == str(path)
    assert str(path) in message
    assert f"{mode:04o}" in message
    assert "chmod 600" in message
    assert "PRIVATE KEY" not in message


def test_key_file_that_is_not_a_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_text("secret-looking garbage")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not an unencrypted PEM private key") as err:
        load_private_key(path, "an EC private key", is_ec)
    assert "garbage" not in str(err.value)
    assert isinstance(err.value, AgentrangeError)


def test_public_key_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.pub.pem"
    path.write_bytes(b"nonsense")
    with pytest.raises(KeyFileError, match="not a PEM public key"):
        load_public_key(path, "an Ed25519 public key", is_ed25519_public)


def test_wrong_kind_of_key_names_the_file_what_was_expected_and_what_was_found(
        tmp_path: Path) -> None:
    path = save_private_key(EC_KEY, tmp_path / "k.pem")
    with pytest.raises(KeyFileError) as err:
        load_private_key(path, "an Ed25519 private key", is_ed25519)
    assert str(err.value) == f"{path}: expected an Ed25519 private key, found an EC key on " \
        "curve secp256r1"


@pytest.mark.parametrize("public", [False, True])
def test_missing_key_file_is_a_clear_error(tmp_path: Path, public: bool) -> None:
    path = tmp_path / "nope.pem"
    with pytest.raises(KeyFileError, match="cannot read") as err:
        if public:
            load_public_key(path, "an Ed25519 public key", is_ed25519_public)
        else:
            load_private_key(path, "an EC private key", is_ec)
    assert err.value.path == str(path)


def test_unwritable_key_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(KeyFileError, match="cannot write private key"):
        save_private_key(EC_KEY, blocker / "k.pem")
    with pytest.raises(KeyFileError, match="cannot write public key"):
        save_public_key(EC_KEY.public_key(), blocker / "k.pub.pem")
