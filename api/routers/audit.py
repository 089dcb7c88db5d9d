"""For auditors: is this file ours, from which voice, under which consent (one file at once, or a
batch as a job with a signed report); and does the ledger verify."""
from __future__ import annotations

from typing import Annotated, AsyncIterator, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from api.deps import AuditKey, Service, ServiceDep
from api.events import job_events
from api.problems import Problem
from api.uploads import read_limited, safe_suffix
from consent.access import ApiKey
from detection.report_html import render
from voicekit.audits import MAX_FILES


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


@router.post("/audits", status_code=202)
async def submit_audit(request: Request, svc: ServiceDep, key: AuditKey,
                       files: Annotated[list[UploadFile], File(description="audio files (any format detect reads); "
                                                                            f"at most {MAX_FILES}")]) -> dict:
    """Queue an audit of the files: per file the verdict, the record its mark names, the voice's
    consent then and now, and the passive detector's score, in a report signed by the registry key.
    A file that cannot be read is reported as such and does not stop the others."""
    if len(files) > MAX_FILES:
        raise Problem(422, "too-many-files", f"an audit takes at most {MAX_FILES} files, not {len(files)}")
    limit = svc.settings.max_upload_bytes
    uploads = []
    for i, upload in enumerate(files):
        # Not read_limited: an empty file is one of the batch's unreadable files, not a refused request.
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise Problem(413, "upload-too-large", f"file {upload.filename or i} is over the {limit}-byte limit")
        uploads.append((upload.filename or f"file {i + 1}", safe_suffix(upload.filename), data))
    job = svc.audits.submit(uploads, key.owner, svc.studio.clock(), key.key_id)
    request.app.state.jobs.submit("audit", job.job_id)
    return job.as_dict()


@router.get("/audits/{job_id}")
def audit_job(job_id: str, svc: ServiceDep, key: AuditKey) -> dict:
    """Progress (files done of all) and, once done, the summary of verdicts."""
    return svc.audits.job(job_id, _owner(key)).as_dict()


def _visible_audit(job_id: str, svc: ServiceDep, key: AuditKey) -> str:
    svc.audits.job(job_id, _owner(key))
    return job_id


@router.get("/audits/{job_id}/events", response_class=EventSourceResponse)
async def audit_events(job_id: Annotated[str, Depends(_visible_audit)], svc: ServiceDep
                       ) -> AsyncIterator[ServerSentEvent]:
    """A `progress` event each time a file is done, then one `done` or `failed` event."""
    async for event in job_events(lambda: svc.audits.job(job_id).as_dict(), "files_done"):
        yield event


@router.get("/audits/{job_id}/report", responses={200: {"content": {"application/json": {}, "text/html": {}}}})
async def audit_report(job_id: str, svc: ServiceDep, key: AuditKey,
                       format: Literal["json", "html"] = "json") -> Response:
    """The signed report (check it with `voicekit audit verify-report`), or the HTML page that
    embeds it with a spectrogram and a mark timeline per file."""
    document = svc.audits.report(job_id, _owner(key))
    if format == "json":
        return JSONResponse(document)
    page = await run_in_threadpool(_page, svc, job_id, document)
    return HTMLResponse(page)


@router.delete("/audits/{job_id}")
def delete_audit(job_id: str, svc: ServiceDep, key: AuditKey) -> dict:
    """Forget a finished audit, its files and its report."""
    svc.audits.delete(job_id, _owner(key))
    return {"job_id": job_id, "deleted": True}


def _page(svc: Service, job_id: str, document: dict) -> str:
    """The HTML report, its figures drawn from the job's stored copies of the uploads."""
    return render(document, svc.studio.watermarker, sources=svc.audits.files(job_id))


def _owner(key: ApiKey) -> str | None:
    """Audits are private to their owner; an admin key sees all."""
    return None if "admin" in key.scopes else key.owner
