"""Exceptions of the consent package; the CLI and HTTP layers map them to exit and status codes."""


class ConsentError(Exception):
    """Base class: the registry refuses the request."""


class UnknownVoice(ConsentError):
    """No voice or profile of that name is registered."""

    def __init__(self, voice: str, known: list[str]) -> None:
        super().__init__(f"unknown voice {voice!r}; known voices: {', '.join(known) or 'none'}")
        self.voice = voice
        self.known = known


class VoiceRevoked(ConsentError):
    """The voice's consent was revoked."""


class ConsentExpired(ConsentError):
    """The voice's consent has expired."""


class ProfileTampered(ConsentError):
    """The stored voice record does not match its signature, or was signed by a key we do not hold."""


class KeyStoreError(ConsentError):
    """The registry's keys cannot be loaded (wrong passphrase, unreadable or corrupt key file)."""


class LedgerCorrupt(ConsentError):
    """The ledger cannot be read or appended to because its chain is broken."""


class LedgerBroken(LedgerCorrupt):
    """The chain is broken (missing, cut, forked, edited): nothing is appended, so no audio is
    released, until `voicekit ledger repair` records the damage in a signed entry."""


class CheckpointInvalid(LedgerCorrupt):
    """An auditor's checkpoint does not verify, or the ledger no longer holds the entry it names."""


class SignatureInvalid(ConsentError):
    """A signature does not verify, or names a key id we do not hold."""


class ScopeNotAllowed(ConsentError):
    """The voice's consent does not cover this operation (for example singing with a tts-only profile)."""


class ChallengeInvalid(ConsentError):
    """The consent challenge is unknown, expired, already used, or was issued for another name."""


class EnrollmentRefused(ConsentError):
    """At least one enrollment check failed; `failures` says which and by how much, one line each."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__("; ".join(failures))
        self.failures = failures


class SealedDataError(ConsentError):
    """Encrypted reference audio cannot be opened: wrong key, or the file was altered."""


class ApiKeyInvalid(ConsentError):
    """An HTTP caller's API key is missing, malformed, unknown, wrong or revoked."""


class UnknownApiKey(ConsentError):
    """No API key has that id."""


class ProfileNotGranted(ConsentError):
    """The caller's owner neither enrolled the voice nor was granted it."""
