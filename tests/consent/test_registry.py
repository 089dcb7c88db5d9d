"""The registry as an attacker with the database's own client meets it: every row edited, revived,
forged or written by hand is refused with its reason, because the signed ledger, not the row,
decides. Each test runs on the home's SQLite files and on PostgreSQL."""
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.errors import ConsentExpired, KeyStoreError, ProfileTampered, SignatureInvalid, UnknownVoice, VoiceRevoked
from consent.keys import RegistryKeys, Signature, key_id_of
from consent.profiles import VoiceProfile
from consent.records import Records
from tests.postgres import edit_records

pytestmark = pytest.mark.usefixtures("database_url")


def _open(home):
    return Records.open(home, None, now=0.0)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    registry = _open(home).registry
    registry.register(VoiceProfile("heart", "house", "heart", "Heart", "Apache-2.0", ("tts",), created_at=0.0), now=0.0)
    registry.register(VoiceProfile("joe", "house", "joe", "Joe", "CC0", ("tts",), created_at=0.0), now=0.0)
    registry.register(VoiceProfile("profile:abc", "clone", "heart", "A", "consent", ("tts",), 0.0, expires_at=100.0),
                      now=0.0, kind="enrollment")
    return home


@pytest.fixture
def registry(home):
    registry = _open(home).registry
    registry.home = home
    return registry


def _edit(registry, sql, *args):
    return edit_records(registry.home, "registry.db", sql, *args)


def test_an_active_voice_passes_with_its_verified_record(registry):
    assert registry.check_at("heart", now=10.0).engine == "heart"


def test_unknown_voice_names_the_shared_voices_but_no_ones_profile(registry):
    with pytest.raises(UnknownVoice, match="voices you may use: heart, joe$") as refused:
        registry.check_at("nobody", now=10.0)
    assert "profile:" not in str(refused.value)


def test_edited_record_is_refused(registry):
    record = VoiceProfile("heart", "house", "heart", "Heart", "Apache-2.0", ("tts", "sing"), 0.0).canonical()
    _edit(registry, "UPDATE voices SET record = ? WHERE voice_id = 'heart'", record)
    with pytest.raises(ProfileTampered, match="does not match its signature"):
        registry.check_at("heart", now=10.0)


def test_record_swapped_between_voices_is_refused(registry):
    joe = _edit(registry, "SELECT record, key_id, signature FROM voices WHERE voice_id = 'joe'")[0]
    _edit(registry, "UPDATE voices SET record = ?, key_id = ?, signature = ? WHERE voice_id = 'heart'", *joe)
    with pytest.raises(ProfileTampered, match="holds the signed record of 'joe'"):
        registry.check_at("heart", now=10.0)


def test_record_signed_by_a_foreign_key_is_refused(registry, tmp_path):
    foreign = RegistryKeys.open(tmp_path / "foreign")
    profile = VoiceProfile("profile:evil", "clone", "heart", "E", "none", ("tts",), 0.0)
    sig = profile.sign(foreign)
    _edit(registry, "INSERT INTO voices (voice_id, record, key_id, signature) VALUES (?, ?, ?, ?)",
          "profile:evil", profile.canonical(), sig.key_id, sig.value)
    with pytest.raises(ProfileTampered, match="does not hold"):
        registry.check_at("profile:evil", now=10.0)


def test_a_forged_profile_signed_with_a_planted_public_key_is_refused(home, registry):
    """A revoked person's voice under a new id, `sing` added, no expiry, signed by an attacker's key
    whose public half was dropped into the key folder."""
    registry.revoke("profile:abc", "speaker withdrew", now=5.0)
    private = Ed25519PrivateKey.generate()
    kid = key_id_of(private.public_key())
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    (home / "keys" / f"{kid}.pub").write_text(raw.hex() + "\n")
    forged = VoiceProfile("profile:new", "clone", "heart", "A", "consent", ("tts", "sing"), 6.0)
    import base64

    value = base64.b64encode(private.sign(forged.canonical())).decode()
    _edit(registry, "INSERT INTO voices (voice_id, record, key_id, signature) VALUES (?, ?, ?, ?)",
          "profile:new", forged.canonical(), kid, value)
    reopened = _open(home).registry
    with pytest.raises(ProfileTampered, match="no trusted key introduced"):
        reopened.check_at("profile:new", now=10.0)
    assert reopened.status_at("profile:new", 10.0).status == "tampered"


def test_a_row_written_by_hand_with_no_registration_in_the_ledger_is_refused(home, registry):
    keys = RegistryKeys.open(home / "keys")
    profile = VoiceProfile("profile:ghost", "clone", "heart", "G", "consent", ("tts",), 0.0)
    sig = profile.sign(keys)  # even a record our own key signed needs its ledger entry
    _edit(registry, "INSERT INTO voices (voice_id, record, key_id, signature) VALUES (?, ?, ?, ?)",
          "profile:ghost", profile.canonical(), sig.key_id, sig.value)
    with pytest.raises(ProfileTampered, match="no signed registration"):
        registry.check_at("profile:ghost", now=10.0)


def test_revocation_undone_in_the_database_stays_revoked(registry):
    registry.revoke("joe", "speaker withdrew", now=5.0)
    _edit(registry, "UPDATE voices SET revoked_at = NULL, revoked_reason = NULL WHERE voice_id = 'joe'")
    with pytest.raises(VoiceRevoked, match="speaker withdrew.*altered to say active"):
        registry.check_at("joe", now=10.0)
    assert registry.status_at("joe", 10.0).status == "revoked"


def test_a_revocation_written_only_into_the_database_fails_closed(registry):
    _edit(registry, "UPDATE voices SET revoked_at = 5.0 WHERE voice_id = 'heart'")
    with pytest.raises(ProfileTampered, match="no signed revocation"):
        registry.check_at("heart", now=10.0)


def test_revoked_and_expired_voices_are_refused(registry):
    registry.revoke("joe", "speaker withdrew", now=5.0)
    with pytest.raises(VoiceRevoked, match="speaker withdrew"):
        registry.check_at("joe", now=10.0)
    with pytest.raises(VoiceRevoked, match="already revoked"):
        registry.revoke("joe", "again", now=11.0)
    assert registry.check_at("profile:abc", now=99.9).voice_id == "profile:abc"
    with pytest.raises(ConsentExpired):
        registry.check_at("profile:abc", now=100.0)
    statuses = {s.voice_id: s.status for s in registry.statuses_at(100.0)}
    assert statuses == {"heart": "active", "joe": "revoked", "profile:abc": "expired"}


def test_rotation_keeps_old_records_valid_and_introduces_the_new_key_in_the_ledger(home):
    records = _open(home)
    old = records.keys.current_key_id
    new = records.rotate_keys(now=50.0)
    rotation = records.ledger.latest(f"key {new}")
    assert rotation.kind == "key-rotation" and rotation.signature.key_id == old
    reopened = _open(home)
    assert reopened.keys.current_key_id == new and reopened.keys.trusted() == {old, new}
    assert reopened.registry.check_at("heart", now=60.0).voice_id == "heart"
    assert reopened.ledger.verify().ok


def test_a_planted_signing_key_made_current_is_refused_at_open(home):
    planted = RegistryKeys.open(home / "elsewhere")
    kid = planted.current_key_id
    for suffix in ("pem", "pub"):
        (home / "keys" / f"{kid}.{suffix}").write_bytes((home / "elsewhere" / f"{kid}.{suffix}").read_bytes())
    (home / "keys" / "current").write_text(kid + "\n")
    with pytest.raises(KeyStoreError, match="never introduced"):
        _open(home)


def test_a_second_root_written_into_the_trust_table_is_refused(home):
    planted = RegistryKeys.open(home / "elsewhere")
    edit_records(home, "registry.db", "INSERT INTO trusted_keys VALUES (?, ?, NULL, 1.0, NULL)",
                 planted.current_key_id, planted.public_key_hex(planted.current_key_id))
    with pytest.raises(KeyStoreError, match="2 root keys"):
        _open(home)


def test_a_forged_introduction_in_the_trust_table_trusts_nothing(home):
    planted = RegistryKeys.open(home / "elsewhere")
    kid = planted.current_key_id
    (home / "keys" / f"{kid}.pub").write_bytes((home / "elsewhere" / f"{kid}.pub").read_bytes())
    root = _open(home).keys.current_key_id
    edit_records(home, "registry.db", "INSERT INTO trusted_keys VALUES (?, ?, ?, 1.0, ?)",
                 kid, planted.public_key_hex(kid), root, planted.sign(b"anything").value)
    records = _open(home)
    assert kid not in records.keys.trusted() and kid in records.keys.untrusted()
    with pytest.raises(SignatureInvalid, match="no trusted key introduced"):
        records.keys.verify(b"x", Signature(kid, planted.sign(b"x").value))


def test_a_rotation_by_another_process_is_seen_by_an_open_home(home):
    """A server keeps its records open while `voicekit keys rotate` runs beside it: the new key's
    entries and records verify for the server, and its own appends go on."""
    server = _open(home)
    cli = _open(home)
    new = cli.rotate_keys(now=50.0)
    cli.registry.register(VoiceProfile("profile:new", "clone", "heart", "N", "consent", ("tts",), 51.0),
                          now=51.0, kind="enrollment")
    assert server.registry.check_at("profile:new", now=52.0).voice_id == "profile:new"
    server.ledger.append("output", {"mark_id": 1, "voice": "heart"}, now=53.0)
    assert new in server.keys.trusted() and server.ledger.verify().ok


def test_details_are_read_as_typed_values_and_malformed_ones_refused(registry):
    from dataclasses import replace

    from consent.details import HouseDetails, ModelDetails
    from consent.errors import ProfileTampered

    heart = replace(registry.check_at("heart", now=10.0), details=HouseDetails("any text").as_dict())
    assert heart.typed_details == HouseDetails("any text")
    model = replace(heart, kind="model", details=ModelDetails("/models/vits", "ab" * 32, None, "en").as_dict())
    assert model.typed_details == ModelDetails("/models/vits", "ab" * 32, None, "en")
    with pytest.raises(ProfileTampered, match="malformed"):
        _ = replace(heart, kind="clone").typed_details
