"""Audiobook jobs: submit a book, follow its progress (JSON or server-sent events), fetch or cancel it."""
from __future__ import annotations

from typing import Annotated, AsyncIterator, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.deps import ServiceDep, SpeakKey
from api.events import job_events
from api.problems import Problem
from consent.access import ApiKey
from api.uploads import read_limited
from voicekit.books import MAX_BOOK_BYTES, read_book
from voicekit.styles import STYLES

router = APIRouter(prefix="/v1", tags=["audiobooks"])


@router.post("/audiobooks", status_code=202)
async def submit(
    request: Request,
    svc: ServiceDep,
    key: SpeakKey,
    file: Annotated[UploadFile | None, File(description="the book: .txt, .md or .epub")] = None,
    text: Annotated[str | None, Form(description="the book as plain text, instead of a file")] = None,
    kind: Annotated[Literal["text", "markdown", "epub"] | None, Form()] = None,
    voice: Annotated[str, Form(max_length=80)] = "heart",
    style: Annotated[Literal[tuple(STYLES)] | None, Form()] = None,  # type: ignore[valid-type]
    output: Annotated[Literal["m4b", "zip"], Form(description="M4B with chapter markers, or a zip of MP3s")] = "m4b",
    title: Annotated[str | None, Form(max_length=200)] = None,
) -> dict:
    """Queue a book. Chapters come from its structure (EPUB spine and TOC, Markdown headings,
    "Chapter N" lines); each is spoken, marked, gated and recorded in the ledger."""
    if (file is None) == (text is None):
        raise Problem(422, "invalid-request", "give exactly one of `file` and `text`")
    if file is not None:
        data, filename = await read_limited(file, MAX_BOOK_BYTES, "book"), file.filename
    else:
        data, filename = text.encode("utf-8"), None
        kind = kind or "text"
    book_title, chapters = read_book(data, kind, filename)
    svc.studio.check_voice(voice, svc.caller(key))
    job = svc.narrations.submit(chapters, voice, key.owner, svc.studio.clock(), output=output, style=style,
                                title=title or book_title, key_id=key.key_id)
    request.app.state.jobs.submit("audiobook", job.job_id, parts=len(job.chapters))
    return job.as_dict()


@router.get("/audiobooks")
def jobs(svc: ServiceDep, key: SpeakKey) -> dict[str, list[dict]]:
    return {"jobs": [j.as_dict() for j in svc.narrations.jobs(_owner(key))]}


@router.get("/audiobooks/{job_id}")
def job(job_id: str, svc: ServiceDep, key: SpeakKey) -> dict:
    """Progress: chapters and seconds done, and the time left at the pace so far."""
    return svc.narrations.job(job_id, _owner(key)).as_dict()


def _visible_job(job_id: str, svc: ServiceDep, key: SpeakKey) -> str:
    """Checked before a stream starts, so an unknown job is a 404 problem, not an empty stream."""
    svc.narrations.job(job_id, _owner(key))
    return job_id


@router.get("/audiobooks/{job_id}/events", response_class=EventSourceResponse)
async def events(job_id: Annotated[str, Depends(_visible_job)], svc: ServiceDep) -> AsyncIterator[ServerSentEvent]:
    """A `progress` event each time a chapter finishes, then one `done`, `failed` or `cancelled` event."""
    async for event in job_events(lambda: svc.narrations.job(job_id).as_dict(), "chapters_done"):
        yield event


@router.get("/audiobooks/{job_id}/result", response_class=FileResponse,
            responses={200: {"content": {"audio/mp4": {}, "application/zip": {}}}})
def result(job_id: str, svc: ServiceDep, key: SpeakKey) -> FileResponse:
    job, path = svc.narrations.result(job_id, _owner(key))
    media = "audio/mp4" if job.output == "m4b" else "application/zip"
    return FileResponse(path, media_type=media, filename=f"audiobook-{job.job_id}.{job.output}",
                        headers={"X-Voicekit-Ledger-Seq": str(job.ledger_seq)})


@router.delete("/audiobooks/{job_id}")
def cancel(job_id: str, svc: ServiceDep, key: SpeakKey) -> dict:
    """Cancel a queued or running job (the chapter being rendered finishes first)."""
    return svc.narrations.cancel(job_id, svc.studio.clock(), _owner(key)).as_dict()


def _owner(key: ApiKey) -> str | None:
    """Jobs are private to their owner; an admin key sees all."""
    return None if "admin" in key.scopes else key.owner
