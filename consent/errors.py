"""Every exception the project raises for a refusal derives from `VoicekitError`, defined here
because `consent` is the package every other one imports. Each class says, once, what it becomes
at the edges: the CLI's exit code and the HTTP status and problem type, so the CLI and the API
each turn an error into an answer with one lookup (`exit_code`, `http_status`, `problem`) and a
new class cannot be forgotten in a mapping table. The other packages' `errors.py` derive from these.
"""
from __future__ import annotations

from typing import Any

EXIT_ERROR, EXIT_BAD_INPUT, EXIT_CONSENT, EXIT_GATE, EXIT_LEDGER, EXIT_ENGINE = 1, 2, 3, 4, 5, 6


class VoicekitError(Exception):
    """The root. `problem` is the slug of the problem type `urn:voicekit:problem:<problem>`;
    `cli_prefix` starts the CLI's one line (what kind of refusal it is)."""

    exit_code: int = EXIT_ERROR
    http_status: int = 500
    problem: str = "internal-error"
    cli_prefix: str = ""

    def problem_extra(self) -> dict[str, Any]:
        """Fields a problem+json body carries beside its detail (only what the caller may see)."""
        return {}


class BadInput(VoicekitError):
    """The request itself is wrong (empty text, bad format, bad path, bad rate, bad name)."""

    exit_code, http_status, problem = EXIT_BAD_INPUT, 400, "bad-input"


class TooLong(BadInput):
    """A request or upload is over a documented duration or size limit (rendered or decoded
    seconds, characters): refused before the work that the limit bounds."""

    http_status, problem = 413, "too-long"


class ConsentError(VoicekitError):
    """Base class: the registry refuses the request."""

    exit_code, http_status, problem, cli_prefix = EXIT_CONSENT, 403, "consent-refused", "consent refused: "


class UnknownVoice(ConsentError):
    """No voice of that name is registered *that this caller may use*: `known` lists the caller's
    own voices (the house voices, theirs and those granted to them), never other owners'."""

    http_status, problem = 404, "unknown-voice"

    def __init__(self, voice: str, known: list[str]) -> None:
        super().__init__(f"unknown voice {voice!r}; voices you may use: {', '.join(known) or 'none'}")
        self.voice = voice
        self.known = known

    def problem_extra(self) -> dict[str, Any]:
        return {"known": self.known}


class VoiceRevoked(ConsentError):
    """The voice's consent was revoked."""

    problem = "voice-revoked"


class ConsentExpired(ConsentError):
    """The voice's consent has expired."""

    problem = "consent-expired"


class ProfileTampered(ConsentError):
    """The stored voice record does not match its signature, or was signed by a key we do not hold."""

    http_status, problem = 409, "profile-tampered"


class KeyStoreError(ConsentError):
    """The registry's keys cannot be loaded (wrong passphrase, unreadable or corrupt key file):
    no consent decision, so exit 1 and a server error."""

    exit_code, http_status, problem, cli_prefix = EXIT_ERROR, 500, "key-store", "signing keys: "


class LedgerCorrupt(ConsentError):
    """The ledger cannot be read or appended to because its chain is broken."""

    exit_code, http_status, problem, cli_prefix = EXIT_LEDGER, 503, "ledger-corrupt", "ledger: "


class LedgerBroken(LedgerCorrupt):
    """The chain is broken (missing, cut, forked, edited): nothing is appended, so no audio is
    released, until `voicekit ledger repair` records the damage in a signed entry."""

    problem = "ledger-broken"


class CheckpointInvalid(LedgerCorrupt):
    """An auditor's checkpoint does not verify, or the ledger no longer holds the entry it names."""

    http_status, problem = 409, "checkpoint-invalid"


class SignatureInvalid(ConsentError):
    """A signature does not verify, or names a key id we do not hold."""

    http_status, problem = 409, "signature-invalid"


class ScopeNotAllowed(ConsentError):
    """The voice's consent does not cover this operation (for example singing with a tts-only profile)."""

    problem = "consent-scope"


class ChallengeInvalid(ConsentError):
    """The consent challenge is unknown, expired, already used, or was issued for another name."""

    http_status, problem = 409, "challenge-invalid"


class EnrollmentRefused(ConsentError):
    """At least one enrollment check failed; `failures` says which and by how much, one line each."""

    http_status, problem = 422, "enrollment-refused"

    def __init__(self, failures: list[str]) -> None:
        super().__init__("; ".join(failures))
        self.failures = failures

    def problem_extra(self) -> dict[str, Any]:
        return {"failures": self.failures}


class SealedDataError(ConsentError):
    """Encrypted reference audio cannot be opened: wrong key, or the file was altered."""

    http_status, problem = 500, "sealed-data"


class ApiKeyInvalid(ConsentError):
    """An HTTP caller's API key is missing, malformed, unknown, wrong or revoked."""

    http_status, problem = 401, "invalid-api-key"


class UnknownApiKey(ConsentError):
    """No API key has that id (among the caller's)."""

    exit_code, http_status, problem, cli_prefix = EXIT_BAD_INPUT, 404, "unknown-api-key", ""


class InvalidRecordRequest(BadInput):
    """A request to the records is malformed: a bad name, owner, scope, lifetime or rate, or a
    voice id that is already registered."""


class DuplicateKey(VoicekitError):
    """A row with that key is already stored (a drawn mark id, a voice id): the store that tried
    draws again or turns it into its own refusal; never shown as it is."""


class DatabaseUnavailable(VoicekitError):
    """The records' database cannot be used: unreachable, a bad URL, or a server whose schema is not
    at the revision this version needs (`voicekit db upgrade`). Nothing was read or written."""

    exit_code, http_status, problem, cli_prefix = EXIT_LEDGER, 503, "database-unavailable", "database unavailable: "
