"""API keys, for admin keys (the CLI's `voicekit api-keys` does the same on the server's machine)."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import AdminKey, ServiceDep
from api.problems import Problem
from consent.access import API_SCOPES, DEFAULT_RATE_PER_MINUTE
from consent.errors import InvalidRecordRequest

router = APIRouter(prefix="/v1", tags=["api keys"])


class KeyRequest(BaseModel):
    owner: str = Field(min_length=1, max_length=64)
    scopes: list[str] = Field(min_length=1, description=f"among {', '.join(API_SCOPES)}")
    rate_per_minute: int = Field(DEFAULT_RATE_PER_MINUTE, ge=1, le=100_000)


@router.post("/api-keys", status_code=201)
def create_key(body: KeyRequest, svc: ServiceDep, key: AdminKey) -> dict:
    """A new key; `key` (the secret) is in this response only."""
    try:
        created, secret = svc.access.create_key(body.owner, tuple(body.scopes), svc.studio.clock(),
                                                body.rate_per_minute)
    except InvalidRecordRequest as e:
        raise Problem(422, "invalid-api-key-request", str(e)) from e
    return created.as_dict() | {"key": secret}


@router.get("/api-keys")
def list_keys(svc: ServiceDep, key: AdminKey) -> dict[str, list[dict]]:
    return {"keys": [k.as_dict() for k in svc.access.keys()]}


@router.delete("/api-keys/{key_id}")
def revoke_key(key_id: str, svc: ServiceDep, key: AdminKey) -> dict:
    svc.access.revoke_key(key_id, svc.studio.clock())
    return svc.access.key(key_id).as_dict()
