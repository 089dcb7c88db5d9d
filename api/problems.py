"""Every refusal as an RFC 9457 problem (application/problem+json) with a specific `type`.

The packages below raise their own exception classes; this is the one place that turns them into
HTTP status codes, so the mapping is read in one table. Types are `urn:voicekit:problem:<slug>`.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from consent import errors as consent_errors
from detection import errors as detection_errors
from voicekit import errors as voicekit_errors
from voicekit.audiobook import JobCancelled, JobNotFound, JobNotReady
from voicekit.text.lexicon import LexiconError
from voicekit.text.ssml import SsmlError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("voicekit.api")


class Problem(Exception):
    """Raised by routes and dependencies for a refusal of their own (auth, scopes, limits)."""

    def __init__(self, status: int, slug: str, detail: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.headers, self.extra = status, slug, detail, headers, extra


# Most specific first: the first class an exception is an instance of decides.
_MAPPED: list[tuple[type[Exception], int, str]] = [
    (consent_errors.ApiKeyInvalid, 401, "invalid-api-key"),
    (consent_errors.ProfileNotGranted, 403, "voice-not-granted"),
    (consent_errors.UnknownVoice, 404, "unknown-voice"),
    (consent_errors.UnknownApiKey, 404, "unknown-api-key"),
    (consent_errors.VoiceRevoked, 403, "voice-revoked"),
    (consent_errors.ConsentExpired, 403, "consent-expired"),
    (consent_errors.ScopeNotAllowed, 403, "consent-scope"),
    (consent_errors.ProfileTampered, 409, "profile-tampered"),
    (consent_errors.ChallengeInvalid, 409, "challenge-invalid"),
    (consent_errors.EnrollmentRefused, 422, "enrollment-refused"),
    # Nothing is released while the ledger cannot record it: the operator must run `ledger repair`.
    (consent_errors.LedgerBroken, 503, "ledger-broken"),
    (consent_errors.LedgerCorrupt, 503, "ledger-corrupt"),
    (detection_errors.UnreadableAudio, 400, "unreadable-audio"),
    (detection_errors.WindowTooWide, 400, "window-too-wide"),
    # What the gate refuses in practice is audio too short or quiet to carry a verifiable mark
    # (a lone symbol or syllable), after three marks were tried: the request's content, so 422.
    (detection_errors.GateRefused, 422, "gate-refused"),
    (SsmlError, 400, "invalid-ssml"),
    (LexiconError, 400, "invalid-lexicon"),
    (voicekit_errors.BookError, 400, "invalid-book"),
    (JobNotFound, 404, "unknown-job"),
    (JobNotReady, 409, "job-not-ready"),
    (JobCancelled, 409, "job-cancelled"),
    (voicekit_errors.EmptyText, 400, "empty-text"),
    (voicekit_errors.UnsupportedFormat, 400, "unsupported-format"),
    (voicekit_errors.BadInput, 400, "bad-input"),
    (voicekit_errors.EngineUnavailable, 503, "engine-unavailable"),
]


def problem_response(status: int, slug: str, detail: str, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body = {"type": f"urn:voicekit:problem:{slug}", "title": slug.replace("-", " "), "status": status,
            "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_for(error: Exception) -> JSONResponse | None:
    """The response for one of the packages' exceptions, or None if it is not a known refusal."""
    for cls, status, slug in _MAPPED:
        if isinstance(error, cls):
            extra: dict[str, Any] = {}
            if isinstance(error, consent_errors.EnrollmentRefused):
                extra["failures"] = error.failures
            if isinstance(error, consent_errors.UnknownVoice):
                extra["known"] = error.known
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return problem_response(status, slug, str(error), headers, **extra)
    return None


def install(app: FastAPI) -> None:
    """Register the handlers that give every error a problem body."""

    @app.exception_handler(Problem)
    async def _own(_: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.slug, error.detail, error.headers, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in error.errors()]
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(422, "invalid-request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        return problem_response(error.status_code, slug, str(error.detail), dict(error.headers or {}))

    for cls, _status, _slug in _MAPPED:
        @app.exception_handler(cls)
        async def _mapped(_: Request, error: Exception) -> JSONResponse:
            if isinstance(error, detection_errors.GateRefused):
                log.warning("release gate refused an output: %s", error)
            return problem_for(error)
