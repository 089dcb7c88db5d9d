"""API keys and grants as an attacker with the database's own client meets them: a grant, a widened
scope, a revived key or a swapped secret written into the database is refused, because the signed
ledger entries decide. On the home's SQLite files and on PostgreSQL."""
import hashlib

import pytest

from consent.access import AccessControl
from consent.errors import ApiKeyInvalid
from consent.profiles import VoiceProfile
from consent.records import Records
from tests.postgres import edit_records

pytestmark = pytest.mark.usefixtures("database_url")


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def access(home):
    records = Records.open(home, None, now=0.0)
    return AccessControl(records.registry.db, records.ledger)


ALICE_VOICE = VoiceProfile("profile:alice", "clone", "heart", "Alice", "consent", ("tts",), 0.0)


def _edit(home, sql, *args):
    edit_records(home, "registry.db", sql, *args)


def test_a_granted_voice_is_usable_and_an_ungranted_one_is_not(access):
    alice, _ = access.create_key("alice", ("speak",), now=1.0)
    bob, _ = access.create_key("bob", ("speak",), now=1.0)
    access.set_owner(ALICE_VOICE.voice_id, "alice", now=2.0)
    assert access.may_use(alice, ALICE_VOICE.voice_id) and access.owns(alice, ALICE_VOICE.voice_id)
    assert not access.may_use(bob, ALICE_VOICE.voice_id)
    access.grant(ALICE_VOICE.voice_id, "bob", now=3.0)
    assert access.may_use(bob, ALICE_VOICE.voice_id) and not access.owns(bob, ALICE_VOICE.voice_id)


def test_a_grant_written_into_the_database_grants_nothing(home, access):
    bob, _ = access.create_key("bob", ("speak",), now=1.0)
    access.set_owner(ALICE_VOICE.voice_id, "alice", now=2.0)
    _edit(home, "INSERT INTO voice_access VALUES (?, 'bob', 'owner', 3.0)", ALICE_VOICE.voice_id)
    assert not access.may_use(bob, ALICE_VOICE.voice_id)
    assert not access.owns(bob, ALICE_VOICE.voice_id)


def test_a_key_escalated_to_admin_in_the_database_is_refused(home, access):
    key, secret = access.create_key("bob", ("speak",), now=1.0)
    _edit(home, "UPDATE api_keys SET scopes = '[\"speak\", \"admin\"]' WHERE key_id = ?", key.key_id)
    with pytest.raises(ApiKeyInvalid, match="edited in the database"):
        access.authenticate(secret)
    assert key.key_id not in [k.key_id for k in access.keys()]


def test_a_revoked_key_revived_in_the_database_stays_revoked(home, access):
    key, secret = access.create_key("bob", ("speak",), now=1.0)
    access.revoke_key(key.key_id, now=2.0)
    _edit(home, "UPDATE api_keys SET revoked_at = NULL WHERE key_id = ?", key.key_id)
    with pytest.raises(ApiKeyInvalid, match="revoked"):
        access.authenticate(secret)
    assert access.key(key.key_id).revoked_at == 2.0


def test_a_secret_swapped_in_the_database_does_not_authenticate(home, access):
    key, _ = access.create_key("admin", ("admin",), now=1.0)
    mine = "A" * 43
    _edit(home, "UPDATE api_keys SET secret_sha256 = ? WHERE key_id = ?",
          hashlib.sha256(mine.encode()).hexdigest(), key.key_id)
    with pytest.raises(ApiKeyInvalid, match="edited in the database"):
        access.authenticate(f"vk_{key.key_id}_{mine}")


def test_a_key_row_written_by_hand_is_refused(home, access):
    secret = "B" * 43
    _edit(home, "INSERT INTO api_keys VALUES ('0123456789ab', 'eve', '[\"admin\"]', ?, 600, 1.0, NULL)",
          hashlib.sha256(secret.encode()).hexdigest())
    with pytest.raises(ApiKeyInvalid, match="no signed creation"):
        access.authenticate(f"vk_0123456789ab_{secret}")
