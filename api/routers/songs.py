"""Song jobs: submit lyrics (or a MusicXML score) with a style, follow the stages (JSON or
server-sent events), fetch the master or the stems, or cancel. Every check runs before the job is
queued, so a bad sheet, style or voice is a 4xx problem, never a failed job."""
from __future__ import annotations

from typing import Annotated, AsyncIterator, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from api.deps import ServiceDep, SpeakKey
from api.events import job_events
from api.routers.speech import MEDIA_TYPES
from consent.access import ApiKey
from voicekit.music.lyrics import MAX_LYRICS_BYTES
from voicekit.music.musicgen import BAND, DOWNLOADS, PREFIX
from voicekit.music.style import PRESETS
from voicekit.singing.readers import MAX_SCORE_BYTES
from voicekit.studio.songs import plan_song

router = APIRouter(prefix="/v1", tags=["songs"])


class SongRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lyrics: str | None = Field(None, max_length=MAX_LYRICS_BYTES,
                               description="the lyrics sheet: [verse], [chorus], [bridge] sections, one line a phrase")
    score: str | None = Field(None, max_length=MAX_SCORE_BYTES,
                              description="instead of lyrics: a MusicXML score (melody with lyrics, chord symbols "
                                          "or accompaniment parts), as text")
    voice: str = Field("heart", max_length=80, description="heart, joe or profile:ID; its consent must cover singing")
    style: Literal[tuple(PRESETS)] = "pop"  # type: ignore[valid-type]
    key: str | None = Field(None, max_length=3, description="change the style's key: C, F#, Bb")
    mode: Literal["major", "minor"] | None = None
    tempo: float | None = Field(None, ge=40, le=220, description="BPM")
    metre: Literal["2/4", "3/4", "4/4"] | None = None
    progression: str | None = Field(None, max_length=200, description="Roman numerals or chord names, one per bar")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    harmony: bool = False
    stems: bool = Field(False, description="also release each stem (fetched as a zip with the MIDI and MusicXML)")
    format: Literal["wav", "flac", "mp3", "m4a"] = "mp3"
    stem_format: Literal["wav", "flac", "mp3", "m4a"] = "wav"
    sample_rate: Literal[44100, 48000] = 44100
    title: str = Field("", max_length=200)
    backing: Literal[tuple([BAND] + [PREFIX + name for name in DOWNLOADS])] = Field(  # type: ignore[valid-type]
        BAND, description="the FluidSynth band, or a MusicGen model the operator has downloaded")

    @model_validator(mode="after")
    def _one_source(self) -> "SongRequest":
        if (self.lyrics is None) == (self.score is None):
            raise ValueError("give exactly one of `lyrics` and `score`")
        return self


_STYLE_FIELDS = ("key", "mode", "tempo", "metre", "progression")


@router.post("/songs", status_code=202)
async def submit(request: Request, body: SongRequest, svc: ServiceDep, key: SpeakKey) -> dict:
    """Queue a song. Its vocal is sung (consent for `sing` checked, marked, recorded), its band
    played, mixed and mastered; the master, and each stem if asked, is marked, gated and recorded."""
    caller = svc.caller(key)
    source = (body.lyrics if body.lyrics is not None else body.score).encode("utf-8")
    changes = {name: getattr(body, name) for name in _STYLE_FIELDS if getattr(body, name) is not None}
    options = {"voice": body.voice, "seed": body.seed, "format": body.format, "sample_rate": body.sample_rate,
               "harmony": body.harmony, "stems": body.stems, "stem_format": body.stem_format, "title": body.title,
               "backing": body.backing}
    plan = await run_in_threadpool(
        plan_song, svc.studio, source if body.lyrics is not None else None, body.voice, body.style,
        source if body.score is not None else None, body.seed, body.format, body.sample_rate, body.harmony,
        body.stems, body.stem_format, caller, None, body.title, changes, body.backing, False)
    job = svc.songs.submit(source, body.score is not None, options | {"style": body.style, "style_changes": changes},
                           plan.stages, key.owner, svc.studio.clock(), key.key_id)
    request.app.state.jobs.submit("song", job.job_id)
    return job.as_dict()


@router.get("/songs")
def jobs(svc: ServiceDep, key: SpeakKey) -> dict[str, list[dict]]:
    return {"jobs": [j.as_dict() for j in svc.songs.jobs(_owner(key))]}


@router.get("/songs/{job_id}")
def job(job_id: str, svc: ServiceDep, key: SpeakKey) -> dict:
    """Progress: the stage done last (vocals, harmony, backing, mix, stems, master) of all."""
    return svc.songs.job(job_id, _owner(key)).as_dict()


def _visible_job(job_id: str, svc: ServiceDep, key: SpeakKey) -> str:
    svc.songs.job(job_id, _owner(key))
    return job_id


@router.get("/songs/{job_id}/events", response_class=EventSourceResponse)
async def events(job_id: Annotated[str, Depends(_visible_job)], svc: ServiceDep) -> AsyncIterator[ServerSentEvent]:
    """A `progress` event after each stage, then one `done`, `failed` or `cancelled` event."""
    async for event in job_events(lambda: svc.songs.job(job_id).as_dict(), "stages_done"):
        yield event


@router.get("/songs/{job_id}/result", response_class=FileResponse,
            responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}})
def result(job_id: str, svc: ServiceDep, key: SpeakKey) -> FileResponse:
    """The mastered song, with its mark id and ledger entry in the headers."""
    job, path = svc.songs.result(job_id, _owner(key))
    return FileResponse(path, media_type=MEDIA_TYPES[job.options["format"]], filename=f"song-{job.job_id}{path.suffix}",
                        headers={"X-Voicekit-Mark-Id": job.mark_id or "", "X-Voicekit-Ledger-Seq": str(job.ledger_seq)})


@router.get("/songs/{job_id}/stems", response_class=FileResponse, responses={200: {"content": {"application/zip": {}}}})
def stems(job_id: str, svc: ServiceDep, key: SpeakKey) -> FileResponse:
    """A zip of each marked stem, song.mid and song.musicxml (for a song made with stems=true)."""
    job, path = svc.songs.result(job_id, _owner(key), stems=True)
    return FileResponse(path, media_type="application/zip", filename=f"song-{job.job_id}-stems.zip")


@router.delete("/songs/{job_id}")
def cancel(job_id: str, svc: ServiceDep, key: SpeakKey) -> dict:
    """Cancel a queued or running song (a running one stops after the stage it is in)."""
    return svc.songs.cancel(job_id, svc.studio.clock(), _owner(key)).as_dict()


def _owner(key: ApiKey) -> str | None:
    """Songs are private to their owner; an admin key sees all."""
    return None if "admin" in key.scopes else key.owner
