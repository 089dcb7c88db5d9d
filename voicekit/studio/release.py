"""The one way audio leaves voicekit: reserve a mark -> watermark -> encode -> gate -> ledger ->
C2PA manifest -> gate -> result. Speech, every stream chunk and every audiobook chapter call `release`, and so will
singing and songs; nothing else in the project encodes audio for a caller.

Retry policy (one, for every caller): with a fresh mark per attempt, a refusal by the gate is
tried again with a new mark, MARK_ATTEMPTS in all (a clip with very little sound, a word or two,
fails to carry one payload about 1 time in 60 while another decodes). A release under a fixed
mark (a stream's chunks after the first) is tried once: the same mark embeds the same way, so the
caller carries a refused piece into the next one instead (voicekit.studio.stream).

Content Credentials: a recorded output in a format that holds one (WAV, MP3, M4A, FLAC) gets a
C2PA manifest naming its ledger entry, so the manifest is added after the entry is signed, and the
entry's `audio_sha256` is of the file before its manifest (the entry cannot name bytes that name
it; the manifest's own data hash binds the rest). The gate then checks the final bytes again.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from consent.ledger import Ledger
from detection import content_credentials
from detection.content_credentials import Credentials
from detection.errors import GateRefused
from detection.gate import GateVerdict, ReleaseGate
from detection.passive import PassiveScore
from detection.watermark import Watermarker
from voicekit import __version__, audio
from voicekit.studio.options import PCM

MARK_ATTEMPTS = 3


@dataclass(frozen=True)
class Safeguards:
    """The parts a release goes through, as they are for this request (a key rotation by another
    process gives the next request new ones)."""

    watermarker: Watermarker
    gate: ReleaseGate
    ledger: Ledger
    key_id: str
    clock: Callable[[], float]
    credentials: Credentials
    passive: Callable[[np.ndarray, int], PassiveScore] | None = None  # advisory: recorded, never decides


@dataclass(frozen=True)
class Released:
    """encoded: the bytes that leave (for pcm, the gated WAV's samples alone); audio: what the gate
    decoded from them (float32 mono at sample_rate); entry: the signed ledger entry, if recorded."""

    mark_id: int
    encoded: bytes
    audio: np.ndarray
    sample_rate: int
    gate: GateVerdict
    entry: dict[str, Any] | None


def release(guards: Safeguards, samples: np.ndarray, sample_rate: int, fmt: str,
            describe: Callable[[int], dict[str, Any]] | None, mark_id: int | None = None,
            leveled: Callable[[np.ndarray], np.ndarray] | None = None,
            timings: dict[str, float] | None = None, attempts: int = MARK_ATTEMPTS) -> Released:
    """Mark, encode as `fmt` (or pcm), gate and record float32 `samples` at `sample_rate`: mono
    (n,), or stereo (n, 2), whose mark is in both channels (see `_marked`) and which the gate
    checks as it decodes, downmixed to mono.

    describe: the ledger body for a mark id (what was asked, by whom, with which record); the
    release adds the audio's SHA-256, format, duration, gate verdict and the passive detector's
    score of the released audio, and appends an "output" entry. None: nothing is recorded here (a
    stream's later chunks; its closing entry covers them).
    mark_id: a mark already reserved (a stream's); None reserves a fresh one per attempt, at most
    `attempts` times.
    leveled: the loudness stage's last word on the marked audio (the mark's residual adds level
    and peaks of its own, most on short clips): a gain and a peak limiter, neither of which the
    mark minds (it lives in the spectrum's shape, whatever the level).
    Raises GateRefused after the last attempt, LedgerBroken if the ledger cannot record."""
    timings = {} if timings is None else timings
    attempts = attempts if mark_id is None else 1
    for attempt in range(attempts):
        t = time.perf_counter()
        mark = mark_id if mark_id is not None else guards.ledger.reserve_mark(guards.clock())
        marked = _marked(guards.watermarker, samples, sample_rate, mark)
        timings["watermark"] = timings.get("watermark", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        if leveled is not None:
            marked = leveled(marked)
        timings["loudness"] = timings.get("loudness", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        encoded = audio.encode(marked, sample_rate, "wav" if fmt == PCM else fmt)
        timings["encode"] = timings.get("encode", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        try:
            verdict, checked, checked_rate = guards.gate.checked(encoded, mark)
            break
        except GateRefused:
            if attempt + 1 == attempts:
                raise
        finally:
            timings["gate"] = timings.get("gate", 0.0) + time.perf_counter() - t
    passive: dict[str, Any] = {}
    if describe is not None and guards.passive is not None:
        t = time.perf_counter()
        passive = {"passive": guards.passive(checked, checked_rate).as_dict()}
        timings["passive"] = time.perf_counter() - t
    t = time.perf_counter()
    if fmt == PCM:
        encoded = audio.wav_samples(encoded)
    entry = None
    if describe is not None:
        entry = guards.ledger.append("output", describe(mark) | {
            "audio_sha256": hashlib.sha256(encoded).hexdigest(),
            "format": fmt,
            "duration_s": round(len(marked) / sample_rate, 3),
            "gate": verdict.as_dict(),
            "c2pa": content_credentials.ledger_field(fmt),
        } | passive, now=guards.clock()).as_dict()
    timings["signing"] = time.perf_counter() - t
    if entry is not None and content_credentials.holds_manifest(fmt):
        t = time.perf_counter()
        encoded = guards.credentials.sign(encoded, fmt, content_credentials.assertion_for(entry), __version__,
                                          title=f"voicekit speech {mark:08x}.{fmt}")
        verdict, checked, checked_rate = guards.gate.checked(encoded, mark)
        timings["c2pa"] = time.perf_counter() - t
    return Released(mark, encoded, checked, checked_rate, verdict, entry)


def _marked(watermarker: Watermarker, samples: np.ndarray, sample_rate: int, mark: int) -> np.ndarray:
    """Mono: the watermarker's own embedding. Stereo: the mark is embedded in the mid signal (the
    mono downmix) and the same residual added to both channels, so the downmix is exactly the
    marked mid and each channel carries the mark over its own content; the side signal is left as
    it was."""
    if samples.ndim == 1:
        return watermarker.embed(samples, sample_rate, mark)
    mid = samples.mean(axis=1).astype(np.float32)
    residual = watermarker.embed(mid, sample_rate, mark) - mid
    return (samples + residual[:, None]).astype(np.float32)
