"""The voice registry: signed voice records in SQLite, with revocation and expiry.

Every read verifies the record's signature: a row edited in the database (scope widened, expiry
extended, record swapped between voices) is refused, never trusted.
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from consent.challenges import Challenge
from consent.errors import (
    ChallengeInvalid,
    ConsentExpired,
    ProfileTampered,
    ScopeNotAllowed,
    SignatureInvalid,
    UnknownVoice,
    VoiceRevoked,
)
from consent.keys import RegistryKeys, Signature
from consent.profiles import SignedProfile, VoiceProfile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS voices (
    voice_id TEXT PRIMARY KEY,
    record BLOB NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    revoked_at REAL,
    revoked_reason TEXT
);
CREATE TABLE IF NOT EXISTS challenges (
    challenge_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    phrase TEXT NOT NULL,
    nonce TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL,
    failed_attempts INTEGER NOT NULL DEFAULT 0
);
"""
# Called inside a registry transaction, before it commits (the ledger append); if it raises, the
# change is rolled back, so the registry never holds a change the ledger does not.
OnCommit = Callable[[], object]


@dataclass(frozen=True)
class VoiceStatus:
    voice_id: str
    status: str  # active, revoked, expired or tampered
    profile: VoiceProfile | None
    detail: str = ""


class Registry:
    """SQLite-backed registry. path: the database file (created on first use)."""

    def __init__(self, path: Path, keys: RegistryKeys) -> None:
        self.path = Path(path)
        self.keys = keys
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def register(self, profile: VoiceProfile, challenge_id: str | None = None, now: float | None = None,
                 on_commit: OnCommit | None = None) -> None:
        """Sign and store a new record; a voice id already present is left untouched (ValueError).

        challenge_id: the consent challenge this record enrolled, consumed in the same transaction
        (ChallengeInvalid if another enrollment used it first).
        """
        signature = profile.sign(self.keys)
        now = time.time() if now is None else now
        with closing(self._connect()) as db, db:
            if challenge_id is not None:
                used = db.execute("UPDATE challenges SET used_at = ? WHERE challenge_id = ? AND used_at IS NULL",
                                  (now, challenge_id))
                if used.rowcount != 1:
                    raise ChallengeInvalid(f"challenge {challenge_id} was already used; ask for a new one")
            try:
                db.execute(
                    "INSERT INTO voices (voice_id, record, key_id, signature) VALUES (?, ?, ?, ?)",
                    (profile.voice_id, profile.canonical(), signature.key_id, signature.value),
                )
            except sqlite3.IntegrityError as e:
                raise ValueError(f"voice {profile.voice_id!r} is already registered") from e
            if on_commit is not None:
                on_commit()

    def revoke(self, voice_id: str, reason: str, now: float, on_commit: OnCommit | None = None) -> None:
        """Revoke a voice from `now` on; raises UnknownVoice, or VoiceRevoked if it already was."""
        with closing(self._connect()) as db, db:
            changed = db.execute(
                "UPDATE voices SET revoked_at = ?, revoked_reason = ? WHERE voice_id = ? AND revoked_at IS NULL",
                (now, reason, voice_id),
            )
            if changed.rowcount != 1:
                if self._load(voice_id) is None:
                    raise UnknownVoice(voice_id, self.voice_ids())
                raise VoiceRevoked(f"voice {voice_id!r} was already revoked")
            if on_commit is not None:
                on_commit()

    def add_challenge(self, challenge: Challenge, on_commit: OnCommit | None = None) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO challenges (challenge_id, name, phrase, nonce, issued_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (challenge.challenge_id, challenge.name, challenge.phrase, json.dumps(list(challenge.nonce)),
                 challenge.issued_at, challenge.expires_at),
            )
            if on_commit is not None:
                on_commit()

    def challenge(self, challenge_id: str) -> Challenge:
        """The stored challenge; raises ChallengeInvalid for an unknown id."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT challenge_id, name, phrase, nonce, issued_at, expires_at, used_at, failed_attempts "
                "FROM challenges WHERE challenge_id = ?", (challenge_id,),
            ).fetchone()
        if row is None:
            raise ChallengeInvalid(f"unknown challenge {challenge_id!r}; ask for one with `voicekit consent challenge`")
        cid, name, phrase, nonce, issued_at, expires_at, used_at, failed = row
        return Challenge(cid, name, phrase, tuple(json.loads(nonce)), issued_at, expires_at, used_at, failed)

    def count_failed_attempt(self, challenge_id: str) -> None:
        with closing(self._connect()) as db, db:
            db.execute("UPDATE challenges SET failed_attempts = failed_attempts + 1 WHERE challenge_id = ?",
                       (challenge_id,))

    def ensure(self, profiles: list[VoiceProfile]) -> None:
        """Register those of `profiles` that are not registered yet (house voices at first start)."""
        known = set(self.voice_ids())
        for profile in profiles:
            if profile.voice_id not in known:
                self.register(profile)

    def voice_ids(self) -> list[str]:
        with closing(self._connect()) as db:
            return [row[0] for row in db.execute("SELECT voice_id FROM voices ORDER BY voice_id")]

    def check(self, voice_id: str) -> VoiceProfile:
        return self.check_at(voice_id, now=time.time())

    def check_at(self, voice_id: str, now: float, scope: str | None = None) -> VoiceProfile:
        """The verified record of an active voice whose consent covers `scope` (None: any); raises
        UnknownVoice, ProfileTampered, VoiceRevoked, ConsentExpired or ScopeNotAllowed."""
        stored = self._load(voice_id)
        if stored is None:
            raise UnknownVoice(voice_id, self.voice_ids())
        profile = self._verified(voice_id, stored)
        if stored.revoked_at is not None and stored.revoked_at <= now:
            raise VoiceRevoked(f"voice {voice_id!r} was revoked: {stored.revoked_reason or 'no reason given'}")
        if profile.expires_at is not None and profile.expires_at <= now:
            raise ConsentExpired(f"consent for voice {voice_id!r} expired at {profile.expires_at:.0f}")
        if scope is not None and scope not in profile.scopes:
            raise ScopeNotAllowed(
                f"the consent for voice {voice_id!r} covers {', '.join(profile.scopes) or 'nothing'}, not {scope!r}")
        return profile

    def statuses_at(self, now: float) -> list[VoiceStatus]:
        """Every registered voice with its status; tampered records are listed, never trusted."""
        return [self.status_at(voice_id, now) for voice_id in self.voice_ids()]

    def status_at(self, voice_id: str, now: float) -> VoiceStatus:
        """One voice's status: active, revoked, expired or tampered; raises UnknownVoice."""
        try:
            return VoiceStatus(voice_id, "active", self.check_at(voice_id, now))
        except ProfileTampered as e:
            return VoiceStatus(voice_id, "tampered", None, str(e))
        except (VoiceRevoked, ConsentExpired) as e:
            status = "revoked" if isinstance(e, VoiceRevoked) else "expired"
            return VoiceStatus(voice_id, status, self._verified(voice_id, self._load(voice_id)), str(e))

    def _load(self, voice_id: str) -> SignedProfile | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT record, key_id, signature, revoked_at, revoked_reason FROM voices WHERE voice_id = ?",
                (voice_id,),
            ).fetchone()
        if row is None:
            return None
        record, key_id, signature, revoked_at, reason = row
        return SignedProfile(bytes(record), Signature(key_id, signature), revoked_at, reason)

    def _verified(self, voice_id: str, stored: SignedProfile) -> VoiceProfile:
        try:
            profile = stored.verify(self.keys)
        except SignatureInvalid as e:
            raise ProfileTampered(f"voice {voice_id!r} record does not match its signature: {e}") from e
        except (ValueError, TypeError, KeyError) as e:
            raise ProfileTampered(f"voice {voice_id!r} record is signed but malformed") from e
        if profile.voice_id != voice_id:
            raise ProfileTampered(f"row {voice_id!r} holds the signed record of {profile.voice_id!r}")
        return profile
