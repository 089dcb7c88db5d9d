"""Consent challenges: a phrase for one named person to read, single-use and short-lived.

The registry stores them (consent.registry); a challenge is consumed in the same transaction that
stores the profile it enrolled, so two enrollments can never share one.
"""
from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any

from consent.errors import ChallengeInvalid, InvalidRecordRequest
from consent.phonemes import words_of
from consent.statement import NEGATIONS, consent_phrase, draw_nonce

DEFAULT_TTL_S = 600.0
MAX_NAME_CHARS = 100
MAX_FAILED_ATTEMPTS = 3


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    name: str
    phrase: str
    nonce: tuple[str, ...]
    issued_at: float
    expires_at: float
    used_at: float | None = None
    failed_attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nonce"] = list(self.nonce)
        return d

    def usable_by(self, name: str | None, now: float) -> None:
        """Raise ChallengeInvalid unless this challenge may enroll `name` (None: its own name) now."""
        if self.used_at is not None:
            raise ChallengeInvalid(f"challenge {self.challenge_id} was already used; ask for a new one")
        if now >= self.expires_at:
            raise ChallengeInvalid(
                f"challenge {self.challenge_id} expired {now - self.expires_at:.0f} s ago; ask for a new one")
        if self.failed_attempts >= MAX_FAILED_ATTEMPTS:
            raise ChallengeInvalid(
                f"challenge {self.challenge_id} failed {self.failed_attempts} times; ask for a new one")
        if name is not None and _normalised(name) != _normalised(self.name):
            raise ChallengeInvalid(f"challenge {self.challenge_id} was issued for {self.name!r}, not {name!r}")


def new_challenge(
    name: str, now: float, ttl_s: float = DEFAULT_TTL_S, nonce: tuple[str, ...] | None = None
) -> Challenge:
    """A fresh challenge for `name`; raises InvalidRecordRequest for a name that cannot be read aloud safely.

    nonce: fixed words, for reproducible tests and benchmarks only; by default they are random."""
    name = " ".join(name.split())
    words = words_of(name)
    if not words or len(name) > MAX_NAME_CHARS:
        raise InvalidRecordRequest(f"the name must contain letters and be at most {MAX_NAME_CHARS} characters")
    if NEGATIONS.intersection(words):
        raise InvalidRecordRequest("the name contains a negation word, which the statement check must reject")
    if not 0 < ttl_s <= 86400:
        raise InvalidRecordRequest("the challenge lifetime must be between 0 and 86400 seconds")
    nonce = nonce or draw_nonce()
    return Challenge(
        challenge_id=secrets.token_hex(8),
        name=name,
        phrase=consent_phrase(name, nonce),
        nonce=nonce,
        issued_at=now,
        expires_at=now + ttl_s,
    )


def _normalised(name: str) -> str:
    return " ".join(words_of(name))
