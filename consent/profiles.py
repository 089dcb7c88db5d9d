"""The voice record: what may be synthesised, under which licence or consent, signed by the registry.

House voices and enrolled clones share this record; `kind` tells them apart. Revocation is registry
state kept beside the record (a record never changes after it is signed).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from consent.canonical import canonical_bytes
from consent.keys import RegistryKeys, Signature

if TYPE_CHECKING:
    from consent.details import Details

RECORD_VERSION = 1
PROFILE_PREFIX = "profile:"  # the voice ids of enrolled people, private to their owners


@dataclass(frozen=True)
class VoiceProfile:
    """voice_id: 'heart', 'joe' or 'profile:<id>'. Times are Unix seconds; expires_at None = no expiry."""

    voice_id: str
    kind: str  # "house", "model" (a registered coqui-tts model) or "clone"
    engine: str
    display_name: str
    licence: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    version: int = RECORD_VERSION

    def canonical(self) -> bytes:
        record = asdict(self)
        record["scopes"] = list(self.scopes)
        return canonical_bytes(record)

    @classmethod
    def from_canonical(cls, data: bytes) -> "VoiceProfile":
        record = json.loads(data)
        record["scopes"] = tuple(record["scopes"])
        return cls(**record)

    def sign(self, keys: RegistryKeys) -> Signature:
        return keys.sign(self.canonical())

    @property
    def typed_details(self) -> "Details":
        """`details` as the typed value for this record's kind (consent.details)."""
        from consent.details import typed

        return typed(self.kind, self.details)


@dataclass(frozen=True)
class SignedProfile:
    """A record as stored: its canonical bytes, the signature over them, and registry state."""

    record: bytes
    signature: Signature
    revoked_at: float | None = None
    revoked_reason: str | None = None

    def verify(self, keys: RegistryKeys) -> VoiceProfile:
        """The record, once its signature verifies; raises SignatureInvalid otherwise."""
        keys.verify(self.record, self.signature)
        return VoiceProfile.from_canonical(self.record)
