"""Who may call the HTTP service, and which enrolled voices each caller may use.

An API key belongs to an owner (a person or an organisation) and carries scopes. Only a SHA-256
of the key's secret is stored: the secret is 256 random bits, so a plain hash is as hard to reverse
as the secret is to guess, and a lookup by the key's public id keeps the comparison to one row.

Enrolled voices (profiles of kind "clone") are private: a key may speak with one only if its owner
enrolled it or was granted it. House and model voices are open to every key with the speak scope.
An admin key may use and manage everything.

Key creation, revocation and grants are signed ledger entries, and the ledger decides: a key is
valid only while its last entry is the creation that matches its row (owner, scopes, rate, secret
hash), and a voice is granted only while a signed `voice-access` entry says so. Rows written or
edited in SQLite (a grant, a widened scope, a revived key) are refused. Each check is one lookup in
the ledger's index and one signature, whatever the ledger's size.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from consent.database import Database
from consent.errors import ApiKeyInvalid, InvalidRecordRequest, SignatureInvalid, UnknownApiKey
from consent.ledger import Ledger
from consent.profiles import PROFILE_PREFIX

API_SCOPES = ("speak", "enroll", "profiles", "audit", "admin")
DEFAULT_RATE_PER_MINUTE = 600
MAX_LISTED_PROFILES = 200  # profiles named in one refusal or listing
OWNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_KEY = re.compile(r"vk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")

_SELECT_KEY = ("SELECT key_id, owner, scopes, secret_sha256, rate_per_minute, created_at, revoked_at "
               "FROM api_keys")


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    owner: str
    scopes: tuple[str, ...]
    rate_per_minute: int
    created_at: float
    revoked_at: float | None = None

    def as_dict(self) -> dict:
        return {"key_id": self.key_id, "owner": self.owner, "scopes": list(self.scopes),
                "rate_per_minute": self.rate_per_minute, "created_at": self.created_at,
                "revoked_at": self.revoked_at}


class AccessControl:
    """where: the registry's database (tables are created on first use); ledger: where changes are recorded."""

    def __init__(self, where: Path | Database, ledger: Ledger) -> None:
        self.db = Database.of(where)
        self.ledger = ledger
        self.db.create(("api_keys", "voice_access"))

    def create_key(self, owner: str, scopes: tuple[str, ...], now: float,
                   rate_per_minute: int = DEFAULT_RATE_PER_MINUTE) -> tuple[ApiKey, str]:
        """A new key and its secret (`vk_<key id>_<secret>`), which is not stored and cannot be shown again.
        Raises InvalidRecordRequest for an unknown scope, a bad owner name or a rate below 1."""
        _check_owner(owner)
        unknown = sorted(set(scopes) - set(API_SCOPES))
        if unknown or not scopes:
            raise InvalidRecordRequest(
                f"scopes must be among {', '.join(API_SCOPES)}; got {', '.join(unknown) or 'none'}")
        if rate_per_minute < 1:
            raise InvalidRecordRequest("rate_per_minute must be at least 1")
        key = ApiKey(secrets.token_hex(6), owner, tuple(s for s in API_SCOPES if s in scopes), rate_per_minute, now)
        secret = secrets.token_urlsafe(32)
        # The secret's SHA-256 is signed too (256 random bits: the hash gives nothing away), so a
        # row whose hash was swapped for one the attacker knows does not authenticate.
        self.ledger.append("api-key-created", {
            "key_id": key.key_id, "owner": owner, "scopes": list(key.scopes), "rate_per_minute": rate_per_minute,
            "secret_sha256": _digest(secret), "created_at": now}, now=now, subject=_key_subject(key.key_id))
        with self.db.write() as db:
            db.execute("INSERT INTO api_keys VALUES (:id, :owner, :scopes, :secret, :rate, :now, NULL)",
                       {"id": key.key_id, "owner": owner, "scopes": json.dumps(list(key.scopes)),
                        "secret": _digest(secret), "rate": rate_per_minute, "now": now})
        return key, f"vk_{key.key_id}_{secret}"

    def authenticate(self, presented: str) -> ApiKey:
        """The active key whose secret this is; raises ApiKeyInvalid (malformed, unknown, wrong or revoked)."""
        match = _KEY.fullmatch(presented.strip())
        if match is None:
            raise ApiKeyInvalid("the API key is malformed; send `Authorization: Bearer vk_...`")
        key_id, secret = match.groups()
        row = self._row(key_id)
        if row is None or not hmac.compare_digest(row[1], _digest(secret)):
            raise ApiKeyInvalid("the API key is not valid")
        key = row[0]
        if key.revoked_at is not None:
            raise ApiKeyInvalid(f"the API key {key_id} was revoked")
        return key

    def _signed(self, key: ApiKey, digest: str) -> ApiKey:
        """The stored key as its last signed entry says; raises ApiKeyInvalid when the row was
        written or edited by hand (scopes, owner, rate or secret), or when it was revoked."""
        try:
            entry = self.ledger.latest(_key_subject(key.key_id), ("api-key-created", "api-key-revoked"))
        except SignatureInvalid as e:
            raise ApiKeyInvalid(f"the API key {key.key_id}'s ledger entry does not verify: {e}") from e
        if entry is None:
            raise ApiKeyInvalid(f"the API key {key.key_id} has no signed creation in the ledger "
                                "(a row written into the database by hand)")
        if entry.kind == "api-key-revoked":
            return replace(key, revoked_at=entry.time)
        body = entry.body
        signed = (body.get("owner"), tuple(body.get("scopes", ())), body.get("rate_per_minute"), body.get("secret_sha256"))
        if signed != (key.owner, key.scopes, key.rate_per_minute, digest) or key.revoked_at is not None:
            raise ApiKeyInvalid(f"the API key {key.key_id}'s stored record differs from its signed creation "
                                f"(ledger entry {entry.seq}): it was edited in the database")
        return key

    def key(self, key_id: str) -> ApiKey:
        """The stored key (active or revoked); raises UnknownApiKey."""
        row = self._row(key_id)
        if row is None:
            raise UnknownApiKey(f"no API key {key_id!r}")
        return row[0]

    def keys(self) -> list[ApiKey]:
        with self.db.read() as db:
            rows = db.execute(f"{_SELECT_KEY} ORDER BY created_at, key_id").fetchall()
        keys = []
        for row in rows:
            try:
                keys.append(self._signed(*_stored(row)))
            except ApiKeyInvalid:
                continue  # a forged or edited row is not a key
        return keys

    def revoke_key(self, key_id: str, now: float) -> None:
        """Raises UnknownApiKey, or ApiKeyInvalid if it was already revoked."""
        if self.key(key_id).revoked_at is not None:
            raise ApiKeyInvalid(f"the API key {key_id} was already revoked")
        self.ledger.append("api-key-revoked", {"key_id": key_id}, now=now, subject=_key_subject(key_id))
        with self.db.write() as db:
            db.execute("UPDATE api_keys SET revoked_at = :now WHERE key_id = :id", {"now": now, "id": key_id})

    def set_owner(self, voice_id: str, owner: str, now: float) -> None:
        """Record who enrolled a voice (the HTTP enrollment route calls this)."""
        self._relate(voice_id, owner, "owner", now)

    def grant(self, voice_id: str, owner: str, now: float) -> None:
        """Let `owner`'s keys speak with `voice_id` too."""
        _check_owner(owner)
        self._relate(voice_id, owner, "grant", now)

    def _relate(self, voice_id: str, owner: str, relation: str, now: float) -> None:
        if self._relation(voice_id, owner) is not None:
            return
        self.ledger.append("voice-access", {"voice_id": voice_id, "owner": owner, "relation": relation}, now=now,
                           subject=_access_subject(voice_id, owner))
        with self.db.write() as db:
            db.execute("INSERT INTO voice_access VALUES (:voice, :owner, :relation, :now) ON CONFLICT DO NOTHING",
                       {"voice": voice_id, "owner": owner, "relation": relation, "now": now})

    def _relation(self, voice_id: str, owner: str) -> str | None:
        """"owner" or "grant" as the signed ledger says (a row in voice_access alone grants nothing)."""
        try:
            entry = self.ledger.latest(_access_subject(voice_id, owner), ("voice-access",))
        except SignatureInvalid:
            return None
        return None if entry is None else entry.body.get("relation")

    def may_use(self, key: ApiKey, voice_id: str) -> bool:
        """Shared voices (house, model) are everyone's; an enrolled profile is its owner's and its
        grantees' (every profile is an admin key's)."""
        if not voice_id.startswith(PROFILE_PREFIX) or "admin" in key.scopes:
            return True
        return self._relation(voice_id, key.owner) is not None

    def owns(self, key: ApiKey, voice_id: str) -> bool:
        """Whether `key` may revoke or grant the voice: its owner enrolled it, or it is an admin key."""
        return "admin" in key.scopes or self._relation(voice_id, key.owner) == "owner"

    def profiles_of(self, owner: str, limit: int = MAX_LISTED_PROFILES) -> list[str]:
        """The enrolled profiles `owner` enrolled or was granted (as the signed ledger says), at most `limit`."""
        with self.db.read() as db:
            rows = db.execute("SELECT voice_id FROM voice_access WHERE owner = :owner ORDER BY voice_id LIMIT :limit",
                              {"owner": owner, "limit": limit}).fetchall()
        return [voice_id for voice_id, in rows if self._relation(voice_id, owner) is not None]

    def _row(self, key_id: str) -> tuple[ApiKey, str] | None:
        """The stored key, checked against its signed entries, and its secret's SHA-256."""
        with self.db.read() as db:
            row = db.execute(f"{_SELECT_KEY} WHERE key_id = :id", {"id": key_id}).fetchone()
        if row is None:
            return None
        key, digest = _stored(row)
        return self._signed(key, digest), digest


def _stored(row: tuple) -> tuple[ApiKey, str]:
    """A row of _SELECT_KEY -> the key and its secret's SHA-256."""
    kid, owner, scopes, digest, rate, created, revoked = row
    return ApiKey(kid, owner, tuple(json.loads(scopes)), rate, created, revoked), digest


def _key_subject(key_id: str) -> str:
    return f"api-key {key_id}"


def _access_subject(voice_id: str, owner: str) -> str:
    return f"access {voice_id} {owner}"


def _check_owner(owner: str) -> None:
    if not OWNER_NAME.fullmatch(owner):
        raise InvalidRecordRequest(f"owner {owner!r}: use 1-64 letters, digits, '.', '_', '@' or '-'")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()
