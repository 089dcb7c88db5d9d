"""Consent challenges, enrollment and the profiles a key may see."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import EnrollKey, ProfilesKey, Service, ServiceDep
from api.problems import Problem
from api.uploads import read_limited, saved
from api.views import voice_view
from consent.access import ApiKey
from consent.errors import InvalidRecordRequest, UnknownVoice
from consent.registry import VoiceStatus

router = APIRouter(prefix="/v1", tags=["consent and profiles"])


class ChallengeRequest(BaseModel):
    name: str = Field(min_length=1, max_length=80, description="the person who will read the consent statement")


class RevokeRequest(BaseModel):
    reason: str = Field("", max_length=500)


class GrantRequest(BaseModel):
    owner: str = Field(min_length=1, max_length=64, description="the owner whose keys may then speak with this voice")


@router.post("/consent/challenges", status_code=201)
def consent_challenge(body: ChallengeRequest, svc: ServiceDep, key: EnrollKey) -> dict:
    """A statement for the person to read aloud, with a one-time phrase; enroll with its id before it expires."""
    return svc.studio.consent_challenge(body.name).as_dict()


@router.post("/profiles", status_code=201)
async def enroll(
    svc: ServiceDep,
    key: EnrollKey,
    challenge_id: Annotated[str, Form(min_length=1, max_length=64)],
    consent: Annotated[UploadFile, File(description="the person reading the challenge's statement")],
    references: Annotated[list[UploadFile], File(description="reference recordings of the same person")],
    name: Annotated[str | None, Form(max_length=80)] = None,
    scopes: Annotated[str, Form(description="comma-separated: tts, sing")] = "tts",
    expires_at: Annotated[float | None, Form(description="Unix time the consent ends")] = None,
    keep_references: Annotated[bool, Form()] = False,
) -> dict:
    """Check the consent reading and the references, fit the voice (15-20 s), and store the signed
    profile, owned by this key's owner."""
    limit = svc.settings.max_upload_bytes
    consent_data = await read_limited(consent, limit, "consent recording")
    reference_data = [await read_limited(r, limit, f"reference {i + 1}") for i, r in enumerate(references)]
    wanted = tuple(s.strip() for s in scopes.split(",") if s.strip())
    with tempfile.TemporaryDirectory(prefix="voicekit-enroll-") as folder:
        consent_path = saved(Path(folder), "consent", consent, consent_data)
        paths = [saved(Path(folder), f"reference-{i}", r, d)
                 for i, (r, d) in enumerate(zip(references, reference_data))]
        profile = await run_in_threadpool(svc.slots.run, svc.studio.enroll, challenge_id, consent_path, paths,
                                          wanted, expires_at, name, keep_references)  # a slot, as rendering
    svc.access.set_owner(profile.voice_id, key.owner, now=svc.studio.clock())
    return voice_view(VoiceStatus(profile.voice_id, "active", profile)) | {"owner": key.owner}


@router.get("/profiles")
def profiles(svc: ServiceDep, key: ProfilesKey) -> dict[str, list[dict]]:
    """Enrolled profiles this key's owner enrolled or was granted (all for admin), with their status."""
    statuses = svc.studio.registry.statuses_at(svc.studio.clock())
    return {"profiles": [voice_view(s) for s in statuses if visible(svc, key, s)]}


@router.get("/profiles/{voice_id}")
def profile(voice_id: str, svc: ServiceDep, key: ProfilesKey) -> dict:
    return voice_view(status_for(svc, key, voice_id))


@router.post("/profiles/{voice_id}/revoke")
def revoke(voice_id: str, body: RevokeRequest, svc: ServiceDep, key: ProfilesKey) -> dict:
    """Revoke the consent at once: every later request with this voice is refused."""
    check_owner(svc, key, voice_id)
    svc.studio.revoke(voice_id, body.reason)
    return voice_view(svc.studio.registry.status_at(voice_id, svc.studio.clock()))


@router.post("/profiles/{voice_id}/grants", status_code=201)
def grant(voice_id: str, body: GrantRequest, svc: ServiceDep, key: ProfilesKey) -> dict:
    """Let another owner's keys speak with this voice (its owner or an admin may grant)."""
    check_owner(svc, key, voice_id)
    try:
        svc.access.grant(voice_id, body.owner, now=svc.studio.clock())
    except InvalidRecordRequest as e:
        raise Problem(422, "invalid-owner", str(e)) from e
    return {"voice_id": voice_id, "owner": body.owner}


def visible(svc: Service, key: ApiKey, status: VoiceStatus) -> bool:
    if status.profile is None:  # tampered: only an admin sees it, and never uses it
        return "admin" in key.scopes
    return status.profile.kind == "clone" and svc.access.may_use(key, status.voice_id)


def status_for(svc: Service, key: ApiKey, voice_id: str) -> VoiceStatus:
    """The profile's status if this key may see it; an unseen profile is reported unknown, so ids cannot be probed."""
    try:
        status = svc.studio.registry.status_at(voice_id, svc.studio.clock())
    except UnknownVoice:
        status = None
    if status is None or not visible(svc, key, status):
        raise Problem(404, "unknown-profile", f"no enrolled profile {voice_id!r} that this key may see")
    return status


def check_owner(svc: Service, key: ApiKey, voice_id: str) -> None:
    """Only the owner who enrolled a voice (or an admin) may revoke or grant it."""
    status_for(svc, key, voice_id)
    if not svc.access.owns(key, voice_id):
        raise Problem(403, "not-profile-owner", f"only the owner who enrolled {voice_id!r} (or an admin) may do this")
