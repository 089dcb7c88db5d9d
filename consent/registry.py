"""The voice registry: signed voice records in SQLite, with revocation and expiry.

Every read verifies the record's signature: a row edited in the database (scope widened, expiry
extended, record swapped between voices) is refused, never trusted.
"""
from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from consent.errors import ConsentExpired, ProfileTampered, SignatureInvalid, UnknownVoice, VoiceRevoked
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
)
"""


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
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def register(self, profile: VoiceProfile) -> None:
        """Sign and store a new record; a voice id already present is left untouched (ValueError)."""
        signature = profile.sign(self.keys)
        with closing(self._connect()) as db, db:
            try:
                db.execute(
                    "INSERT INTO voices (voice_id, record, key_id, signature) VALUES (?, ?, ?, ?)",
                    (profile.voice_id, profile.canonical(), signature.key_id, signature.value),
                )
            except sqlite3.IntegrityError as e:
                raise ValueError(f"voice {profile.voice_id!r} is already registered") from e

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

    def check_at(self, voice_id: str, now: float) -> VoiceProfile:
        """The verified record of an active voice; raises UnknownVoice, ProfileTampered, VoiceRevoked
        or ConsentExpired."""
        stored = self._load(voice_id)
        if stored is None:
            raise UnknownVoice(voice_id, self.voice_ids())
        profile = self._verified(voice_id, stored)
        if stored.revoked_at is not None and stored.revoked_at <= now:
            raise VoiceRevoked(f"voice {voice_id!r} was revoked: {stored.revoked_reason or 'no reason given'}")
        if profile.expires_at is not None and profile.expires_at <= now:
            raise ConsentExpired(f"consent for voice {voice_id!r} expired at {profile.expires_at:.0f}")
        return profile

    def statuses_at(self, now: float) -> list[VoiceStatus]:
        """Every registered voice with its status; tampered records are listed, never trusted."""
        out = []
        for voice_id in self.voice_ids():
            try:
                out.append(VoiceStatus(voice_id, "active", self.check_at(voice_id, now)))
            except ProfileTampered as e:
                out.append(VoiceStatus(voice_id, "tampered", None, str(e)))
            except VoiceRevoked as e:
                out.append(VoiceStatus(voice_id, "revoked", self._verified(voice_id, self._load(voice_id)), str(e)))
            except ConsentExpired as e:
                out.append(VoiceStatus(voice_id, "expired", self._verified(voice_id, self._load(voice_id)), str(e)))
        return out

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
