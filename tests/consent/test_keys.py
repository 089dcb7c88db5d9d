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


def test_machines_on_one_server_sign_with_one_key_and_follow_its_rotation(tmp_path, postgres):
    """Two homes on one database server, as two machines of a fleet: the key lives in the server,
    encrypted with the passphrase; a rotation made on one reaches the other at its next check."""
    from consent.records import Records

    url = postgres.new_database()
    first = Records.open(tmp_path / "first", b"fleet secret", now=1.0, url=url)
    second = Records.open(tmp_path / "second", b"fleet secret", now=2.0, url=url)
    assert first.keys.current_key_id == second.keys.current_key_id
    assert not (tmp_path / "second" / "keys").exists()  # nothing of the key on the second machine's disk
    with first.registry.db.read() as session:
        pem, = session.execute("SELECT pem FROM signing_keys").fetchone()
    assert b"ENCRYPTED PRIVATE KEY" in bytes(pem)

    seen = second.keys.current_stamp()
    rotated = first.rotate_keys(now=3.0)
    assert second.keys.current_stamp() != seen
    assert second.follow_rotation() and second.keys.current_key_id == rotated
    entry = second.ledger.append("note", {"text": "signed on the second machine"}, now=4.0)
    assert entry.signature.key_id == rotated
    assert first.ledger.verify().ok

    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        Records.open(tmp_path / "third", b"not the fleet secret", now=5.0, url=url)


def test_a_servers_keys_are_never_kept_unencrypted(tmp_path, postgres):
    from consent.database import Database
    from consent.keystores import DatabaseKeyStore

    with pytest.raises(KeyStoreError, match="VOICEKIT_KEY_PASSPHRASE"):
        DatabaseKeyStore(Database(postgres.new_database()), None)
    RegistryKeys.open(tmp_path / "keys")  # an unencrypted folder cannot be moved into a server
    with pytest.raises(KeyStoreError, match="not encrypted"):
        DatabaseKeyStore(Database(postgres.new_database()), b"secret", folder=tmp_path / "keys")
