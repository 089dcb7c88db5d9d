"""For auditors: is this file ours, from which voice, under which consent; and does the ledger verify."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import AuditKey, ServiceDep
from api.uploads import read_limited

router = APIRouter(prefix="/v1", tags=["audit"])


@router.post("/detect")
async def detect(svc: ServiceDep, key: AuditKey,
                 file: Annotated[UploadFile, File(description="any audio file (wav, flac, ogg, mp3, opus, aac, m4a)")],
                 since: Annotated[float | None, Form(description="made after (Unix seconds): also match that "
                                                                 "window's outputs")] = None,
                 until: Annotated[float | None, Form(description="made before (Unix seconds; default now)")] = None,
                 ) -> dict:
    """The watermark verdict (p-value), the payload, and the signed provenance entry it names."""
    data = await read_limited(file, svc.settings.max_upload_bytes, "audio file")
    finding = await run_in_threadpool(svc.slots.run, svc.studio.detect, data, since, until)  # a slot, as rendering
    return finding.as_dict()


@router.get("/ledger/verify")
def verify_ledger(svc: ServiceDep, key: AuditKey) -> dict:
    """Check the whole hash chain, every signature, the genesis entry and the registry's witness."""
    return svc.studio.ledger.verify().as_dict()
