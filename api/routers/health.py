"""Liveness and readiness, without a key (load balancers and orchestrators call them)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from api.problems import Problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> dict[str, object]:
    """The studio is built (the house voice loads before this turns ready) and the ledger is readable."""
    svc = getattr(request.app.state, "service", None)
    if svc is None:
        raise Problem(503, "not-ready", "the service is still starting")
    head = svc.studio.ledger.head()
    return {"status": "ready", "ledger_head_seq": None if head is None else head["seq"],
            "voices": len(svc.studio.registry.voice_ids())}
