"""Singing: a score in (voicekit's JSON form in a JSON body, or a MusicXML / MIDI / JSON file
uploaded as multipart form data), marked and gated audio out, through Studio.sing."""
from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import ServiceDep, SpeakKey
from api.problems import Problem
from api.routers.speech import MEDIA_TYPES
from api.views import provenance_headers
from voicekit.singing import read_score, score_format
from voicekit.singing.readers import MAX_SCORE_BYTES
from voicekit.singing.score import from_json

router = APIRouter(prefix="/v1", tags=["singing"])


class SingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    voice: str = Field("heart", max_length=80, description="heart, joe or profile:ID; its consent must cover singing")
    transpose: int = Field(0, ge=-24, le=24, description="semitones")
    tempo: float | None = Field(None, ge=20, le=400, description="the first tempo in BPM")
    part: str | None = Field(None, max_length=200, description="the part to sing (default: the first with lyrics)")
    verse: int = Field(1, ge=1, le=20)
    format: Literal["wav", "flac", "ogg", "mp3", "opus", "aac"] = "wav"
    sample_rate: int = Field(24000, ge=8000, le=48000, description="Hz")


class SingRequest(SingOptions):
    score: dict[str, Any] = Field(description='voicekit\'s JSON score: {"tempo": 96, "notes": [{"pitch": "A4", '
                                              '"start": 0, "duration": 1, "lyric": "la"}]}')


_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": SingRequest.model_json_schema(ref_template="#/components/schemas/{model}")},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "a .musicxml/.xml/.mxl, .mid/.midi or .json score"},
        **{name: {"type": "string"} for name in SingOptions.model_fields}}}}}}}


@router.post("/sing", openapi_extra=_BODY, responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
             response_class=Response)
async def sing(request: Request, svc: ServiceDep, key: SpeakKey) -> Response:
    """The score sung in the asked format, with its mark id and signed provenance in the headers."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=len(SingOptions.model_fields))
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Problem(400, "missing-score", "upload the score as the form field `file`")
        data = await upload.read(MAX_SCORE_BYTES + 1)
        if len(data) > MAX_SCORE_BYTES:
            raise Problem(413, "upload-too-large", f"the score is over the {MAX_SCORE_BYTES}-byte limit")
        options = _validated(SingOptions, {k: v for k, v in form.items() if k != "file"})
        fmt = score_format(upload.filename or "")

        def score():  # parsed in the worker thread: music21 is slow to import and parse
            return read_score(data, fmt, options.part, options.verse)
    else:
        try:
            body = json.loads(await request.body())
        except ValueError as e:
            raise Problem(400, "invalid-json", f"the body is not JSON: {e}") from e
        options = _validated(SingRequest, body)

        def score():
            return from_json(options.score).checked()
    caller = svc.caller(key)

    def sung():
        return svc.studio.sing(score(), options.voice, options.transpose, options.tempo, format=options.format,
                               sample_rate=options.sample_rate, caller=caller)

    result = await run_in_threadpool(svc.slots.run, sung)
    return Response(result.encoded, media_type=MEDIA_TYPES[options.format],
                    headers=provenance_headers(result.mark_id, result.provenance))


def _validated(model: type[SingOptions], values: Any) -> SingOptions:
    if not isinstance(values, dict):
        raise Problem(422, "invalid-request", "the body must be a JSON object")
    try:
        return model.model_validate(values)
    except ValidationError as e:  # the same problem body as a declared body's validation gives
        raise RequestValidationError(e.errors()) from e
