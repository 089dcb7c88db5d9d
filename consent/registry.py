"""The voice registry: signed voice records in the records' database, with revocation and expiry.

Every read verifies the record's signature: a row edited in the database (scope widened, expiry
extended, record swapped between voices) is refused, never trusted. A record's state (registered,
revoked) is decided by its last signed ledger entry, found through the ledger's index: the row's
`revoked_at` is a copy for listing, so clearing it in SQLite revives nothing, and a row with no
signed registration behind it is refused. Each change is written to the ledger first and to the
row after, so a failure between the two leaves the ledger (the authority) right.

The registry's database also keeps the ledger's witness (`LedgerWitness`) and the trusted keys
(`consent.trust`), apart from the ledger they vouch for.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consent.canonical import canonical_bytes
from consent.challenges import Challenge
from consent.database import Database
from consent.errors import (
    ChallengeInvalid,
    ConsentExpired,
    DuplicateKey,
    InvalidRecordRequest,
    LedgerBroken,
    ProfileTampered,
    ScopeNotAllowed,
    SignatureInvalid,
    UnknownVoice,
    VoiceRevoked,
)
from consent.keys import RegistryKeys, Signature
from consent.ledger import Ledger
from consent.profiles import PROFILE_PREFIX, SignedProfile, VoiceProfile

REGISTERED = ("voice-registered", "enrollment", "voice-added")  # ledger kinds that register a record
STATE_KINDS = (*REGISTERED, "revocation")

class LedgerWitness:
    """The registry's signed copy of the ledger's last (seq, hash): see `consent.ledger.Witness`.
    where: the registry's database (its SQLite file, or the server's)."""

    def __init__(self, where: Path | Database, keys: RegistryKeys) -> None:
        self.db = Database.of(where)
        self.keys = keys
        self.db.create(("ledger_witness",))

    def read(self) -> tuple[int, str] | None:
        with self.db.read() as db:
            row = db.execute("SELECT seq, hash, key_id, signature FROM ledger_witness").fetchone()
        if row is None:
            return None
        seq, digest, key_id, value = row
        try:
            self.keys.verify(canonical_bytes({"seq": seq, "hash": digest}), Signature(key_id, value))
        except SignatureInvalid as e:
            raise LedgerBroken(f"the registry's witness of the ledger does not verify ({e})") from e
        return seq, digest

    def write(self, seq: int, digest: str, replace: bool = False) -> None:
        signature = self.keys.sign(canonical_bytes({"seq": seq, "hash": digest}))
        condition = "" if replace else " WHERE excluded.seq > ledger_witness.seq"
        with self.db.write() as db:
            db.execute("INSERT INTO ledger_witness (id, seq, hash, key_id, signature) "
                       "VALUES (1, :seq, :hash, :key_id, :signature) "
                       "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
                       f"key_id = excluded.key_id, signature = excluded.signature{condition}",
                       {"seq": seq, "hash": digest, "key_id": signature.key_id, "signature": signature.value})


@dataclass(frozen=True)
class VoiceStatus:
    voice_id: str
    status: str  # active, revoked, expired or tampered
    profile: VoiceProfile | None
    detail: str = ""


class Registry:
    """where: the registry's database (a SQLite file, created 0600 on first use, or the server's).
    ledger: where every change is recorded, and what decides each record's state."""

    def __init__(self, where: Path | Database, keys: RegistryKeys, ledger: Ledger) -> None:
        self.db = Database.of(where)
        self.keys = keys
        self.ledger = ledger
        self.db.create(("voices", "challenges"))

    def register(self, profile: VoiceProfile, now: float, kind: str = "voice-registered",
                 details: dict[str, Any] | None = None, challenge_id: str | None = None) -> None:
        """Sign and store a new record, registered by a ledger entry of `kind` (REGISTERED) whose
        body holds the record's SHA-256 and `details`. Raises InvalidRecordRequest for a voice id already
        present, ChallengeInvalid for a challenge already used (it is consumed first, so two
        enrollments cannot both use it)."""
        if kind not in REGISTERED:
            raise InvalidRecordRequest(f"{kind!r} does not register a voice")
        if self._load(profile.voice_id) is not None:
            raise InvalidRecordRequest(f"voice {profile.voice_id!r} is already registered")
        signature = profile.sign(self.keys)
        if challenge_id is not None:
            with self.db.write() as db:
                used = db.execute("UPDATE challenges SET used_at = :now WHERE challenge_id = :id AND used_at IS NULL",
                                  {"now": now, "id": challenge_id})
                if used.rowcount != 1:
                    raise ChallengeInvalid(f"challenge {challenge_id} was already used; ask for a new one")
        self.ledger.append(kind, {
            "voice_id": profile.voice_id, "record_sha256": hashlib.sha256(profile.canonical()).hexdigest(),
            **({"challenge_id": challenge_id} if challenge_id else {}), **(details or {}),
        }, now=now, subject=profile.voice_id)
        try:
            with self.db.write() as db:
                db.execute("INSERT INTO voices (voice_id, record, key_id, signature) "
                           "VALUES (:id, :record, :key_id, :signature)",
                           {"id": profile.voice_id, "record": profile.canonical(), "key_id": signature.key_id,
                            "signature": signature.value})
        except DuplicateKey as e:
            raise InvalidRecordRequest(f"voice {profile.voice_id!r} is already registered") from e

    def revoke(self, voice_id: str, reason: str, now: float) -> None:
        """Revoke a voice from `now` on (a signed ledger entry first, then the row's copy); raises
        UnknownVoice, or VoiceRevoked if it already was."""
        status = self.status_at(voice_id, now)
        if status.status == "revoked":
            raise VoiceRevoked(f"voice {voice_id!r} was already revoked")
        self.ledger.append("revocation", {"voice_id": voice_id, "reason": reason}, now=now, subject=voice_id)
        with self.db.write() as db:
            db.execute("UPDATE voices SET revoked_at = :now, revoked_reason = :reason WHERE voice_id = :id",
                       {"now": now, "reason": reason, "id": voice_id})

    def add_challenge(self, challenge: Challenge) -> None:
        """Store a challenge, recorded in the ledger first."""
        self.ledger.append("consent-challenge", {
            "challenge_id": challenge.challenge_id, "name": challenge.name, "expires_at": challenge.expires_at,
        }, now=challenge.issued_at)
        with self.db.write() as db:
            db.execute(
                "INSERT INTO challenges (challenge_id, name, phrase, nonce, issued_at, expires_at) "
                "VALUES (:id, :name, :phrase, :nonce, :issued_at, :expires_at)",
                {"id": challenge.challenge_id, "name": challenge.name, "phrase": challenge.phrase,
                 "nonce": json.dumps(list(challenge.nonce)), "issued_at": challenge.issued_at,
                 "expires_at": challenge.expires_at},
            )

    def challenge(self, challenge_id: str) -> Challenge:
        """The stored challenge; raises ChallengeInvalid for an unknown id."""
        with self.db.read() as db:
            row = db.execute(
                "SELECT challenge_id, name, phrase, nonce, issued_at, expires_at, used_at, failed_attempts "
                "FROM challenges WHERE challenge_id = :id", {"id": challenge_id},
            ).fetchone()
        if row is None:
            raise ChallengeInvalid(f"unknown challenge {challenge_id!r}; ask for one with `voicekit consent challenge`")
        cid, name, phrase, nonce, issued_at, expires_at, used_at, failed = row
        return Challenge(cid, name, phrase, tuple(json.loads(nonce)), issued_at, expires_at, used_at, failed)

    def count_failed_attempt(self, challenge_id: str) -> None:
        with self.db.write() as db:
            db.execute("UPDATE challenges SET failed_attempts = failed_attempts + 1 WHERE challenge_id = :id",
                       {"id": challenge_id})

    def ensure(self, profiles: list[VoiceProfile], now: float) -> None:
        """Register those of `profiles` that are not registered yet (house voices at first start)."""
        known = set(self.voice_ids())
        for profile in profiles:
            if profile.voice_id not in known:
                self.register(profile, now=now)

    def adopt_unrecorded(self, now: float) -> list[str]:
        """Give each stored record that verifies but has no registration in the ledger one
        (`voice-registered`, marked adopted): house voices of a home written before every
        registration was a ledger entry. Rows that do not verify stay refused. Returns the ids."""
        adopted = []
        for voice_id in self.voice_ids():
            stored = self._load(voice_id)
            try:
                self._verified(voice_id, stored)
            except ProfileTampered:
                continue
            if self.ledger.latest(voice_id, STATE_KINDS) is None:
                self.ledger.append("voice-registered", {
                    "voice_id": voice_id, "record_sha256": hashlib.sha256(stored.record).hexdigest(), "adopted": True,
                }, now=now, subject=voice_id)
                adopted.append(voice_id)
        return adopted

    def voice_ids(self) -> list[str]:
        with self.db.read() as db:
            return [row[0] for row in db.execute("SELECT voice_id FROM voices ORDER BY voice_id")]

    def shared_voices(self) -> list[str]:
        """The voices anyone may name (house and model voices); enrolled profiles
        (`profile:...`) are private to their owners and never listed here."""
        with self.db.read() as db:
            return [row[0] for row in db.execute(
                "SELECT voice_id FROM voices WHERE voice_id NOT LIKE :profiles ORDER BY voice_id",
                {"profiles": f"{PROFILE_PREFIX}%"})]

    def exists(self, voice_id: str) -> bool:
        with self.db.read() as db:
            return db.execute("SELECT 1 FROM voices WHERE voice_id = :id", {"id": voice_id}).fetchone() is not None

    def check(self, voice_id: str) -> VoiceProfile:
        return self.check_at(voice_id, now=time.time())

    def check_at(self, voice_id: str, now: float, scope: str | None = None) -> VoiceProfile:
        """The verified record of an active voice whose consent covers `scope` (None: any); raises
        UnknownVoice, ProfileTampered, VoiceRevoked, ConsentExpired or ScopeNotAllowed."""
        stored = self._load(voice_id)
        if stored is None:
            # Enrolled profiles are private to their owners: only shared voices are named.
            raise UnknownVoice(voice_id, self.shared_voices())
        profile = self._verified(voice_id, stored)
        revoked = self._revocation(voice_id, stored)
        if revoked is not None and revoked[0] <= now:
            raise VoiceRevoked(f"voice {voice_id!r} was revoked: {revoked[1]}")
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
        with self.db.read() as db:
            row = db.execute(
                "SELECT record, key_id, signature, revoked_at, revoked_reason FROM voices WHERE voice_id = :id",
                {"id": voice_id},
            ).fetchone()
        if row is None:
            return None
        record, key_id, signature, revoked_at, reason = row
        return SignedProfile(bytes(record), Signature(key_id, signature), revoked_at, reason)

    def _revocation(self, voice_id: str, stored: SignedProfile) -> tuple[float, str] | None:
        """(when, why) if the voice's last signed state entry revokes it; raises ProfileTampered
        when no verified registration of this very record is behind the row."""
        try:
            entry = self.ledger.latest(voice_id, STATE_KINDS)
        except SignatureInvalid as e:
            raise ProfileTampered(f"voice {voice_id!r}: its last ledger entry does not verify: {e}") from e
        if entry is None:
            raise ProfileTampered(f"voice {voice_id!r} has no signed registration in the ledger "
                                  "(a row written into the registry by hand)")
        if entry.kind == "revocation":
            reason = entry.body.get("reason") or "no reason given"
            if stored.revoked_at is None:
                reason += f" (ledger entry {entry.seq}; the registry's row had been altered to say active)"
            return entry.time, reason
        if entry.body.get("record_sha256") != hashlib.sha256(stored.record).hexdigest():
            raise ProfileTampered(f"voice {voice_id!r}: the stored record is not the one ledger entry "
                                  f"{entry.seq} registered")
        if stored.revoked_at is not None:
            raise ProfileTampered(f"voice {voice_id!r}: the registry's row says revoked but no signed "
                                  "revocation is in the ledger")
        return None

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
