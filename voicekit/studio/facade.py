"""The `Studio`: the one object every public way to get audio (Python, CLI, HTTP) goes through.

    text -> request check (consent, caller) -> rendering -> loudness -> release (mark -> encode ->
    gate -> ledger) -> result

The safeguards are parts handed in (so a test can give a failing detector and watch the studio
refuse); none can be switched off.
"""
from __future__ import annotations

import hashlib
import threading
import time
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

from consent import sealed
from consent.atomic import atomic_write
from consent.challenges import DEFAULT_TTL_S, Challenge, new_challenge
from consent.database import Database
from consent.enrollment import Enroller
from consent.errors import EnrollmentRefused, UnknownVoice, VoicekitError
from consent.profiles import VoiceProfile
from consent.records import Records
from consent.voiceprint import SpeakerEncoder
from detection import passive, report
from detection.audit import Finding, inspect_audio, inspect_file, window_marks
from detection.content_credentials import Credentials, open_credentials, read_manifest
from detection.decoding import MAX_DECODED_S, decode_bytes, decode_file
from detection.gate import ReleaseGate
from detection.watermark import KeyedWatermark, Watermarker, WatermarkKey
from voicekit import audio, engines, loudness
from voicekit.engines.base import Engine
from voicekit.errors import BadInput, EmptyText, ScoreError
from voicekit.singing import Score, read_score, score_format
from voicekit.singing import render as singing
from voicekit.singing.plan import phrases
from voicekit.singing.ranges import check_range
from voicekit.singing.readers import MAX_SCORE_BYTES
from voicekit.singing.voices import singer_for
from voicekit.home import default_home, default_passphrase
from voicekit.studio import enrollment
from voicekit.studio.lexicons import StoredLexicons
from voicekit.studio.options import DEFAULT_RATE, PCM, SpeechOptions
from voicekit.studio.release import Safeguards, release
from voicekit.studio.rendering import placed, segments
from voicekit.studio.request import Caller, Request, checked_voice, planned, voices_of
from voicekit.studio.results import SpeechResult
from voicekit.studio.songs import Progress, SongResult, plan_song, render_song
from voicekit.studio.stream import SpeechStream
from voicekit.studio.voices import Voices
from voicekit.text.lexicon import Lexicon
from voicekit.timing import ForcedAligner


class Studio:
    """home: the data folder (registry.db, keys/, ledger/); default VOICEKIT_HOME or the user data dir.

    watermarker / gate: the safeguards to use; default the keyed watermark from this installation's
    keys and a release gate over it. threads: onnxruntime/torch threads per engine; device: where
    torch models (coqui) run, "cpu" or "cuda".
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
        self._passphrase = passphrase if passphrase is not None else default_passphrase()
        self._records = Records.open(self.home, self._passphrase, now=clock(), house=engines.house_profiles(now=clock()))
        self.keys, self.registry, self.ledger = self._records.keys, self._records.registry, self._records.ledger
        self.clock = clock
        self.voices = Voices(threads, device)
        self.lexicons = StoredLexicons(self.home / "lexicons")
        self._own_watermark = watermarker is None
        self._rotation_lock = threading.Lock()
        self._current_seen = self._current_stamp()
        self.watermarker = watermarker or self._keyed_watermark()
        self.gate = gate or ReleaseGate(self.watermarker)
        self._enroller: Enroller | None = None

    # -- speech ---------------------------------------------------------------------------------

    def speak(self, text: str, voice: str = "heart", options: SpeechOptions | None = None,
              caller: Caller | None = None, **fields: Any) -> SpeechResult:
        """Render `text` in `voice` through every safeguard. options: how (SpeechOptions); any of
        its fields may be given as keywords instead (`format="mp3"`). caller: whose request it is
        (the HTTP service passes the API key's owner; None: this installation's owner).

        Raises BadInput (SsmlError for bad markup, TooLong past a limit), a ConsentError,
        GateRefused or LedgerBroken."""
        options = SpeechOptions.of(options, **fields)
        options.check()
        t = time.perf_counter()
        request = self._request(text, voice, options, caller)
        timings = {"consent": time.perf_counter() - t}
        t = time.perf_counter()
        rate = options.sample_rate
        pieces = list(segments(request, self.voices, lambda: self.aligner, options.word_timings))
        samples = np.concatenate([s.samples for s in pieces])
        if not np.any(samples):
            raise EmptyText("the request renders only silence (prosody volume=\"silent\" throughout); "
                            "there is nothing to speak or to mark")
        words, marks = placed(pieces, rate)
        timings["synthesis"] = time.perf_counter() - t
        guards = self.safeguards(request)  # checked again as it leaves: a long render outlives no revocation
        out = release(guards, loudness.headroom(samples), rate, options.format, timings=timings,
                      leveled=lambda x: loudness.normalized(x, rate, request.loudness, request.style.energy_db),
                      describe=lambda mark: request.provenance(mark, guards.watermarker.name, guards.key_id))
        return SpeechResult(out.audio, out.sample_rate, options.format, out.encoded, out.mark_id, out.entry or {},
                            timings, marks, words)

    def sing(self, score: Score | Path | str, voice: str = "heart", transpose: int = 0, tempo: float | None = None,
             part: str | None = None, verse: int = 1, format: str = "wav", sample_rate: int = DEFAULT_RATE,
             caller: Caller | None = None) -> SpeechResult:
        """Sing a score (a Score, or a MusicXML, MIDI or JSON file) in `voice`, whose consent must
        cover singing (the `sing` scope), through the same release as speech. transpose: semitones;
        tempo: the first tempo in BPM (later changes keep their ratios); part/verse: which to sing
        from a file. Raises ScoreError (OutOfRange for notes the voice cannot reach), a
        ConsentError, EngineUnavailable for a voice that cannot sing, GateRefused or LedgerBroken."""
        options = SpeechOptions.of(None, format=format, sample_rate=sample_rate)
        options.check()
        if not isinstance(transpose, int) or not -24 <= transpose <= 24:
            raise BadInput(f"transpose by {transpose!r} semitones: give a whole number from -24 to 24")
        t = time.perf_counter()
        if not isinstance(score, Score):
            path = Path(score)
            score = read_score(_read_score_file(path), score_format(path.name), part, verse)
        score = score.transposed(transpose) if transpose else score
        score = score.at_tempo(tempo) if tempo is not None else score
        self._follow_rotation()
        profile = checked_voice(self.registry, voice, self.clock(), caller, scope="sing")
        engine = self.voices.for_profile(profile)
        singer = singer_for(engine)
        check_range(score, singer.base_name, transpose)
        timings = {"consent": time.perf_counter() - t}
        t = time.perf_counter()
        fingerprint = score.fingerprint()
        sung = audio.resample(singing.sing(phrases(score), singer, fingerprint), singer.sample_rate, sample_rate)
        timings["synthesis"] = time.perf_counter() - t
        checked_voice(self.registry, voice, self.clock(), caller, scope="sing")  # still consented as it leaves
        guards = self.safeguards()
        target = loudness.preset(None)
        out = release(guards, loudness.headroom(sung), sample_rate, format, timings=timings,
                      leveled=lambda x: loudness.normalized(x, sample_rate, target),
                      describe=lambda mark: {
                          "mark_id": mark, "kind": "singing", "voice": voice,
                          "voice_record_sha256": hashlib.sha256(profile.canonical()).hexdigest(),
                          "engine": engine.name, "model": engine.model_version,
                          "score_sha256": fingerprint, "transpose": transpose, "tempo": score.tempo[0][1],
                          "part": score.part, "sample_rate": sample_rate,
                          "watermark": guards.watermarker.name, "watermark_key": guards.key_id})
        return SpeechResult(out.audio, out.sample_rate, format, out.encoded, out.mark_id, out.entry or {}, timings)

    def song(self, lyrics: str | bytes | None = None, voice: str = "heart", style: str = "pop",
             score: Path | str | bytes | None = None, seed: int = 0, format: str = "wav", sample_rate: int = 44100,
             harmony: bool = False, stems: bool = False, stem_format: str = "wav", caller: Caller | None = None,
             on_progress: Progress | None = None, part: str | None = None, title: str = "",
             backing: str = "band", **style_changes: Any) -> SongResult:
        """A whole song in `voice` (its consent must cover singing): lyrics (the sheet's text, with
        [verse]/[chorus]/[bridge] sections) in a `style` preset (voicekit.music.style; key, mode,
        tempo, metre or progression may be changed as keywords), or a MusicXML `score` with a
        melody and chord symbols or accompaniment parts. seed: the melody's and the band's choices
        (the same seed gives the same MIDI). harmony: a third above in the chorus. stems: release
        each stem too (stem_format). on_progress(stage, done, total) after each stage. backing:
        "band" (FluidSynth, from the arrangement) or a MusicGen model, "musicgen:small" once
        downloaded or "musicgen:FOLDER" (voicekit.music.musicgen; one "backing" stem, seeded).
        Raises SongError, ScoreError (OutOfRange), a ConsentError, EngineUnavailable (FluidSynth
        or its SoundFont missing), GateRefused or LedgerBroken; all checks run before rendering."""
        self._follow_rotation()
        plan = plan_song(self, lyrics, voice, style, score, seed, format, sample_rate, harmony, stems, stem_format,
                         caller, part, title, style_changes, backing)
        return render_song(self, plan, caller, on_progress)

    def stream(self, text: str, voice: str = "heart", options: SpeechOptions | None = None,
               caller: Caller | None = None, **fields: Any) -> SpeechStream:
        """Like speak, but the audio comes a sentence at a time, each chunk checked again and
        released (marked with the stream's mark, gated) before it is handed out, as pcm (also for
        format "wav", the default: a WAV's samples, chunk by chunk) or aac. The request is checked
        (markup, consent) here, before anything renders; the ledger gets the output entry when the
        first chunk leaves and a closing entry (all released audio's SHA-256, whether the stream
        was read to the end) when it ends or is closed."""
        options = SpeechOptions.of(options, **fields)
        if options.format == "wav":  # a WAV stream is its samples, chunk by chunk, after one header
            options = SpeechOptions.of(options, format=PCM)
        options.check(streaming=True)
        return SpeechStream(self, self._request(text, voice, options, caller))

    def _request(self, text: str, voice: str, options: SpeechOptions, caller: Caller | None) -> Request:
        """The checked request: its plan, and every voice it uses consent-checked with its engine."""
        self._follow_rotation()
        plan, chosen = planned(text, options)
        now = self.clock()
        profiles = {v: checked_voice(self.registry, v, now, caller) for v in voices_of(voice, plan)}
        voices: dict[str, Engine] = {}
        for v, profile in profiles.items():
            if options.clone_with is not None and v == voice:
                model = checked_voice(self.registry, options.clone_with, now, caller)
                voices[v] = self.voices.coqui_clone(profile, model, lambda: self.sealed_references(profile.voice_id))
            else:
                voices[v] = self.voices.for_profile(profile)
        lexicons = {v: self.lexicons.for_voice(v).merged(options.lexicon) for v in profiles}
        return Request(text, voice, options, plan, profiles, voices, lexicons, chosen, caller)

    def safeguards(self, request: Request | None = None) -> Safeguards:
        """The release's parts as they are now; with a request, its consent checks again first
        (every voice still active, in scope and allowed to the caller), so a revocation, an
        expiry or a revoked key takes effect before the next chunk or chapter."""
        self._follow_rotation()
        if request is not None:
            now = self.clock()
            for voice in request.profiles:
                checked_voice(self.registry, voice, now, request.caller)
        return Safeguards(self.watermarker, self.gate, self.ledger, self.keys.current_key_id, self.clock,
                          self.credentials, passive.detector().score)

    @cached_property
    def credentials(self) -> Credentials:
        """This installation's C2PA signing chain (made on first use; see detection.content_credentials).
        Its certificates run on real time, not the studio's clock: C2PA readers check them against it."""
        return open_credentials(self.home / "c2pa", self._passphrase)

    def check_voice(self, voice: str, caller: Caller | None = None) -> VoiceProfile:
        """The voice's verified, active record if `caller` may speak with it (a job's check before
        it is queued); raises as speak does."""
        return checked_voice(self.registry, voice, self.clock(), caller)

    @cached_property
    def aligner(self) -> ForcedAligner:
        return ForcedAligner()

    def engine(self, name: str) -> Engine:
        """A house engine by name, loaded once on first use."""
        return self.voices.engine(name)

    # -- detection ------------------------------------------------------------------------------

    def detect(self, source: Path | str | bytes, since: float | None = None, until: float | None = None) -> Finding:
        """Is this file (a path, or its bytes) ours? since/until (Unix seconds): when the caller
        knows the audio was made, which adds a test of every output of that window (stronger on
        heavily edited audio; see detection.audit). Raises UnreadableAudio for a missing, empty or
        non-audio file, TooLong past MAX_DECODED_S of audio, BadInput for a window that ends
        before it starts, WindowTooWide."""
        self._follow_rotation()
        issued: list[int] = []
        if since is not None or until is not None:
            window = (since if since is not None else 0.0, until if until is not None else self.clock())
            if window[1] < window[0]:
                raise BadInput("the time window ends before it starts")
            issued = window_marks(self.ledger, *window)
        if isinstance(source, bytes):
            samples, rate = decode_bytes(source, max_seconds=MAX_DECODED_S)
            return inspect_audio(samples, rate, self.watermarker, self.ledger, self.keys, issued)
        return inspect_file(source, self.watermarker, self.ledger, self.keys, issued)

    def audit(self, paths: list[Path | str], recursive: bool = False,
              on_file: Callable[[int, int, Path], None] | None = None,
              names: list[str] | None = None) -> dict[str, Any]:
        """A signed report (detection.report) on every file in `paths` (files, or folders: their
        files, with `recursive` their subfolders' too). Per file: the verdict (detection.report's
        VERDICTS), the finding, the passive detector's score (advisory), and for a named record its
        voice's consent status when the output was made and now. A file that cannot be read is
        reported as such; the batch goes on. A mark whose record, or the ledger chain around it,
        does not verify is reported record-invalid, its provenance kept in the row. Where the
        file holds a C2PA manifest it is validated (our root trusted) and compared with the mark's
        record.
        on_file(done, total, path): called after each file (a progress bar). names: what the
        report calls each of `paths` (files, not folders), instead of its path: an upload's name.

        Costs per file what `detect` costs: the ledger's and registry's indexes, never a scan."""
        self._follow_rotation()
        files = report.audio_files(paths, recursive)
        if names is not None and len(names) != len(files):
            raise BadInput("give one name per file audited")
        rows = []
        for done, path in enumerate(files, 1):
            rows.append(self._audit_row(path, str(path) if names is None else names[done - 1]))
            if on_file is not None:
                on_file(done, len(files), path)
        body = {"created": self.clock(), "watermark": self.watermarker.name, "files": rows,
                "summary": report.summary(rows)}
        return report.signed_report(body, self.keys)

    def _audit_row(self, path: Path, label: str) -> dict[str, Any]:
        try:
            samples, rate = decode_file(path, max_seconds=MAX_DECODED_S)
        except VoicekitError as e:
            return {"path": label, "verdict": report.UNREADABLE, "error": str(e).replace(str(path), label)}
        finding = inspect_audio(samples, rate, self.watermarker, self.ledger, self.keys)
        row: dict[str, Any] = {"path": label, **finding.as_dict(),
                               "passive": passive.detector().score(samples, rate).as_dict(),
                               "c2pa": self._c2pa_finding(path, finding)}
        provenance = finding.provenance
        if provenance is None:
            row["verdict"] = report.MARKED_UNATTRIBUTED if finding.watermarked else report.NO_MARK
            return row
        if not (provenance["signature_valid"] and provenance["ledger_chain"]["intact"]):
            row["verdict"] = report.RECORD_INVALID
            return row
        row["verdict"] = report.OURS
        voice, made = provenance["voice"], provenance["time"]
        row["consent"] = {"voice": voice, "then": self._consent_status(voice, made),
                          "now": self._consent_status(voice, self.clock())}
        return row

    def _c2pa_finding(self, path: Path, finding: Finding) -> dict[str, Any]:
        """The file's C2PA manifest validated with this installation's root as the trust anchor,
        and whether it names the same ledger entry as the mark does."""
        found = read_manifest(path, path.suffix.lower().lstrip("."), [self.credentials.root_pem])
        claimed = (found.get("provenance") or {}).get("ledger_entry_hash")
        if claimed is not None and finding.provenance is not None:
            found["matches_mark"] = claimed == finding.provenance["entry_hash"]
        return found

    def _consent_status(self, voice_id: str, at: float) -> dict[str, Any]:
        try:
            status = self.registry.status_at(voice_id, at)
        except UnknownVoice:
            return {"status": "unknown", "detail": "no such voice in this registry"}
        return {"status": status.status, "detail": status.detail}

    # -- consent --------------------------------------------------------------------------------

    def consent_challenge(self, name: str, ttl_s: float = DEFAULT_TTL_S,
                          nonce: tuple[str, ...] | None = None) -> Challenge:
        """A phrase for `name` to read, valid once, for `ttl_s` seconds; raises BadInput for a bad name.
        nonce: fixed words for reproducible tests and benchmarks; random by default (and from the CLI)."""
        challenge = new_challenge(name, now=self.clock(), ttl_s=ttl_s, nonce=nonce)
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
        (TooLong for a recording over enrollment.MAX_RECORDING_S, or references over
        enrollment.MAX_REFERENCES_S in all) or UnreadableAudio. A refusal
        counts against the challenge (three and it is spent) and is written to the ledger;
        nothing else changes.
        """
        self._follow_rotation()
        now = self.clock()
        enrollment.check_request(references, scopes, expires_at, now)
        challenge = self.registry.challenge(challenge_id)
        challenge.usable_by(name, now)
        consent_recording = enrollment.recording(consent)
        recordings = enrollment.references(references)
        watermark_p = {r.label: enrollment.watermark_p(r, self.watermarker, self.ledger, self.keys)
                       for r in [consent_recording, *recordings]}
        enroller = self._enroller = self._enroller or Enroller(encoder=SpeakerEncoder(self.voices.threads))
        assessment, embedding = enroller.assess(challenge, consent_recording, recordings, watermark_p)
        if assessment.failures:
            self.registry.count_failed_attempt(challenge_id)
            self.ledger.append("enrollment-refused", {
                "challenge_id": challenge_id, "failures": assessment.failures,
                "audio_sha256": [r.sha256 for r in [consent_recording, *recordings]],
            }, now=now)
            raise EnrollmentRefused(assessment.failures)
        fitted = enrollment.fitted_voice(self.voices, enroller, recordings, consent_recording)
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
        """Revoke a voice at once, for every later request and every running stream's next chunk;
        raises UnknownVoice or VoiceRevoked."""
        self.registry.revoke(voice_id, reason, self.clock())

    # -- voices, lexicons and keys ---------------------------------------------------------------

    def add_model_voice(self, name: str, folder: Path | str, licence: str, speaker: str | None = None,
                        language: str | None = None) -> VoiceProfile:
        """Register a coqui-tts model folder as the voice `name`, signing its files' SHA-256 and licence.

        The model is loaded and speaks one test sentence first, so a folder coqui cannot load, or a
        multi-speaker model without a valid speaker, is refused (EngineUnavailable) before anything is
        signed. Raises BadInput for a bad or taken name."""
        if self.registry.exists(name):
            raise BadInput(f"the voice {name!r} is already registered")
        now = self.clock()
        engine = self.voices.tried_model(name, folder, licence, speaker, language)
        profile = engines.model_voice_profile(name, engine.files, licence, speaker, language, now)
        self.registry.register(profile, now, kind="voice-added",
                               details={"model_sha256": engine.files.sha256, "licence": licence})
        self.voices.add_model(name, engine)
        return self.registry.check_at(name, now=now)

    def lexicon_for(self, voice: str) -> Lexicon:
        """The stored global lexicon with the voice's own over it."""
        return self.lexicons.for_voice(voice)

    def set_lexicon(self, lexicon: Lexicon | None, voice: str | None = None) -> None:
        """Store (None: remove) the global lexicon or one voice's; applied to every later request."""
        if voice is not None:
            self.registry.check_at(voice, now=self.clock())
        self.lexicons.store(lexicon, voice)
        self.ledger.append("lexicon", {"voice": voice, "lexicon_sha256": None if lexicon is None else lexicon.sha256,
                                       "entries": 0 if lexicon is None else len(lexicon)}, now=self.clock())

    @property
    def job_database(self) -> Database | None:
        """The records' server, where jobs live too; None when the home's SQLite files hold the records
        (each job store then keeps its own)."""
        db = self.registry.db
        return None if db.embedded else db

    def rotate_keys(self) -> str:
        """Sign with a new key from now on; older records, entries and watermarks keep verifying."""
        kid = self._records.rotate_keys(self.clock())
        self._current_seen = self._current_stamp()
        self._adopt_keys()
        return kid

    def _keyed_watermark(self) -> KeyedWatermark:
        return KeyedWatermark([WatermarkKey(s) for s in self.keys.watermark_secrets()])

    def _current_stamp(self) -> object:
        return self.keys.current_stamp()

    def _follow_rotation(self) -> None:
        """One stat (or one indexed row, on a server) per request: when another process rotated the
        keys, sign and mark with the new key, and find its marks."""
        stamp = self._current_stamp()
        if stamp == self._current_seen:
            return
        with self._rotation_lock:
            if stamp != self._current_seen:
                self._records.follow_rotation()
                self._adopt_keys()
                self._current_seen = stamp

    def _adopt_keys(self) -> None:
        if self._own_watermark:
            self.watermarker = self._keyed_watermark()
            self.gate = ReleaseGate(self.watermarker)


def _read_score_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_SCORE_BYTES:
            raise ScoreError(f"{path} has {path.stat().st_size} bytes; a score may have {MAX_SCORE_BYTES}")
        return path.read_bytes()
    except OSError as e:
        raise ScoreError(f"cannot read the score {path}: {e.strerror}") from e
