"""Every refusal as an RFC 9457 problem (application/problem+json) with a specific `type`
(`urn:voicekit:problem:<slug>`).

Every project exception derives from consent.errors.VoicekitError and says its own HTTP status
and problem type, so one handler answers them all; the API's own refusals (auth, scopes, limits)
are `Problem`s, which are VoicekitErrors too. Anything else is a fault of ours: a 500 problem
whose body names a correlation id, with the traceback logged under that id, never sent.
"""
from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from consent.errors import VoicekitError
from detection.errors import GateRefused

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("voicekit.api")


class Problem(VoicekitError):
    """Raised by routes and dependencies for a refusal of their own (auth, scopes, limits)."""

    def __init__(self, status: int, slug: str, detail: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.http_status, self.problem, self.headers, self.extra = status, slug, headers, extra

    def problem_extra(self) -> dict[str, Any]:
        return self.extra


def problem_response(status: int, slug: str, detail: str, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body = {"type": f"urn:voicekit:problem:{slug}", "title": slug.replace("-", " "), "status": status,
            "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_for(error: VoicekitError) -> JSONResponse:
    """The one mapping: the error's own status, type, detail and extra fields."""
    headers = getattr(error, "headers", None)
    if error.http_status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    if error.http_status >= 500:
        log.warning("%s: %s", error.problem, error)
    return problem_response(error.http_status, error.problem, str(error), headers, **error.problem_extra())


def install(app: FastAPI) -> None:
    """Register the handlers that give every error a problem body."""

    @app.exception_handler(VoicekitError)
    async def _refused(_: Request, error: VoicekitError) -> JSONResponse:
        if isinstance(error, GateRefused):
            log.warning("release gate refused an output: %s", error)
        return problem_for(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in error.errors()]
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(422, "invalid-request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        return problem_response(error.status_code, slug, str(error.detail), dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def _fault(request: Request, error: Exception) -> JSONResponse:
        incident = secrets.token_hex(8)
        log.error("unexpected error %s on %s %s", incident, request.method, request.url.path, exc_info=error)
        return problem_response(500, "internal-error",
                                f"an unexpected error on our side; quote incident {incident} when reporting it",
                                incident=incident)
