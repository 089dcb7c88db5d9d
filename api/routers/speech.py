"""Speech: our own route and the OpenAI-compatible one, whole files or streamed a sentence at a time.

Both go through Studio.speak / Studio.stream, so every byte served was consent-checked,
watermarked and passed by the gate. A stream's first sentence is rendered and gated before the
response starts, so a refusal is still a problem body and the headers carry the provenance.
"""
from __future__ import annotations

import struct
from typing import Iterator, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import KeyCaller, Service, ServiceDep, SpeakKey
from api.problems import Problem
from api.views import provenance_headers
from consent.access import ApiKey
from voicekit.studio import STREAM_FORMATS, SpeechOptions
from voicekit.styles import STYLES

router = APIRouter(prefix="/v1", tags=["speech"])

MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "mp3": "audio/mpeg",
               "opus": "audio/ogg; codecs=opus", "aac": "audio/aac", "m4a": "audio/mp4", "pcm": "audio/pcm"}
Format = Literal["wav", "flac", "ogg", "mp3", "opus", "aac", "pcm"]
OpenAIFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
Style = Literal[tuple(STYLES)]  # type: ignore[valid-type]


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, description="plain text; give this or `ssml`")
    ssml: str | None = Field(None, description="an SSML document; every voice it names is consent-checked")
    voice: str = Field("heart", max_length=80)
    style: Style | None = None
    format: Format = "wav"
    sample_rate: int = Field(24000, ge=8000, le=48000, description="Hz")
    rate: float = Field(1.0, ge=0.5, le=2.0, description="speed factor")
    pitch: float = Field(0.0, ge=-12, le=12, description="semitones")
    loudness: Literal["speech", "acx"] | None = Field(
        None, description="loudness preset: speech (-18 LUFS, -1 dBTP; the default) or acx (-20 LUFS, -3.5 dBTP)")
    stream: bool = Field(False, description="chunked: one sentence at a time, each gated before it is sent")

    @model_validator(mode="after")
    def _one_text(self) -> "SpeechRequest":
        if (self.text is None) == (self.ssml is None):
            raise ValueError("give exactly one of `text` and `ssml`")
        return self


class OpenAISpeechRequest(BaseModel):
    """OpenAI's `audio.speech.create` body. `model` is recorded but any value is accepted; `voice`
    is one of ours (GET /v1/voices); `speed` is 0.5-2 here (OpenAI allows 0.25-4)."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field("voicekit", max_length=64)
    input: str = Field(min_length=1)
    voice: str = Field("heart", max_length=80)
    response_format: OpenAIFormat = "mp3"
    speed: float = Field(1.0, ge=0.5, le=2.0)
    stream: bool = False


@router.post("/speech", responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
             response_class=Response)
def speech(body: SpeechRequest, request: Request, svc: ServiceDep, key: SpeakKey) -> Response:
    """Audio in the asked format, with its mark id and signed provenance in the headers."""
    text = body.ssml if body.ssml is not None else body.text
    return _speak(request, svc, key, text, body.voice, body.format, body.stream, ssml=body.ssml is not None,
                  sample_rate=body.sample_rate, rate=body.rate, pitch=body.pitch, style=body.style,
                  loudness=body.loudness)


@router.post("/audio/speech", responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
             response_class=Response)
def openai_speech(body: OpenAISpeechRequest, request: Request, svc: ServiceDep, key: SpeakKey) -> Response:
    """OpenAI-compatible text to speech (24 kHz; `pcm` is 16-bit little-endian mono, as OpenAI sends it)."""
    return _speak(request, svc, key, body.input, body.voice, body.response_format, body.stream, ssml=False,
                  sample_rate=24000, rate=body.speed, pitch=0.0, style=None)


def _speak(request: Request, svc: Service, key: ApiKey, text: str, voice: str, fmt: str, stream: bool,
           **fields) -> Response:
    """Rendered here, or (a long request, when workers run the heavy work) on a worker: either way
    through Studio.speak, so the same checks, mark and gate."""
    if len(text) > svc.settings.max_text_chars:
        raise Problem(413, "text-too-long", f"the text is {len(text)} characters; one request may have "
                      f"{svc.settings.max_text_chars} (send books to /v1/audiobooks)")
    caller, options = svc.caller(key), SpeechOptions(format=fmt, **fields)
    if stream:
        return _streamed(svc, text, voice, caller, options)
    on_worker = request.app.state.jobs.speak
    if on_worker is not None and len(text) >= svc.settings.worker_speech_chars:
        svc.studio.check_voice(voice, caller)  # refused here at once, before a worker is asked
        result = on_worker(key.key_id, text, voice, {"format": fmt, **fields}, svc.settings.worker_wait_s)
    else:
        with svc.slots.held():
            result = svc.studio.speak(text, voice, options, caller)
    return Response(result.encoded, media_type=MEDIA_TYPES[fmt],
                    headers=provenance_headers(result.mark_id, result.provenance))


def _streamed(svc: Service, text: str, voice: str, caller: KeyCaller, options: SpeechOptions) -> StreamingResponse:
    """A wav stream is its PCM samples after one header (the studio streams "wav" as pcm)."""
    fmt = options.format
    if fmt != "wav" and fmt not in STREAM_FORMATS:
        raise Problem(400, "unsupported-stream-format",
                      f"{fmt} cannot be streamed chunk by chunk; stream as wav, {', '.join(STREAM_FORMATS)}")
    with svc.slots.held():
        stream = svc.studio.stream(text, voice, options, caller)
        chunks = iter(stream)
        first = next(chunks)
    header = _streaming_wav_header(first.sample_rate) if fmt == "wav" else b""

    def body() -> Iterator[bytes]:
        yield header + first.encoded
        while True:
            with svc.slots.held():  # a slot per sentence, so a stalled reader holds none
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk.encoded

    return StreamingResponse(body(), media_type=MEDIA_TYPES[fmt],
                             headers=provenance_headers(stream.mark_id, stream.provenance))


def _streaming_wav_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header whose sizes say "unknown length" (0xFFFFFFFF), as streaming servers send."""
    unknown = 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate,
                                                                             sample_rate * 2, 2, 16)
            + b"data" + struct.pack("<I", unknown))
