"""The voices a key may speak with."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServiceDep, SpeakKey
from api.views import voice_view

router = APIRouter(prefix="/v1", tags=["voices"])


@router.get("/voices")
def voices(svc: ServiceDep, key: SpeakKey) -> dict[str, list[dict]]:
    """Active voices this key may use: house and model voices, and the enrolled ones its owner
    enrolled or was granted (all of them for an admin key)."""
    now = svc.studio.clock()
    usable = [s for s in svc.studio.registry.statuses_at(now)
              if s.status == "active" and svc.access.may_use(key, s.voice_id)]
    return {"voices": [voice_view(s) for s in usable]}
