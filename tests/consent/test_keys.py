import stat

import pytest

from consent.errors import KeyStoreError, SignatureInvalid
from consent.keys import RegistryKeys, Signature


def test_first_use_creates_a_private_key_readable_only_by_its_owner(tmp_path):
    keys = RegistryKeys.open(tmp_path / "keys")
    pem = tmp_path / "keys" / f"{keys.current_key_id}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert b"ENCRYPTED" not in pem.read_bytes()
    assert RegistryKeys.open(tmp_path / "keys").current_key_id == keys.current_key_id


def test_passphrase_encrypts_the_key_at_rest(tmp_path):
    keys = RegistryKeys.open(tmp_path / "keys", passphrase=b"correct horse")
    assert b"ENCRYPTED" in (tmp_path / "keys" / f"{keys.current_key_id}.pem").read_bytes()
    assert RegistryKeys.open(tmp_path / "keys", passphrase=b"correct horse").current_key_id == keys.current_key_id
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        RegistryKeys.open(tmp_path / "keys", passphrase=b"wrong")
    with pytest.raises(KeyStoreError, match="VOICEKIT_KEY_PASSPHRASE"):
        RegistryKeys.open(tmp_path / "keys")


def test_signatures_verify_and_every_tampering_is_refused(tmp_path):
    keys = RegistryKeys.open(tmp_path / "keys")
    sig = keys.sign(b"record")
    keys.verify(b"record", sig)
    with pytest.raises(SignatureInvalid, match="does not match"):
        keys.verify(b"recorD", sig)
    with pytest.raises(SignatureInvalid, match="does not hold"):
        keys.verify(b"record", Signature("0" * 16, sig.value))
    with pytest.raises(SignatureInvalid):
        keys.verify(b"record", Signature(sig.key_id, "not base64!"))
    foreign = RegistryKeys.open(tmp_path / "other").sign(b"record")
    with pytest.raises(SignatureInvalid, match="does not hold"):
        keys.verify(b"record", foreign)


def test_watermark_secrets_are_derived_per_key_and_stable(tmp_path):
    a = RegistryKeys.open(tmp_path / "a").watermark_secrets()
    assert len(a) == 1 and len(a[0]) == 32
    assert RegistryKeys.open(tmp_path / "a").watermark_secrets() == a
    assert RegistryKeys.open(tmp_path / "b").watermark_secrets() != a
