"""The web interface at /ui: server-rendered pages over the same service the API serves.

Signing in keeps the API key in a session cookie (see api.deps.UI_COOKIE); every page looks the
key up again, so a revoked key is signed out at its next click, and shows only what the key's
scopes and owner allow, as the API does. Pages that change something post forms here (checked
for our own origin) or, where the browser records audio, call the /v1 API from the page with
api.deps.UI_HEADER: the routes, checks and release path are the API's own. Read-only pages work
without JavaScript; the scripts add word highlighting, recording and live progress.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import UI_COOKIE, Service, ServiceDep
from api.problems import Problem
from api.routers import audiobooks, audit, songs
from api.routers.profiles import check_owner, status_for, visible
from api.routers.speech import MEDIA_TYPES
from api.views import voice_view
from consent.access import ApiKey
from consent.errors import ApiKeyInvalid, InvalidRecordRequest, VoicekitError
from consent.registry import VoiceStatus
from voicekit.studio import SpeechOptions
from voicekit.music.style import PRESETS
from voicekit.styles import STYLES

router = APIRouter(prefix="/ui", include_in_schema=False)
UI = Path(__file__).resolve().parent.parent / "ui"
templates = Jinja2Templates(directory=UI / "templates")
PAGES = (("speak", "Speak", "speak"), ("enroll", "Enroll", "enroll"), ("profiles", "Profiles", "profiles"),
         ("audiobooks", "Audiobooks", "speak"), ("songs", "Songs", "speak"), ("audit", "Audit", "audit"))
# (path, title, scope)
SPEAK_FORMATS = ("mp3", "wav", "ogg")
LISTED_JOBS = 50  # the newest jobs a page lists
# Our pages run only our own scripts and styles, post only to us and are never framed (a framed
# "Revoke" button is a clickjacking target); they hold a caller's records, so no cache keeps them.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' data: blob:; "
                               "script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class SignedOut(VoicekitError):
    """Raised by a page for a request without a valid session; answered with a redirect to sign in."""

    http_status, problem = 401, "signed-out"


def install(app: Any) -> None:
    """Serve /ui's static files and answer a signed-out page view with a redirect to sign in."""
    from fastapi.staticfiles import StaticFiles

    app.mount("/ui/static", StaticFiles(directory=UI / "static"), name="ui-static")

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, _: SignedOut) -> Response:
        response = RedirectResponse("/ui/sign-in", status_code=303)
        response.delete_cookie(UI_COOKIE, path="/")
        return response


def _session(request: Request, svc: Service) -> ApiKey:
    """The signed-in key, looked up again (a revoked key signs out), after its rate limit as on the API."""
    secret = request.cookies.get(UI_COOKIE)
    if not secret:
        raise SignedOut()
    try:
        key = svc.access.authenticate(secret)
    except ApiKeyInvalid:
        raise SignedOut() from None
    svc.rate_limiter.take(key.key_id, key.rate_per_minute)
    return key


def _may(key: ApiKey, scope: str) -> bool:
    return scope in key.scopes or "admin" in key.scopes


def _page(request: Request, name: str, key: ApiKey | None, status: int = 200, **context: Any) -> HTMLResponse:
    nav = [] if key is None else [(path, title) for path, title, scope in PAGES if _may(key, scope)]
    return templates.TemplateResponse(request, f"{name}.html", {"key": key, "nav": nav, "page": name, **context},
                                      status_code=status, headers=PAGE_HEADERS)


def _refuse(request: Request, key: ApiKey, scope: str) -> HTMLResponse | None:
    """A page for a key without `scope` (403), or None when it has it."""
    if _may(key, scope):
        return None
    return _page(request, "refused", key, 403, scope=scope)


def _same_origin(request: Request) -> bool:
    """A form post from one of our own pages: browsers send Origin with every POST; a tool that
    sends none is no browser to forge it (and the session cookie is SameSite=Strict besides)."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


@router.get("", response_class=HTMLResponse)
def home(request: Request, svc: ServiceDep) -> Response:
    key = _session(request, svc)
    first = next((path for path, _, scope in PAGES if _may(key, scope)), "profiles")
    return RedirectResponse(f"/ui/{first}", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> HTMLResponse:
    return _page(request, "sign_in", None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, svc: ServiceDep, api_key: Annotated[str, Form(max_length=200)]) -> Response:
    if not _same_origin(request):
        return _page(request, "sign_in", None, 403, error="this form was sent from another site")
    try:
        key = svc.access.authenticate(api_key.strip())
    except ApiKeyInvalid as e:
        return _page(request, "sign_in", None, 401, error=str(e))
    first = next((path for path, _, scope in PAGES if _may(key, scope)), "profiles")
    response = RedirectResponse(f"/ui/{first}", status_code=303)
    # No expiry: a session cookie, gone when the browser closes; HttpOnly: no script reads it.
    response.set_cookie(UI_COOKIE, api_key.strip(), httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.post("/sign-out")
def sign_out() -> Response:
    response = RedirectResponse("/ui/sign-in", status_code=303)
    response.delete_cookie(UI_COOKIE, path="/")
    return response


@router.get("/speak", response_class=HTMLResponse)
def speak_page(request: Request, svc: ServiceDep) -> HTMLResponse:
    key = _session(request, svc)
    return _refuse(request, key, "speak") or _speak_page(request, svc, key)


@router.post("/speak", response_class=HTMLResponse)
def speak(request: Request, svc: ServiceDep, text: Annotated[str, Form(min_length=1)],
          voice: Annotated[str, Form(max_length=80)] = "heart", style: Annotated[str, Form()] = "",
          rate: Annotated[float, Form(ge=0.5, le=2.0)] = 1.0, pitch: Annotated[float, Form(ge=-12, le=12)] = 0.0,
          format: Annotated[str, Form()] = "mp3", ssml: Annotated[bool, Form()] = False) -> HTMLResponse:
    """Render through the studio (consent, mark, gate, ledger) as the API does, with word timings
    for the page to highlight; the audio comes back inside the page."""
    key = _session(request, svc)
    if refused := _refuse(request, key, "speak"):
        return refused
    form = {"text": text, "voice": voice, "style": style, "rate": rate, "pitch": pitch, "format": format, "ssml": ssml}
    if not _same_origin(request):
        return _speak_page(request, svc, key, form, status=403, error="this form was sent from another site")
    if format not in SPEAK_FORMATS or (style and style not in STYLES):
        return _speak_page(request, svc, key, form, status=422, error="choose a format and style from the lists")
    if len(text) > svc.settings.max_text_chars:
        return _speak_page(request, svc, key, form, status=413, error=f"the text is {len(text)} characters; "
                           f"one request may have {svc.settings.max_text_chars} (narrate longer texts as an audiobook)")
    options = SpeechOptions(format=format, rate=rate, pitch=pitch, ssml=ssml, word_timings=not ssml)
    try:
        with svc.slots.held():
            result = svc.studio.speak(text, voice, options, svc.caller(key), style=style or None)
    except VoicekitError as e:
        return _speak_page(request, svc, key, form, status=e.http_status, error=str(e))
    spoken = {
        "audio": f"data:{MEDIA_TYPES[format]};base64,{base64.b64encode(result.encoded).decode('ascii')}",
        "mark_id": f"{result.mark_id:08x}", "ledger_seq": result.provenance.get("seq"),
        "provenance": json.dumps(result.provenance, indent=2, sort_keys=True),
        "words": [{"word": w.word, "start": w.start, "end": w.end} for w in result.words],
        "seconds": round(len(result.audio) / result.sample_rate, 2), "filename": f"voicekit-{result.mark_id:08x}.{format}",
    }
    return _speak_page(request, svc, key, form, spoken=spoken)


def _speak_page(request: Request, svc: Service, key: ApiKey, form: dict | None = None, status: int = 200,
                **context: Any) -> HTMLResponse:
    voices = _usable_voices(svc, key)
    form = form or {"text": "", "voice": "heart", "style": "", "rate": 1.0, "pitch": 0.0, "format": "mp3", "ssml": False}
    return _page(request, "speak", key, status, voices=voices, styles=sorted(STYLES), formats=SPEAK_FORMATS,
                 form=form, **context)


@router.get("/profiles", response_class=HTMLResponse)
def profiles_page(request: Request, svc: ServiceDep) -> HTMLResponse:
    key = _session(request, svc)
    if refused := _refuse(request, key, "profiles"):
        return refused
    return _page(request, "profiles", key, profiles=[voice_view(s) for s in _profiles_of(svc, key)])


@router.get("/profiles/{voice_id}", response_class=HTMLResponse)
def profile_page(request: Request, svc: ServiceDep, voice_id: str, confirm: bool = False,
                 granted: str | None = None) -> HTMLResponse:
    key = _session(request, svc)
    if refused := _refuse(request, key, "profiles"):
        return refused
    try:
        status = status_for(svc, key, voice_id)  # another owner's profile reads as one that does not exist
    except Problem as e:
        return _page(request, "missing", key, e.http_status, what=str(e))
    details = status.profile.details if status.profile else {}
    return _page(request, "profile", key, profile=voice_view(status), consent=details.get("consent"),
                 owned=svc.access.owns(key, voice_id), confirm=confirm, granted=granted)


@router.post("/profiles/{voice_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, svc: ServiceDep, voice_id: str, confirm: Annotated[str, Form()] = "",
           reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Revoke once the form names the profile again (the confirmation step); as the API's revoke."""
    key = _session(request, svc)
    if refused := _refuse(request, key, "profiles"):
        return refused
    try:
        _may_change(request, svc, key, voice_id)
        if confirm != voice_id:
            return RedirectResponse(f"/ui/profiles/{voice_id}?confirm=true", status_code=303)
        svc.studio.revoke(voice_id, reason or "revoked in the web interface")
    except Problem as e:
        return _page(request, "missing", key, e.http_status, what=str(e))
    return RedirectResponse(f"/ui/profiles/{voice_id}", status_code=303)


@router.post("/profiles/{voice_id}/grants", response_class=HTMLResponse)
def grant(request: Request, svc: ServiceDep, voice_id: str, owner: Annotated[str, Form(max_length=64)]) -> Response:
    key = _session(request, svc)
    if refused := _refuse(request, key, "profiles"):
        return refused
    try:
        _may_change(request, svc, key, voice_id)
        svc.access.grant(voice_id, owner.strip(), now=svc.studio.clock())
    except (Problem, InvalidRecordRequest) as e:
        return _page(request, "missing", key, getattr(e, "http_status", 422), what=str(e))
    return RedirectResponse(f"/ui/profiles/{voice_id}?granted={owner.strip()}", status_code=303)


@router.get("/enroll", response_class=HTMLResponse)
def enroll_page(request: Request, svc: ServiceDep) -> HTMLResponse:
    key = _session(request, svc)
    return _refuse(request, key, "enroll") or _page(request, "enroll", key)


@router.get("/audiobooks", response_class=HTMLResponse)
def audiobooks_page(request: Request, svc: ServiceDep) -> HTMLResponse:
    return _jobs_page(request, svc, "audiobooks", lambda owner: svc.narrations.jobs(owner, latest=LISTED_JOBS))


@router.get("/audiobooks/{job_id}/result")
def audiobook_result(request: Request, svc: ServiceDep, job_id: str) -> Response:
    """The finished book as GET /v1/audiobooks/{id}/result gives it, for a plain link."""
    return _job_result(request, svc, lambda key: audiobooks.result(job_id, svc, key))


@router.get("/songs", response_class=HTMLResponse)
def songs_page(request: Request, svc: ServiceDep) -> HTMLResponse:
    return _jobs_page(request, svc, "songs", lambda owner: svc.songs.jobs(owner)[:LISTED_JOBS], styles=sorted(PRESETS))


@router.get("/songs/{job_id}/result")
def song_result(request: Request, svc: ServiceDep, job_id: str) -> Response:
    """The mastered song as GET /v1/songs/{id}/result gives it, for a plain link."""
    return _job_result(request, svc, lambda key: songs.result(job_id, svc, key))


def _jobs_page(request: Request, svc: Service, name: str, newest: Callable[[str | None], list], **context: Any
               ) -> HTMLResponse:
    """A page of the key's owner's newest jobs (every owner's for admin) and a form for a new one."""
    key = _session(request, svc)
    if refused := _refuse(request, key, "speak"):
        return refused
    owner = None if "admin" in key.scopes else key.owner
    return _page(request, name, key, voices=_usable_voices(svc, key), jobs=[j.as_dict() for j in newest(owner)],
                 **context)


def _job_result(request: Request, svc: Service, result: Callable[[ApiKey], Response]) -> Response:
    """A job's download through the API route's own function, for the signed-in key."""
    key = _session(request, svc)
    try:
        return _refuse(request, key, "speak") or result(key)
    except VoicekitError as e:
        return _page(request, "missing", key, e.http_status, what=str(e))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, svc: ServiceDep) -> HTMLResponse:
    key = _session(request, svc)
    return _refuse(request, key, "audit") or _page(request, "audit", key)


@router.get("/audits/{job_id}/report")
async def audit_report(request: Request, svc: ServiceDep, job_id: str, format: str = "html") -> Response:
    """The audit's report as GET /v1/audits/{id}/report gives it, for a plain link."""
    key = _session(request, svc)
    try:
        if format not in ("html", "json"):
            raise Problem(422, "invalid-request", "format is html or json")
        return _refuse(request, key, "audit") or await audit.audit_report(job_id, svc, key, format)
    except VoicekitError as e:
        return _page(request, "missing", key, e.http_status, what=str(e))


def _may_change(request: Request, svc: Service, key: ApiKey, voice_id: str) -> None:
    """A form that changes a profile: sent from our own pages, by its owner (or an admin), as
    the API's revoke and grant require; raises Problem."""
    if not _same_origin(request):
        raise Problem(403, "cross-site-form", "this form was sent from another site")
    check_owner(svc, key, voice_id)


def _profiles_of(svc: Service, key: ApiKey) -> list[VoiceStatus]:
    """The enrolled profiles the API's GET /v1/profiles shows this key: its owner's and those
    granted to it (read by owner, not by scanning the registry), every one for an admin key."""
    now = svc.studio.clock()
    if "admin" in key.scopes:
        statuses = svc.studio.registry.statuses_at(now)
    else:
        statuses = [svc.studio.registry.status_at(v, now) for v in svc.access.profiles_of(key.owner)]
    return [s for s in statuses if visible(svc, key, s)]


def _usable_voices(svc: Service, key: ApiKey) -> list[dict[str, Any]]:
    """Active voices the key may speak with: the shared ones and its owner's profiles."""
    now = svc.studio.clock()
    shared = [svc.studio.registry.status_at(v, now) for v in svc.studio.registry.shared_voices()]
    return [voice_view(s) for s in shared + _profiles_of(svc, key)
            if s.status == "active" and svc.access.may_use(key, s.voice_id)]
