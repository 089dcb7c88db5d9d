"""What routes depend on: the running service's parts, and the caller's key with a scope checked.

Each scope is an Annotated alias, so a route says what it needs in its signature
(`key: SpeakKey`) and OpenAPI shows the bearer scheme on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.limits import RateLimiter, RenderSlots
from api.problems import Problem
from api.settings import ServiceSettings
from consent.access import AccessControl, ApiKey
from consent.errors import ApiKeyInvalid
from voicekit.audiobook import Narrations
from voicekit.audits import Audits
from voicekit.songjobs import Songs
from voicekit.studio import Studio


@dataclass
class Service:
    """Built once in the app's lifespan (models load there, never at import)."""

    settings: ServiceSettings
    studio: Studio
    access: AccessControl
    rate_limiter: RateLimiter
    slots: RenderSlots
    narrations: Narrations
    audits: Audits
    songs: Songs

    @classmethod
    def open(cls, settings: ServiceSettings) -> "Service":
        """The studio (its house voice loaded) and the job stores, on the records' database server
        when there is one: the API process and every worker build the same."""
        studio = Studio(settings.home, settings.passphrase)
        studio.engine("heart")  # the house voice loads before the service reports ready
        jobs = studio.job_database
        return cls(settings, studio, AccessControl(studio.registry.db, studio.ledger), RateLimiter(),
                   RenderSlots(settings.speech_slots, settings.slot_wait_s), Narrations(studio.home / "audiobooks", jobs),
                   Audits(studio.home / "audits", jobs), Songs(studio.home / "songs", jobs))

    def caller(self, key: ApiKey) -> "KeyCaller":
        """Who the studio serves for a request made with `key`."""
        return KeyCaller(self.access, key)


@dataclass(frozen=True)
class KeyCaller:
    """A studio Caller: the owner of an API key, who may use shared voices and the profiles they
    enrolled or were granted. `live`: look the key up again at each check, so a key revoked
    while its audiobook narrates stops it at the next chapter."""

    access: AccessControl
    key: ApiKey
    live: bool = False

    def allows(self, voice_id: str) -> bool:
        key = self.access.key(self.key.key_id) if self.live else self.key
        if key.revoked_at is not None:
            raise ApiKeyInvalid(f"the API key {key.key_id} was revoked")
        return self.access.may_use(key, voice_id)

    def voices(self) -> list[str]:
        return self.access.profiles_of(self.key.owner)


def service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(service)]
_bearer = HTTPBearer(auto_error=False, description="an API key from `voicekit api-keys create`")
# The web interface (/ui) keeps the key its user signed in with in a session cookie (HttpOnly,
# SameSite=Strict: no script reads it, no other site's request carries it). The API takes it only
# with UI_HEADER as well, which a page of another site cannot add without a CORS preflight that
# this service never approves: so a forged form or link cannot act with it.
UI_COOKIE = "voicekit_session"
UI_HEADER = "X-Voicekit-UI"


def ui_session_key(request: Request) -> str | None:
    """The key the web interface signed in with, when this request comes from its own pages."""
    if request.headers.get(UI_HEADER) != "1":
        return None
    return request.cookies.get(UI_COOKIE) or None


def authenticated(request: Request, svc: ServiceDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiKey:
    """The caller's active key, after its rate limit; raises Problem 401 or 429."""
    secret = credentials.credentials if credentials is not None else ui_session_key(request)
    if secret is None:
        raise Problem(401, "missing-api-key", "send an API key as `Authorization: Bearer vk_...`",
                      headers={"WWW-Authenticate": "Bearer"})
    key = svc.access.authenticate(secret)
    svc.rate_limiter.take(key.key_id, key.rate_per_minute)
    return key


def scoped(scope: str) -> Callable[[ApiKey], ApiKey]:
    """A dependency that refuses a key without `scope` (admin keys hold every scope)."""

    def check(key: Annotated[ApiKey, Depends(authenticated)]) -> ApiKey:
        if scope not in key.scopes and "admin" not in key.scopes:
            raise Problem(403, "missing-scope",
                          f"this key has the scopes {', '.join(key.scopes)}; this route needs {scope!r}",
                          required_scope=scope)
        return key

    return check


SpeakKey = Annotated[ApiKey, Depends(scoped("speak"))]
EnrollKey = Annotated[ApiKey, Depends(scoped("enroll"))]
ProfilesKey = Annotated[ApiKey, Depends(scoped("profiles"))]
AuditKey = Annotated[ApiKey, Depends(scoped("audit"))]
AdminKey = Annotated[ApiKey, Depends(scoped("admin"))]
