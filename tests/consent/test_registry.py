import sqlite3

import pytest

from consent.errors import ConsentExpired, ProfileTampered, UnknownVoice, VoiceRevoked
from consent.keys import RegistryKeys
from consent.profiles import VoiceProfile
from consent.registry import Registry


@pytest.fixture
def registry(tmp_path):
    registry = Registry(tmp_path / "registry.db", RegistryKeys.open(tmp_path / "keys"))
    registry.register(VoiceProfile("heart", "house", "heart", "Heart", "Apache-2.0", ("tts",), created_at=0.0))
    registry.register(VoiceProfile("joe", "house", "joe", "Joe", "CC0", ("tts",), created_at=0.0))
    registry.register(VoiceProfile("profile:abc", "clone", "heart", "A", "consent", ("tts",), 0.0, expires_at=100.0))
    return registry


def _edit(registry, sql, *args):
    with sqlite3.connect(registry.path) as db:
        db.execute(sql, args)


def test_an_active_voice_passes_with_its_verified_record(registry):
    assert registry.check_at("heart", now=10.0).engine == "heart"


def test_unknown_voice_names_the_known_ones(registry):
    with pytest.raises(UnknownVoice, match="known voices: heart, joe, profile:abc"):
        registry.check_at("nobody", now=10.0)


def test_edited_record_is_refused(registry):
    record = VoiceProfile("heart", "house", "heart", "Heart", "Apache-2.0", ("tts", "sing"), 0.0).canonical()
    _edit(registry, "UPDATE voices SET record = ? WHERE voice_id = 'heart'", record)
    with pytest.raises(ProfileTampered, match="does not match its signature"):
        registry.check_at("heart", now=10.0)


def test_record_swapped_between_voices_is_refused(registry):
    with sqlite3.connect(registry.path) as db:
        joe = db.execute("SELECT record, key_id, signature FROM voices WHERE voice_id = 'joe'").fetchone()
        db.execute("UPDATE voices SET record = ?, key_id = ?, signature = ? WHERE voice_id = 'heart'", joe)
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


def test_revoked_and_expired_voices_are_refused(registry):
    _edit(registry, "UPDATE voices SET revoked_at = 5.0, revoked_reason = 'speaker withdrew' WHERE voice_id = 'joe'")
    with pytest.raises(VoiceRevoked, match="speaker withdrew"):
        registry.check_at("joe", now=10.0)
    assert registry.check_at("profile:abc", now=99.9).voice_id == "profile:abc"
    with pytest.raises(ConsentExpired):
        registry.check_at("profile:abc", now=100.0)
    statuses = {s.voice_id: s.status for s in registry.statuses_at(100.0)}
    assert statuses == {"heart": "active", "joe": "revoked", "profile:abc": "expired"}
