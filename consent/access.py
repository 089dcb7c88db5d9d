"""Who may call the HTTP service, and which enrolled voices each caller may use.

An API key belongs to an owner (a person or an organisation) and carries scopes. Only a SHA-256
of the key's secret is stored: the secret is 256 random bits, so a plain hash is as hard to reverse
as the secret is to guess, and a lookup by the key's public id keeps the comparison to one row.

Enrolled voices (profiles of kind "clone") are private: a key may speak with one only if its owner
enrolled it or was granted it. House and model voices are open to every key with the speak scope.
An admin key may use and manage everything. Key creation, revocation and grants go to the ledger.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from consent.errors import ApiKeyInvalid, ProfileNotGranted, UnknownApiKey
from consent.ledger import Ledger
from consent.profiles import VoiceProfile

API_SCOPES = ("speak", "enroll", "profiles", "audit", "admin")
DEFAULT_RATE_PER_MINUTE = 600
OWNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_KEY = re.compile(r"vk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    rate_per_minute INTEGER NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS voice_access (
    voice_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    relation TEXT NOT NULL,  -- "owner" (enrolled it) or "grant"
    since REAL NOT NULL,
    PRIMARY KEY (voice_id, owner)
);
"""
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
    """path: the registry database (tables are created on first use); ledger: where changes are recorded."""

    def __init__(self, path: Path, ledger: Ledger) -> None:
        self.path = Path(path)
        self.ledger = ledger
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def create_key(self, owner: str, scopes: tuple[str, ...], now: float,
                   rate_per_minute: int = DEFAULT_RATE_PER_MINUTE) -> tuple[ApiKey, str]:
        """A new key and its secret (`vk_<key id>_<secret>`), which is not stored and cannot be shown again.
        Raises ValueError for an unknown scope, a bad owner name or a rate below 1."""
        _check_owner(owner)
        unknown = sorted(set(scopes) - set(API_SCOPES))
        if unknown or not scopes:
            raise ValueError(f"scopes must be among {', '.join(API_SCOPES)}; got {', '.join(unknown) or 'none'}")
        if rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        key = ApiKey(secrets.token_hex(6), owner, tuple(s for s in API_SCOPES if s in scopes), rate_per_minute, now)
        secret = secrets.token_urlsafe(32)
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                       (key.key_id, owner, json.dumps(list(key.scopes)), _digest(secret), rate_per_minute, now))
            self.ledger.append("api-key-created", {"key_id": key.key_id, "owner": owner,
                                                   "scopes": list(key.scopes)}, now=now)
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

    def key(self, key_id: str) -> ApiKey:
        """The stored key (active or revoked); raises UnknownApiKey."""
        row = self._row(key_id)
        if row is None:
            raise UnknownApiKey(f"no API key {key_id!r}")
        return row[0]

    def keys(self) -> list[ApiKey]:
        with closing(self._connect()) as db:
            rows = db.execute(f"{_SELECT_KEY} ORDER BY created_at, key_id").fetchall()
        return [_stored(row)[0] for row in rows]

    def revoke_key(self, key_id: str, now: float) -> None:
        """Raises UnknownApiKey, or ApiKeyInvalid if it was already revoked."""
        with closing(self._connect()) as db, db:
            changed = db.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                                 (now, key_id))
            if changed.rowcount != 1:
                if self._row(key_id) is None:
                    raise UnknownApiKey(f"no API key {key_id!r}")
                raise ApiKeyInvalid(f"the API key {key_id} was already revoked")
            self.ledger.append("api-key-revoked", {"key_id": key_id}, now=now)

    def set_owner(self, voice_id: str, owner: str, now: float) -> None:
        """Record who enrolled a voice (the HTTP enrollment route calls this)."""
        self._relate(voice_id, owner, "owner", now)

    def grant(self, voice_id: str, owner: str, now: float) -> None:
        """Let `owner`'s keys speak with `voice_id` too."""
        _check_owner(owner)
        self._relate(voice_id, owner, "grant", now)

    def _relate(self, voice_id: str, owner: str, relation: str, now: float) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR IGNORE INTO voice_access VALUES (?, ?, ?, ?)", (voice_id, owner, relation, now))
            self.ledger.append("voice-access", {"voice_id": voice_id, "owner": owner, "relation": relation}, now=now)

    def may_use(self, key: ApiKey, profile: VoiceProfile) -> bool:
        if profile.kind != "clone" or "admin" in key.scopes:
            return True
        with closing(self._connect()) as db:
            row = db.execute("SELECT 1 FROM voice_access WHERE voice_id = ? AND owner = ?",
                             (profile.voice_id, key.owner)).fetchone()
        return row is not None

    def owns(self, key: ApiKey, voice_id: str) -> bool:
        """Whether `key` may revoke or grant the voice: its owner enrolled it, or it is an admin key."""
        if "admin" in key.scopes:
            return True
        with closing(self._connect()) as db:
            row = db.execute("SELECT 1 FROM voice_access WHERE voice_id = ? AND owner = ? AND relation = 'owner'",
                             (voice_id, key.owner)).fetchone()
        return row is not None

    def check_use(self, key: ApiKey, profile: VoiceProfile) -> None:
        """Raises ProfileNotGranted unless `key` may speak with `profile`."""
        if not self.may_use(key, profile):
            raise ProfileNotGranted(
                f"the voice {profile.voice_id!r} was enrolled by another owner and not granted to {key.owner!r}")

    def _row(self, key_id: str) -> tuple[ApiKey, str] | None:
        with closing(self._connect()) as db:
            row = db.execute(f"{_SELECT_KEY} WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else _stored(row)


def _stored(row: tuple) -> tuple[ApiKey, str]:
    """A row of _SELECT_KEY -> the key and its secret's SHA-256."""
    kid, owner, scopes, digest, rate, created, revoked = row
    return ApiKey(kid, owner, tuple(json.loads(scopes)), rate, created, revoked), digest


def _check_owner(owner: str) -> None:
    if not OWNER_NAME.fullmatch(owner):
        raise ValueError(f"owner {owner!r}: use 1-64 letters, digits, '.', '_', '@' or '-'")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()
