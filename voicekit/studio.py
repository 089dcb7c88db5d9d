"""The guarded pipeline, and the only place that composes it:

    text -> consent check -> engine -> watermark -> encode -> release gate -> ledger/provenance -> audio out

Streaming runs the same path a sentence at a time: each chunk is watermarked and gated before it
is handed out.

Every public way to get audio (Python, CLI, HTTP) calls `Studio.speak` or `Studio.stream`. Enrollment is composed here
too, because it needs both sides: the detector says whether a recording is our own output, and the
consent package decides with that verdict in hand.

The safeguards are parts handed in (so a test can give a failing detector and watch the studio
refuse); none can be switched off.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from consent import sealed
from consent.atomic import atomic_write
from consent.challenges import DEFAULT_TTL_S, Challenge, new_challenge
from consent.enrollment import SCOPES, Enroller, Recording
from consent.errors import EnrollmentRefused
from consent.profiles import VoiceProfile
from consent.records import Records
from consent.voiceprint import VOICEPRINT_RATE
from detection.audit import Finding, inspect_audio, inspect_file, window_marks
from detection.decoding import decode_bytes, read_audio_file
from detection.errors import GateRefused
from detection.gate import GateVerdict, ReleaseGate
from detection.watermark import KeyedWatermark, Watermarker, WatermarkKey
from voicekit import audio, engines, prosody
from voicekit.cloning.engine import CONVERTIBLE_BASES, ClonedVoice, choose_base, renderer_for
from voicekit.cloning.fit import base_similarity, fit_conversion, split_held_out
from voicekit.engines.base import Engine
from voicekit.engines.coqui import CoquiEngine, CoquiModelFiles
from voicekit.errors import BadInput, EmptyText, EngineUnavailable, UnsupportedFormat
from voicekit.home import default_home, default_passphrase
from voicekit.styles import Style, style
from voicekit.text.chunking import sentences
from voicekit.text.lexicon import Lexicon
from voicekit.text.say_as import long_numbers
from voicekit.text.ssml import MAX_PITCH_ST, MAX_RATE, MIN_RATE, Mark, Pause, Speech, plain_plan
from voicekit.text.ssml import parse as ssml_plan
from voicekit.timing import ForcedAligner, WordTiming, fitted_to_audio, text_words

DEFAULT_RATE = 24000
MAX_TEXT_CHARS = 1_000_000
MARK_ATTEMPTS = 3
FIRST_CHUNK_S = 1.0  # a stream's first chunk ends at the first word gap after this
PCM = "pcm"  # raw 16-bit little-endian mono: gated as WAV, released as the WAV's samples alone
# A stream is released chunk by chunk, each chunk a whole file of its own, so its format must decode
# as one when the pieces are joined: raw PCM and AAC in ADTS do. MP3 (a Xing header per piece) and
# Ogg Opus (chained streams) decode only their first piece in libsndfile, so they are not offered.
STREAM_FORMATS = (PCM, "aac")
VOICE_NAME = re.compile(r"[a-z][a-z0-9_-]{1,39}")
RECENT_OUTPUTS_CHECKED = 10_000  # outputs whose marks an enrollment recording is matched against


@dataclass(frozen=True)
class SpeechResult:
    """What left the studio: `encoded` are the released bytes; `audio` is those bytes decoded
    (float32 mono at `sample_rate`); `provenance` is the signed ledger entry."""

    audio: np.ndarray
    sample_rate: int
    format: str
    encoded: bytes
    mark_id: int
    provenance: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)  # SSML <mark> name -> seconds into the audio
    words: list[WordTiming] = field(default_factory=list)  # with word_timings=True

    def save(self, path: Path | str) -> Path:
        """Write the released bytes atomically; the extension must match the rendered format."""
        fmt = audio.format_for(path)
        if fmt != self.format:
            raise UnsupportedFormat(
                f"this result was rendered and checked as {self.format}; ask speak(..., format={fmt!r}) for .{fmt}"
            )
        audio.write_file(path, self.encoded)
        return Path(path)


# A further check of each voice a request uses, after the registry's: the HTTP service passes one
# that raises ProfileNotGranted for a voice the caller's owner neither enrolled nor was granted.
Authorize = Callable[[VoiceProfile], None]


@dataclass(frozen=True)
class StreamChunk:
    """One released piece of a stream: `encoded` are the bytes the gate passed, in the stream's
    format (for "pcm", 16-bit little-endian mono at `sample_rate`); `audio` is them decoded as
    float32. Words and marks are in seconds from the start of the stream."""

    index: int
    encoded: bytes
    audio: np.ndarray
    sample_rate: int
    start_s: float
    mark_id: int
    gate: dict[str, Any]
    words: list[WordTiming]
    marks: dict[str, float]


@dataclass(frozen=True)
class _Request:
    """A checked speech request: what to say (the plan), and every voice in it verified, with its engine."""

    text: str
    voice: str
    plan: list
    profiles: dict[str, VoiceProfile]
    voices: dict[str, Engine]
    lexicons: dict[str, Lexicon]
    style: Style
    sample_rate: int
    clone_with: str | None
    authorize: Authorize | None = None

    def provenance(self, mark_id: int, watermark: str, key_id: str) -> dict[str, Any]:
        """The ledger body's fields that describe the request (the caller adds the audio's)."""
        engine = self.voices[self.voice]
        return {
            "mark_id": mark_id,
            "voice": self.voice,
            "clone_with": self.clone_with,
            "voice_record_sha256": hashlib.sha256(self.profiles[self.voice].canonical()).hexdigest(),
            "other_voices": {v: hashlib.sha256(p.canonical()).hexdigest()
                             for v, p in self.profiles.items() if v != self.voice},
            "engine": engine.name,
            "model": engine.model_version,
            "style": self.style.name,
            "lexicon_sha256": {v: lex.sha256 for v, lex in self.lexicons.items() if len(lex)},
            "text_sha256": hashlib.sha256(self.text.encode("utf-8")).hexdigest(),
            "sample_rate": self.sample_rate,
            "watermark": watermark,
            "watermark_key": key_id,
        }


class SpeechStream:
    """Iterate for StreamChunks. `mark_id` is known at once; `provenance` (the output entry) once
    the first chunk is out; `closing` (the entry that ends the stream) after the last."""

    def __init__(self, studio: "Studio", request: _Request, word_timings: bool, fmt: str) -> None:
        self._studio = studio
        self._request = request
        self.format = fmt
        self._word_timings = word_timings
        self.mark_id = studio._fresh_mark_id()
        self.provenance: dict[str, Any] | None = None
        self.closing: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[StreamChunk]:
        studio, request, rate = self._studio, self._request, self._request.sample_rate
        digest, released, index, complete = hashlib.sha256(), 0, 0, False
        try:
            for segment in _first_split(studio._segments(request, self._word_timings), rate):
                studio._recheck(request)  # a revocation or expiry mid-stream stops it within one chunk
                marked = studio.watermarker.embed(segment.samples, rate, self.mark_id)
                encoded = audio.encode(marked, rate, "wav" if self.format == PCM else self.format)
                verdict = studio.gate.check(encoded, self.mark_id)
                if self.provenance is None:
                    self.provenance = studio.ledger.append("output", request.provenance(
                        self.mark_id, studio.watermarker.name, studio.keys.current_key_id) | {
                        "format": self.format, "stream": True, "gate": verdict.as_dict()}, now=studio.clock()).as_dict()
                checked, _ = decode_bytes(encoded)
                if self.format == PCM:
                    encoded = audio.wav_samples(encoded)
                words, marks = _placed([segment], rate)
                start = released / rate
                chunk = StreamChunk(index, encoded, checked, rate, round(start, 3), self.mark_id, verdict.as_dict(),
                                    [w.shifted(start) for w in words],
                                    {name: round(start + at, 3) for name, at in marks.items()})
                digest.update(encoded)
                released += len(checked)
                index += 1
                yield chunk
            complete = True
        finally:
            if self.provenance is not None:
                self.closing = studio.ledger.append("stream-end", {
                    "mark_id": self.mark_id, "chunks": index, "complete": complete,
                    "audio_sha256": digest.hexdigest(), "duration_s": round(released / rate, 3),
                }, now=studio.clock()).as_dict()


class Studio:
    """home: the data folder (registry.db, keys/, ledger/); default VOICEKIT_HOME or the user data dir.

    watermarker / gate: the safeguards to use; default the keyed watermark from this installation's
    keys and a release gate over it.
    """

    def __init__(
        self,
        home: Path | str | None = None,
        passphrase: bytes | None = None,
        watermarker: Watermarker | None = None,
        gate: ReleaseGate | None = None,
        clock: Callable[[], float] = time.time,
        threads: int = 1,
        device: str = "cpu",
    ) -> None:
        self.home = Path(home) if home is not None else default_home()
        self._records = Records.open(self.home, passphrase if passphrase is not None else default_passphrase(),
                                     now=clock(), house=engines.house_profiles(now=clock()))
        self.keys, self.registry, self.ledger = self._records.keys, self._records.registry, self._records.ledger
        self.clock = clock
        self.threads = threads
        self.device = device  # where torch models (coqui) run: "cpu" or "cuda"
        self._own_watermark = watermarker is None
        self._current_seen = self._current_stamp()
        self.watermarker = watermarker or self._keyed_watermark()
        self.gate = gate or ReleaseGate(self.watermarker)
        self._engines: dict[str, Engine] = {}
        self._engines_lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._enroller: Enroller | None = None

    def _keyed_watermark(self) -> KeyedWatermark:
        return KeyedWatermark([WatermarkKey(s) for s in self.keys.watermark_secrets()])

    def _current_stamp(self) -> tuple[int, int]:
        stat = (self.home / "keys" / "current").stat()
        return stat.st_ino, stat.st_mtime_ns

    def _follow_rotation(self) -> None:
        """One stat per request: when another process rotated the keys (the file naming the
        current key was replaced), sign and mark with the new key, and find its marks."""
        stamp = self._current_stamp()
        if stamp == self._current_seen:
            return
        with self._engines_lock:
            if stamp != self._current_seen:
                self._records.follow_rotation()
                self._adopt_keys()
                self._current_seen = stamp

    def _adopt_keys(self) -> None:
        if self._own_watermark:
            self.watermarker = self._keyed_watermark()
            self.gate = ReleaseGate(self.watermarker)

    def engine(self, name: str) -> Engine:
        """The named engine, loaded once on first use."""
        with self._engines_lock:
            if name not in self._engines:
                self._engines[name] = engines.create(name, threads=self.threads)
            return self._engines[name]

    def _rendering(self, engine: Engine) -> AbstractContextManager:
        """Held while `engine` renders. Engines that say they are `thread_safe` (heart: its ONNX
        session and vocoder keep no state between calls) render for several threads at once; the
        others take turns on one lock, because espeak-ng's phonemiser (behind Piper and coqui) is
        one process-wide state."""
        return nullcontext() if getattr(engine, "thread_safe", False) else self._render_lock

    def speak(self, text: str, voice: str = "heart", sample_rate: int = DEFAULT_RATE, format: str = "wav",
              clone_with: str | None = None, ssml: bool = False, rate: float = 1.0, pitch: float = 0.0,
              style: str | None = None, lexicon: Lexicon | None = None, word_timings: bool = False,
              authorize: Authorize | None = None) -> SpeechResult:
        """Render `text` in `voice` through every safeguard; raises BadInput (SsmlError for bad
        markup), a ConsentError or GateRefused.

        ssml: `text` is an SSML document; every voice it names is consent-checked like `voice`.
        rate (speed factor, 0.5..2) and pitch (semitones, -12..12) apply on top of any SSML prosody.
        style: a speaking style (voicekit.styles.STYLES). lexicon: pronunciations for this request,
        over the stored global and per-voice lexicons. word_timings: fill `result.words`.
        format: wav, flac, ogg, mp3, opus, aac, m4a, or pcm (raw 16-bit samples, gated as WAV).
        authorize: a further check of every voice the request uses (see Authorize).
        clone_with: for an enrolled profile, a registered coqui model voice that clones from audio
        (XTTS-v2, YourTTS) to speak it with, conditioned on the profile's sealed references, instead
        of the profile's fitted conversion. Both records are checked."""
        checked_as = "wav" if format == PCM else audio.check_format(format)
        t = time.perf_counter()
        request = self._request(text, voice, sample_rate, clone_with, ssml, rate, pitch, style, lexicon, authorize)
        timings = {"consent": time.perf_counter() - t}
        t = time.perf_counter()

        segments = list(self._segments(request, word_timings))
        samples = np.concatenate([s.samples for s in segments])
        if not np.any(samples):
            raise EmptyText("the request renders only silence (prosody volume=\"silent\" throughout); "
                            "there is nothing to speak or to mark")
        words, marks = _placed(segments, sample_rate)
        timings["synthesis"], t = time.perf_counter() - t, time.perf_counter()

        mark_id, marked, encoded, verdict = self._marked_and_checked(samples, sample_rate, checked_as, timings)
        released, released_rate = decode_bytes(encoded)
        if format == PCM:
            encoded = audio.wav_samples(encoded)
        t = time.perf_counter()

        entry = self.ledger.append("output", request.provenance(mark_id, self.watermarker.name,
                                                                self.keys.current_key_id) | {
            "audio_sha256": hashlib.sha256(encoded).hexdigest(),
            "format": format,
            "duration_s": round(len(marked) / sample_rate, 3),
            "gate": verdict.as_dict(),
        }, now=self.clock())
        timings["signing"] = time.perf_counter() - t
        return SpeechResult(released, released_rate, format, encoded, mark_id, entry.as_dict(), timings, marks,
                            words)

    def _marked_and_checked(self, samples: np.ndarray, sample_rate: int, fmt: str, timings: dict[str, float]
                            ) -> tuple[int, np.ndarray, bytes, GateVerdict]:
        """Watermark with a fresh mark and pass the gate. A clip with very little sound (a word or
        two) can fail to carry one payload (about 1 in 60 for "Hi.") while another decodes, so a
        refusal is tried again with new marks, MARK_ATTEMPTS in all; the last refusal is raised."""
        for attempt in range(MARK_ATTEMPTS):
            t = time.perf_counter()
            mark_id = self._fresh_mark_id()
            marked = self.watermarker.embed(samples, sample_rate, mark_id)
            encoded = audio.encode(marked, sample_rate, fmt)
            timings["watermark"] = timings.get("watermark", 0.0) + time.perf_counter() - t
            t = time.perf_counter()
            try:
                return mark_id, marked, encoded, self.gate.check(encoded, mark_id)
            except GateRefused:
                if attempt + 1 == MARK_ATTEMPTS:
                    raise
            finally:
                timings["gate"] = timings.get("gate", 0.0) + time.perf_counter() - t

    def stream(self, text: str, voice: str = "heart", sample_rate: int = DEFAULT_RATE,
               clone_with: str | None = None, ssml: bool = False, rate: float = 1.0, pitch: float = 0.0,
               style: str | None = None, lexicon: Lexicon | None = None, word_timings: bool = False,
               format: str = PCM, authorize: Authorize | None = None) -> "SpeechStream":
        """Like speak, but the audio comes a sentence at a time, each chunk watermarked with the
        stream's mark and passed by the gate before it is handed out, in `format` (STREAM_FORMATS).
        The request is checked (markup, consent) here, before anything renders; the ledger gets the output entry
        before the first chunk leaves and a closing entry (all released audio's SHA-256, whether
        the stream was read to the end) when it ends or is closed."""
        if format not in STREAM_FORMATS:
            raise UnsupportedFormat(f"a stream can be {', '.join(STREAM_FORMATS)}, not {format!r}")
        request = self._request(text, voice, sample_rate, clone_with, ssml, rate, pitch, style, lexicon, authorize)
        return SpeechStream(self, request, word_timings, format)

    def lexicon_for(self, voice: str) -> Lexicon:
        """The stored global lexicon with the voice's own over it."""
        return self._stored_lexicon(None).merged(self._stored_lexicon(voice))

    def set_lexicon(self, lexicon: Lexicon | None, voice: str | None = None) -> None:
        """Store (None: remove) the global lexicon or one voice's; applied to every later request."""
        if voice is not None:
            self.registry.check_at(voice, now=self.clock())
        path = self._lexicon_path(voice)
        if lexicon is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lexicon.to_json().encode("utf-8"))
        self.ledger.append("lexicon", {"voice": voice, "lexicon_sha256": None if lexicon is None else lexicon.sha256,
                                       "entries": 0 if lexicon is None else len(lexicon)}, now=self.clock())

    def _stored_lexicon(self, voice: str | None) -> Lexicon:
        path = self._lexicon_path(voice)
        return Lexicon.from_json(path.read_text(encoding="utf-8")) if path.exists() else Lexicon()

    def _lexicon_path(self, voice: str | None) -> Path:
        return self.home / "lexicons" / ("global.json" if voice is None else f"voice-{voice.replace(':', '-')}.json")

    def _request(self, text: str, voice: str, sample_rate: int, clone_with: str | None, ssml: bool, rate: float,
                 pitch: float, style_name: str | None, lexicon: Lexicon | None,
                 authorize: Authorize | None = None) -> "_Request":
        """The checked request: its plan, and every voice it uses consent-checked with its engine."""
        self._follow_rotation()
        _check_request(text, sample_rate)
        _check_prosody(rate, pitch)
        chosen = style(style_name)
        plan = ssml_plan(text) if ssml else plain_plan(text)
        plan = [replace(i, prosody=i.prosody.combined(rate * chosen.rate, pitch + chosen.pitch_st,
                                                      volume_db=chosen.energy_db))
                if isinstance(i, Speech) else i for i in plan]
        if not any(isinstance(i, Speech) for i in plan):
            raise EmptyText("the SSML has nothing to say; give at least one word outside the markup")
        for item in plan:
            if isinstance(item, Speech):
                long_numbers(item.text)  # refuses an unreadably long number before anything renders
        now = self.clock()
        profiles = {v: self.registry.check_at(v, now=now, scope="tts")
                    for v in dict.fromkeys([voice, *(i.voice for i in plan if isinstance(i, Speech) and i.voice)])}
        for profile in profiles.values() if authorize is not None else ():
            authorize(profile)
        voices = {v: self._engine_for(p) if clone_with is None or v != voice else self._coqui_clone(p, clone_with, now)
                  for v, p in profiles.items()}
        lexicons = {v: self.lexicon_for(v).merged(lexicon) for v in profiles}
        return _Request(text, voice, plan, profiles, voices, lexicons, chosen, sample_rate, clone_with, authorize)

    def _recheck(self, request: "_Request") -> None:
        """The request's consent checks again, now: every voice still active, in scope and allowed
        to the caller (raises as `_request` does)."""
        now = self.clock()
        for voice in request.profiles:
            profile = self.registry.check_at(voice, now=now, scope="tts")
            if request.authorize is not None:
                request.authorize(profile)

    def _segments(self, request: "_Request", word_timings: bool) -> Iterator["_Segment"]:
        """The plan's audio a sentence at a time. Pauses and marks ride on the sentence before
        them (those before the first sentence, on the first), so no segment is silence alone.
        Speech beside a break loses the engine's own edge silence there, so 1 s sounds as 1 s."""
        plan, rate = request.plan, request.sample_rate
        current, released = _Segment(), False
        for i, item in enumerate(plan):
            if isinstance(item, Mark):
                current.marks[item.name] = len(current.samples)
            elif isinstance(item, Pause):
                current.samples = np.concatenate([current.samples, np.zeros(round(item.seconds * rate), np.float32)])
            else:
                engine = request.voices[item.voice or request.voice]
                lexicon = request.lexicons[item.voice or request.voice]
                texts = [item.text] if item.ipa is not None else sentences(item.text)
                for k, sentence in enumerate(texts):
                    spoken = sentence if item.ipa is not None else lexicon.apply(
                        long_numbers(sentence), getattr(engine, "inline_phonemes", None))
                    with self._rendering(engine):
                        rendered = prosody.render(engine, spoken, item.prosody, item.ipa, request.style)
                    samples = audio.resample(rendered.samples, engine.sample_rate, rate)
                    samples, cut = prosody.trim_edges(samples, rate, start=k == 0 and _next_to_pause(plan, i, -1),
                                                      end=k == len(texts) - 1 and _next_to_pause(plan, i, 1))
                    found = rendered.words
                    if found is None and word_timings:
                        found = self._aligner.align(rendered.samples, engine.sample_rate, spoken)
                    if found is not None:
                        found = fitted_to_audio(found, rendered.samples, engine.sample_rate)
                    if current.spoken and len(current.samples):
                        yield current
                        released = True
                        current = _Segment()
                    shift = (len(current.samples) - cut) / rate
                    current.samples = np.concatenate([current.samples, samples])
                    current.gaps = [round((a.end + b.start) / 2 * rate + shift * rate)
                                    for a, b in zip(found or [], (found or [])[1:])]
                    current.words = [w.shifted(shift) for w in _named(found, sentence)] if word_timings else []
                    current.spoken = True
        if not released and not len(current.samples):
            raise EmptyText("the voice found nothing it can pronounce in the text")
        if len(current.samples):
            yield current

    @cached_property
    def _aligner(self) -> ForcedAligner:
        return ForcedAligner()

    def detect(self, source: Path | str | bytes, since: float | None = None, until: float | None = None) -> Finding:
        """Is this file (a path, or its bytes) ours? since/until (Unix seconds): when the caller
        knows the audio was made, which adds a test of every output of that window (stronger on
        heavily edited audio; see detection.audit). Raises UnreadableAudio for a missing, empty or
        non-audio file, BadInput for a window that ends before it starts, WindowTooWide."""
        self._follow_rotation()
        issued: list[int] = []
        if since is not None or until is not None:
            window = (since if since is not None else 0.0, until if until is not None else self.clock())
            if window[1] < window[0]:
                raise BadInput("the time window ends before it starts")
            issued = window_marks(self.ledger, *window)
        if isinstance(source, bytes):
            return inspect_audio(*decode_bytes(source), self.watermarker, self.ledger, self.keys, issued)
        return inspect_file(source, self.watermarker, self.ledger, self.keys, issued)

    def consent_challenge(self, name: str, ttl_s: float = DEFAULT_TTL_S,
                          nonce: tuple[str, ...] | None = None) -> Challenge:
        """A phrase for `name` to read, valid once, for `ttl_s` seconds; raises BadInput for a bad name.
        nonce: fixed words for reproducible tests and benchmarks; random by default (and from the CLI)."""
        try:
            challenge = new_challenge(name, now=self.clock(), ttl_s=ttl_s, nonce=nonce)
        except ValueError as e:
            raise BadInput(str(e)) from e
        self.registry.add_challenge(challenge)
        return challenge

    def enroll(
        self,
        challenge_id: str,
        consent: Path | str,
        references: list[Path | str],
        scopes: tuple[str, ...] = ("tts",),
        expires_at: float | None = None,
        name: str | None = None,
        keep_references: bool = False,
    ) -> VoiceProfile:
        """Check a consent reading and reference recordings, fit the clone's voice (about 15-20 s on
        one core), and store and return the signed profile.

        Raises ChallengeInvalid, EnrollmentRefused (every failed check, with its figures), BadInput
        or UnreadableAudio. A refusal counts against the challenge (three and it is spent) and is
        written to the ledger; nothing else changes.
        """
        self._follow_rotation()
        now = self.clock()
        _check_enrollment_request(references, scopes, expires_at, now)
        challenge = self.registry.challenge(challenge_id)
        challenge.usable_by(name, now)
        consent_recording = self._recording(consent)
        recordings = [self._recording(r) for r in references]
        watermark_p = {r.label: self._watermark_p(r) for r in [consent_recording, *recordings]}
        enroller = self._enroller = self._enroller or Enroller()
        assessment, embedding = enroller.assess(challenge, consent_recording, recordings, watermark_p)
        if assessment.failures:
            self.registry.count_failed_attempt(challenge_id)
            self.ledger.append("enrollment-refused", {
                "challenge_id": challenge_id, "failures": assessment.failures,
                "audio_sha256": [r.sha256 for r in [consent_recording, *recordings]],
            }, now=now)
            raise EnrollmentRefused(assessment.failures)
        fitted = self._fit_voice(enroller, recordings)
        profile = enroller.profile(challenge, consent_recording, recordings, assessment, embedding, scopes,
                                   expires_at, now, references_sealed=keep_references, voice=fitted)
        folder = self._references_folder(profile.voice_id)
        try:
            if keep_references:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                for i, recording in enumerate(recordings):
                    atomic_write(folder / f"reference-{i}.sealed",
                                 sealed.seal(recording.data, self.keys, profile.voice_id), mode=0o600)
            self.registry.register(profile, now, kind="enrollment", challenge_id=challenge_id, details={
                "scopes": list(scopes), "expires_at": expires_at, "key_id": self.keys.current_key_id})
        except BaseException:  # no sealed audio outlives a profile that was not stored
            for file in folder.glob("*.sealed"):
                file.unlink()
            if folder.exists():
                folder.rmdir()
            raise
        return self.registry.check_at(profile.voice_id, now=now)  # as signed and stored

    def sealed_references(self, voice_id: str) -> list[bytes]:
        """The reference recordings kept (encrypted) for an active profile, decrypted, as their original bytes."""
        self.registry.check_at(voice_id, now=self.clock())
        folder = self._references_folder(voice_id)
        return [sealed.unseal(f.read_bytes(), self.keys, voice_id) for f in sorted(folder.glob("reference-*.sealed"))]

    def _references_folder(self, voice_id: str) -> Path:
        return self.home / "references" / voice_id.replace(":", "-")

    def revoke(self, voice_id: str, reason: str = "") -> None:
        """Revoke a voice at once, for every later request; raises UnknownVoice or VoiceRevoked."""
        self.registry.revoke(voice_id, reason, self.clock())

    def rotate_keys(self) -> str:
        """Sign with a new key from now on; older records, entries and watermarks keep verifying."""
        kid = self._records.rotate_keys(self.clock())
        self._current_seen = self._current_stamp()
        self._adopt_keys()
        return kid

    def add_model_voice(self, name: str, folder: Path | str, licence: str, speaker: str | None = None,
                        language: str | None = None) -> VoiceProfile:
        """Register a coqui-tts model folder as the voice `name`, signing its files' SHA-256 and licence.

        The model is loaded and speaks one test sentence first, so a folder coqui cannot load, or a
        multi-speaker model without a valid speaker, is refused (EngineUnavailable) before anything is
        signed. Raises BadInput for a bad or taken name."""
        if not VOICE_NAME.fullmatch(name):
            raise BadInput(f"voice name {name!r}: use 2-40 lower-case letters, digits, '-' or '_', starting with a letter")
        if name in self.registry.voice_ids():
            raise BadInput(f"the voice {name!r} is already registered")
        if not licence.strip():
            raise BadInput("give the model's licence (what its weights and training data allow)")
        now = self.clock()
        engine = CoquiEngine(CoquiModelFiles.find(folder), licence, speaker, language, self.device, self.threads)
        try:
            engine.synthesize("This is a test.")
        except (RuntimeError, ValueError, KeyError, AssertionError) as e:
            raise EngineUnavailable(f"the model in {engine.files.folder} could not speak: {e}") from e
        profile = engines.model_voice_profile(name, engine.files, licence, speaker, language, now)
        self.registry.register(profile, now, kind="voice-added",
                               details={"model_sha256": engine.files.sha256, "licence": licence})
        self._engines[f"voice:{name}"] = engine
        return self.registry.check_at(name, now=now)

    def _engine_for(self, profile: VoiceProfile) -> Engine:
        if profile.kind == "model":
            return self._model_engine(profile)
        if profile.kind == "clone":
            return ClonedVoice.from_profile_details(profile.details, self.engine)
        return self.engine(profile.engine)

    def _model_engine(self, profile: VoiceProfile) -> CoquiEngine:
        key = f"voice:{profile.voice_id}"
        if key not in self._engines:
            self._engines[key] = engines.open_model_voice(profile, device=self.device, threads=self.threads)
        return self._engines[key]

    def _coqui_clone(self, profile: VoiceProfile, model_voice: str, now: float) -> Engine:
        """The enrolled person, spoken by a cloning coqui model from their sealed references (which
        are decrypted here, in memory, and never written out)."""
        if profile.kind != "clone":
            raise BadInput("clone_with speaks an enrolled profile (profile:ID); this voice is not one")
        model = self.registry.check_at(model_voice, now=now, scope="tts")
        if model.kind != "model":
            raise BadInput(f"{model_voice!r} is not a registered coqui model voice (voicekit voices add)")
        return self._model_engine(model).cloned(
            profile.voice_id, lambda: [decode_bytes(data) for data in self.sealed_references(profile.voice_id)])

    def _fit_voice(self, enroller: Enroller, references: list[Recording]) -> dict[str, Any]:
        """Pick the base voice nearest the person, then fit the conversion that moves it towards them
        (checked on held-out references)."""
        speech = np.concatenate([r.voiced for r in references])
        fitting, held_out = split_held_out(speech)
        person = enroller.encoder.embed(fitting)
        renderers = {name: renderer_for(self.engine(name)) for name in CONVERTIBLE_BASES}
        nearness = {name: base_similarity(r, person, enroller.encoder.embed) for name, r in renderers.items()}
        base = choose_base(nearness, renderers)
        conversion, report = fit_conversion(renderers[base], fitting, held_out, enroller.encoder.embed,
                                            enroller.statements.transcribe)
        return {"base": base, "base_similarity": {k: round(v, 3) for k, v in nearness.items()},
                "conversion": conversion.as_dict(), "fit": report.as_dict()}

    def _recording(self, path: Path | str) -> Recording:
        data, samples, rate = read_audio_file(path)
        return Recording(Path(path).name, data, audio.resample(samples, rate, VOICEPRINT_RATE))

    def _watermark_p(self, recording: Recording) -> float:
        """Our mark's p-value in an enrollment recording, matched against the latest outputs too:
        a clone of the victim saying the fresh challenge would have been made minutes before."""
        recent = self.ledger.recent_marks(RECENT_OUTPUTS_CHECKED)
        return inspect_audio(recording.samples, VOICEPRINT_RATE, self.watermarker, self.ledger, self.keys,
                             recent).p_value

    def _fresh_mark_id(self) -> int:
        return self.ledger.reserve_mark(self.clock())


def _check_enrollment_request(references: list, scopes: tuple[str, ...], expires_at: float | None, now: float) -> None:
    if not references:
        raise BadInput("give at least one reference recording (10 s of speech in total)")
    unknown = set(scopes) - set(SCOPES)
    if not scopes or unknown:
        raise BadInput(f"scopes must be among {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}")
    if expires_at is not None and expires_at <= now:
        raise BadInput("the expiry date is in the past")


@dataclass
class _Segment:
    """A sentence's audio at the request's rate, with the pauses that follow it; word and mark
    positions within it (words in seconds, marks in samples)."""

    samples: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    words: list[WordTiming] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)
    spoken: bool = False
    gaps: list[int] = field(default_factory=list)  # samples between words, where the audio may be cut

    def split(self, at_s: float, sample_rate: int) -> list["_Segment"]:
        """Cut at the first gap between words after `at_s` seconds (none: kept whole)."""
        cut = next((g for g in self.gaps if g >= at_s * sample_rate), None)
        if cut is None or cut >= len(self.samples):
            return [self]
        head_s = cut / sample_rate
        return [
            _Segment(self.samples[:cut], [w for w in self.words if w.start < head_s],
                     {n: a for n, a in self.marks.items() if a < cut}, True),
            _Segment(self.samples[cut:], [w.shifted(-head_s) for w in self.words if w.start >= head_s],
                     {n: a - cut for n, a in self.marks.items() if a >= cut}, True),
        ]


def _first_split(segments: Iterator[_Segment], sample_rate: int) -> Iterator[_Segment]:
    """The segments, the first cut after FIRST_CHUNK_S so that playback starts sooner (watermarking
    and checking a shorter piece)."""
    for i, segment in enumerate(segments):
        yield from segment.split(FIRST_CHUNK_S, sample_rate) if i == 0 else [segment]


def _placed(segments: list[_Segment], sample_rate: int) -> tuple[list[WordTiming], dict[str, float]]:
    """Words and marks of consecutive segments, in seconds from the start of the first."""
    words: list[WordTiming] = []
    marks: dict[str, float] = {}
    offset = 0
    for segment in segments:
        words.extend(w.shifted(offset / sample_rate) for w in segment.words)
        marks.update({name: round((offset + at) / sample_rate, 3) for name, at in segment.marks.items()})
        offset += len(segment.samples)
    return words, marks


def _named(words: list[WordTiming], sentence: str) -> list[WordTiming]:
    """Timings named by the sentence's own words when they are as many (a lexicon's inline
    pronunciation becomes its word again); the engine's spoken words otherwise (an alias)."""
    runs = text_words(sentence)
    if len(runs) != len(words):
        return words
    return [WordTiming(run, w.start, w.end) for run, w in zip(runs, words)]


def _next_to_pause(plan: list, i: int, step: int) -> bool:
    j = i + step
    while 0 <= j < len(plan) and isinstance(plan[j], Mark):
        j += step
    return 0 <= j < len(plan) and isinstance(plan[j], Pause)


def _check_prosody(rate: float, pitch: float) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise BadInput(f"rate {rate:g} is outside {MIN_RATE:g}..{MAX_RATE:g} (1 is the voice's own pace)")
    if abs(pitch) > MAX_PITCH_ST:
        raise BadInput(f"pitch {pitch:+g} semitones is beyond +/-{MAX_PITCH_ST:g}")


def _check_request(text: str, sample_rate: int) -> None:
    if not isinstance(text, str) or not text.strip():
        raise EmptyText("the text is empty; give at least one word to speak")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise BadInput(f"the text holds an unpaired surrogate (U+{ord(text[e.start]):04X}) at character {e.start}; "
                       "send valid Unicode") from e
    if len(text) > MAX_TEXT_CHARS:
        raise BadInput(f"the text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    if not audio.MIN_RATE <= sample_rate <= audio.MAX_RATE:
        raise BadInput(f"sample rate {sample_rate} Hz is outside {audio.MIN_RATE}..{audio.MAX_RATE} Hz")
