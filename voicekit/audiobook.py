"""Audiobook narration as persisted jobs: a book's chapters, each spoken through the studio (so
each is consent-checked, marked, gated and in the ledger), then joined into one M4B with chapter
markers or a zip of per-chapter MP3s.

Jobs live in the job database (`<home>/audiobooks/jobs.db`, or the records' server) with every
chapter's text, and each finished chapter's released bytes are kept beside it, written atomically
before its row says "done". A chapter is rendered only under its claim (`Database.hold`), which the
system drops when the process holding it dies: any number of processes (the API's thread, `voicekit
worker`s on other machines) narrate one book together, each taking the next unclaimed chapter, and
a chapter is released once even when two tasks run for it. A job interrupted by a crash, a stop or
a killed worker resumes where it stopped: finished chapters are never rendered again.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import socket
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from consent.atomic import atomic_write
from detection import content_credentials
from voicekit import __version__, audio
from voicekit.books import Chapter
from voicekit.errors import AssemblyFailed, BadInput, VoicekitError
from voicekit.jobstore import JobStore, unfinished
from voicekit.m4b import audio_packets, decode_excerpts, mux_m4b, read_chapters
from voicekit.studio import Caller, SpeechOptions, Studio

OUTPUTS = {"m4b": "m4a", "zip": "mp3"}  # book format -> the format each chapter is rendered and gated in
ACTIVE = ("queued", "running")
RESUMABLE = (*ACTIVE, "failed")  # a failed job (a busy server, a ledger since repaired) may run again
Progress = Callable[["NarrationJob"], None]
# Chapters are set to the audiobook platforms' level (ACX: RMS -23..-18 dB, peaks at most -3 dB).
CHAPTER_OPTIONS = SpeechOptions(loudness="acx")
EXCERPT_S = 30.0  # seconds of each chapter's start that the gate checks again in the joined book


class JobNotFound(BadInput):
    """No narration job has that id (or it belongs to another owner)."""

    http_status, problem = 404, "unknown-job"


class JobNotReady(BadInput):
    """The job has no result yet (still running, failed or cancelled)."""

    http_status, problem = 409, "job-not-ready"


class JobCancelled(VoicekitError):
    """Narration stopped because the job was cancelled."""

    http_status, problem = 409, "job-cancelled"


@dataclass(frozen=True)
class ChapterState:
    index: int
    title: str
    words: int
    mark_id: int | None
    duration_s: float | None
    render_s: float | None

    @property
    def done(self) -> bool:
        return self.mark_id is not None


@dataclass(frozen=True)
class NarrationJob:
    job_id: str
    owner: str
    key_id: str | None
    voice: str
    style: str | None
    output: str
    title: str | None
    status: str  # queued, running, done, failed or cancelled
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    ledger_seq: int | None
    chapters: list[ChapterState] = field(default_factory=list)

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace of this job's chapters so far (words rendered per second)."""
        done = [c for c in self.chapters if c.done and c.render_s]
        if self.status not in ACTIVE or not done:
            return None
        pace = sum(c.words for c in done) / sum(c.render_s for c in done)
        return round(sum(c.words for c in self.chapters if not c.done) / pace, 1)

    def as_dict(self) -> dict[str, Any]:
        finished = [c for c in self.chapters if c.done]
        return {
            "job_id": self.job_id, "owner": self.owner, "voice": self.voice, "style": self.style,
            "output": self.output, "title": self.title, "status": self.status,
            "created_at": self.created_at, "started_at": self.started_at, "finished_at": self.finished_at,
            "error": self.error, "ledger_seq": self.ledger_seq,
            "chapters_total": len(self.chapters), "chapters_done": len(finished),
            "words_total": sum(c.words for c in self.chapters), "words_done": sum(c.words for c in finished),
            "seconds_done": round(sum(c.duration_s or 0 for c in finished), 3), "eta_s": self.eta_s,
            "chapters": [{"index": c.index, "title": c.title, "words": c.words, "done": c.done, "mark_id": c.mark_id,
                          "duration_s": c.duration_s} for c in self.chapters],
        }


class Narrations(JobStore):
    """folder: <home>/audiobooks (created on first use)."""

    TABLES = ("jobs", "job_chapters")

    def submit(self, chapters: list[Chapter], voice: str, owner: str, now: float, output: str = "m4b",
               style: str | None = None, title: str | None = None, key_id: str | None = None) -> NarrationJob:
        """Store a new queued job; nothing renders until `narrate` runs it."""
        if output not in OUTPUTS:
            raise BadInput(f"an audiobook is made as {' or '.join(OUTPUTS)}, not {output!r}")
        if not chapters:
            raise BadInput("the book has no chapters to narrate")
        job_id = secrets.token_hex(8)
        with self.db.write() as session:
            session.execute("INSERT INTO jobs (job_id, owner, key_id, voice, style, output, title, status, created_at) "
                            "VALUES (:job, :owner, :key, :voice, :style, :output, :title, 'queued', :now)",
                            {"job": job_id, "owner": owner, "key": key_id, "voice": voice, "style": style,
                             "output": output, "title": title, "now": now})
            for i, c in enumerate(chapters):
                session.execute("INSERT INTO job_chapters (job_id, idx, title, text, words) "
                                "VALUES (:job, :idx, :title, :text, :words)",
                                {"job": job_id, "idx": i, "title": c.title, "text": c.text, "words": c.words})
        return self.job(job_id)

    def job(self, job_id: str, owner: str | None = None) -> NarrationJob:
        """The job's state; raises JobNotFound (also when `owner` is given and is not the job's)."""
        with self.db.read() as session:
            row = session.execute("SELECT job_id, owner, key_id, voice, style, output, title, status, created_at, "
                                  "started_at, finished_at, error, ledger_seq FROM jobs WHERE job_id = :job",
                                  {"job": job_id}).fetchone()
            chapters = session.execute("SELECT idx, title, words, mark_id, duration_s, render_s FROM job_chapters "
                                       "WHERE job_id = :job ORDER BY idx", {"job": job_id}).fetchall()
        if row is None or (owner is not None and row[1] != owner):
            raise JobNotFound(f"no audiobook job {job_id!r}")
        return NarrationJob(*row, chapters=[ChapterState(*c) for c in chapters])

    def jobs(self, owner: str | None = None, latest: int | None = None) -> list[NarrationJob]:
        """The owner's jobs (all owners' for None), oldest first; with `latest`, only that many,
        newest first (a page that lists them reads no more than it shows)."""
        with self.db.read() as session:
            mine = "" if owner is None else " WHERE owner = :owner"
            order = "" if latest is None else " DESC LIMIT :latest"
            ids = [r[0] for r in session.execute(f"SELECT job_id FROM jobs{mine} ORDER BY created_at{order}",
                                                 {"owner": owner, "latest": latest})]
        return [self.job(i) for i in ids]

    def unfinished(self) -> list[str]:
        """Jobs to pick up at start: queued ones and those a stop interrupted."""
        return unfinished(self.db, "jobs")

    def cancel(self, job_id: str, now: float, owner: str | None = None) -> NarrationJob:
        """Stop a queued or running job (a chapter being rendered finishes first); finished jobs stay as they are."""
        self.job(job_id, owner)
        with self.db.write() as session:
            session.execute("UPDATE jobs SET status = 'cancelled', finished_at = :now "
                            "WHERE job_id = :job AND status IN ('queued', 'running')", {"now": now, "job": job_id})
        return self.job(job_id)

    def result_path(self, job: NarrationJob) -> Path:
        return self._job_folder(job.job_id) / f"book.{job.output}"

    def result(self, job_id: str, owner: str | None = None) -> tuple[NarrationJob, Path]:
        job = self.job(job_id, owner)
        if job.status != "done":
            raise JobNotReady(f"the audiobook job {job_id} is {job.status}; its result exists once it is done")
        return job, self.result_path(job)

    def narrate(self, studio: Studio, job_id: str, caller: Caller | None = None,
                on_progress: Progress | None = None, workers: int = 1) -> NarrationJob:
        """Render the chapters no process has claimed (`workers` at a time) until none is left, then
        assemble and record the book once every chapter is done. Other processes may narrate the
        same job at once: each renders different chapters, and the one that finishes the last
        assembles; the others return the job still running.

        Raises JobCancelled if the job is (or gets) cancelled; any other error marks the job failed
        and is raised. Chapters finished before an error or a stop are kept for the next run."""
        job = self.job(job_id)
        if job.status not in RESUMABLE:
            raise BadInput(f"the audiobook job {job_id} is {job.status}; only queued, interrupted or failed jobs run")
        with self.db.write() as session:  # in one statement, so a cancel in between is not overwritten
            started = session.execute("UPDATE jobs SET status = 'running', error = NULL, "
                                      "started_at = COALESCE(started_at, :now) WHERE job_id = :job "
                                      "AND status IN ('queued', 'running', 'failed')", {"now": time.time(), "job": job_id})
        if started.rowcount != 1:
            raise JobCancelled(f"the audiobook job {job_id} was cancelled before it started")
        try:
            pool = ThreadPoolExecutor(max(1, workers))
            try:
                for _ in pool.map(lambda _: self._render_unclaimed(studio, job, caller, on_progress), range(workers)):
                    pass
            finally:  # a failure or an interrupt starts no further chapter
                pool.shutdown(wait=True, cancel_futures=True)
            self._check_not_cancelled(job_id)
            return self._assemble_when_done(studio, job_id, on_progress)
        except JobCancelled:
            raise
        except Exception as e:
            with self.db.write() as session:
                session.execute("UPDATE jobs SET status = 'failed', error = :error, finished_at = :now "
                                "WHERE job_id = :job AND status IN ('queued', 'running')",
                                {"error": str(e) or type(e).__name__, "now": time.time(), "job": job_id})
            raise

    def orphaned(self) -> list[str]:
        """Running jobs whose narrator died: a chapter claimed but neither done nor held any more,
        or every chapter done and nobody assembling. Cost: the running jobs' unfinished chapters."""
        with self.db.read() as session:
            claimed = session.execute(
                "SELECT c.job_id, c.idx FROM job_chapters c JOIN jobs j ON j.job_id = c.job_id "
                "WHERE j.status = 'running' AND c.claimed_at IS NOT NULL AND c.mark_id IS NULL").fetchall()
            assembling = [row[0] for row in session.execute(
                "SELECT j.job_id FROM jobs j WHERE j.status = 'running' AND NOT EXISTS "
                "(SELECT 1 FROM job_chapters c WHERE c.job_id = j.job_id AND c.mark_id IS NULL)")]
        found = set()
        for job_id, index in claimed:
            with self.db.hold(_chapter_claim(job_id, index)) as held:
                if held:
                    found.add(job_id)
        for job_id in assembling:
            with self.db.hold(_assembly_claim(job_id)) as held:
                if held:
                    found.add(job_id)
        return sorted(found)

    def _render_unclaimed(self, studio: Studio, job: NarrationJob, caller: Caller | None,
                          on_progress: Progress | None) -> None:
        """Render chapters of the job, one at a time, while one is unclaimed and undone."""
        while True:
            self._check_not_cancelled(job.job_id)
            with self._claim_next_chapter(job.job_id) as index:
                if index is None:
                    return
                self._render_chapter(studio, job, index, caller, on_progress)

    @contextmanager
    def _claim_next_chapter(self, job_id: str) -> Iterator[int | None]:
        """The first undone chapter this process could claim (held while the block runs), or None."""
        for index in self._undone(job_id):
            with self.db.hold(_chapter_claim(job_id, index)) as held:
                if held and index in self._undone(job_id):  # not finished between the look and the claim
                    with self.db.write() as session:
                        session.execute("UPDATE job_chapters SET claimed_at = :now, claimed_by = :by "
                                        "WHERE job_id = :job AND idx = :idx",
                                        {"now": time.time(), "by": f"{socket.gethostname()}:{os.getpid()}",
                                         "job": job_id, "idx": index})
                    yield index
                    return
        yield None

    def _undone(self, job_id: str) -> list[int]:
        with self.db.read() as session:
            return [row[0] for row in session.execute(
                "SELECT idx FROM job_chapters WHERE job_id = :job AND mark_id IS NULL ORDER BY idx", {"job": job_id})]

    def _render_chapter(self, studio: Studio, job: NarrationJob, index: int, caller: Caller | None,
                        on_progress: Progress | None) -> None:
        with self.db.read() as session:
            text, = session.execute("SELECT text FROM job_chapters WHERE job_id = :job AND idx = :idx",
                                    {"job": job.job_id, "idx": index}).fetchone()
        started = time.perf_counter()
        result = studio.speak(text, job.voice, CHAPTER_OPTIONS, caller, style=job.style, format=OUTPUTS[job.output])
        atomic_write(self._chapter_path(job, index), result.encoded)
        with self.db.write() as session:
            session.execute("UPDATE job_chapters SET mark_id = :mark, duration_s = :duration, render_s = :render, "
                            "finished_at = :now WHERE job_id = :job AND idx = :idx AND mark_id IS NULL",
                            {"mark": result.mark_id, "duration": round(len(result.audio) / result.sample_rate, 3),
                             "render": time.perf_counter() - started, "now": time.time(), "job": job.job_id,
                             "idx": index})
        if on_progress is not None:
            on_progress(self.job(job.job_id))

    def _assemble_when_done(self, studio: Studio, job_id: str, on_progress: Progress | None) -> NarrationJob:
        """Assemble the book if every chapter is done and no other process is assembling it."""
        with self.db.hold(_assembly_claim(job_id)) as held:
            job = self.job(job_id)
            if held and job.status == "running" and all(c.done for c in job.chapters):
                return self._assemble(studio, job, on_progress)
            return job

    def _assemble(self, studio: Studio, job: NarrationJob, on_progress: Progress | None) -> NarrationJob:
        parts = [(c, self._chapter_path(job, c.index).read_bytes()) for c in job.chapters]
        if job.output == "m4b":
            data = mux_m4b([(c.title, encoded) for c, encoded in parts], title=job.title, author=None)
            placed = _checked_m4b(studio, data, [c.mark_id for c, _ in parts])
        else:
            data, placed = _zipped(parts), [{"file": _chapter_name(c, "mp3")} for c, _ in parts]
        entry = studio.ledger.append("audiobook", {
            "job_id": job.job_id, "format": job.output, "voice": job.voice,
            "audio_sha256": hashlib.sha256(data).hexdigest(),
            "chapters": [{"index": c.index, "title": c.title, "mark_id": c.mark_id,
                          "chapter_sha256": hashlib.sha256(encoded).hexdigest()} | where
                         for (c, encoded), where in zip(parts, placed)],
            # A zip is no audio file: each MP3 in it carries its own chapter's manifest.
            "c2pa": content_credentials.ledger_field(job.output),
        }, now=studio.clock())
        if job.output == "m4b":
            data = _credentialed_m4b(studio, job, data, entry.as_dict())
        atomic_write(self.result_path(job), data)
        with self.db.write() as session:
            session.execute("UPDATE jobs SET status = 'done', finished_at = :now, ledger_seq = :seq "
                            "WHERE job_id = :job AND status = 'running'",
                            {"now": time.time(), "seq": entry.seq, "job": job.job_id})
        done = self.job(job.job_id)
        if on_progress is not None:
            on_progress(done)
        return done

    def _check_not_cancelled(self, job_id: str) -> None:
        if self.job(job_id).status == "cancelled":
            raise JobCancelled(f"the audiobook job {job_id} was cancelled")

    def _job_folder(self, job_id: str) -> Path:
        folder = self.folder / job_id
        folder.mkdir(exist_ok=True, mode=0o700)
        return folder

    def _chapter_path(self, job: NarrationJob, index: int) -> Path:
        return self._job_folder(job.job_id) / f"chapter-{index:04d}.{OUTPUTS[job.output]}"


def _chapter_claim(job_id: str, index: int) -> str:
    return f"voicekit audiobook {job_id} chapter {index}"


def _assembly_claim(job_id: str) -> str:
    return f"voicekit audiobook {job_id} assembly"


def _checked_m4b(studio: Studio, data: bytes, mark_ids: list[int]) -> list[dict[str, Any]]:
    """Pass the start of each chapter, as the joined book decodes it, through the gate with the
    chapter's own mark. The rest of the book needs no second check: `mux_m4b` has proved its
    packets are the chapters' own, byte for byte, each chapter passed the gate whole when it was
    released, and an AAC packet decodes the same wherever it sits once the packet before it is the
    same: only a chapter's first packets follow another chapter's last. So the book's check costs
    EXCERPT_S per chapter, not a second decode of hours of audio, and the book's one serial step
    (which decides how far narration scales over workers, bench/workers.py) stays short."""
    spans = read_chapters(data)
    if len(spans) != len(mark_ids):
        raise AssemblyFailed(f"the M4B muxer wrote {len(spans)} chapter markers for {len(mark_ids)} chapters")
    excerpts, rate = decode_excerpts(data, [(s["start_s"], min(s["end_s"], s["start_s"] + EXCERPT_S)) for s in spans])
    for piece, mark_id in zip(excerpts, mark_ids):
        studio.gate.check(audio.encode(piece, rate, "wav"), mark_id)
    return [{"start_s": round(s["start_s"], 3), "end_s": round(s["end_s"], 3)} for s in spans]


def _credentialed_m4b(studio: Studio, job: NarrationJob, data: bytes, entry: dict[str, Any]) -> bytes:
    """The book with its C2PA manifest (naming its ledger entry, so added after it), and proof
    that the manifest changed none of the audio the gate passed: the same AAC packets, byte for
    byte, as the book that was checked."""
    signed = studio.credentials.sign(data, "m4b", {
        "voice": job.voice, "audiobook_job": job.job_id,
        "chapter_mark_ids": [f"{c['mark_id']:08x}" for c in entry["body"]["chapters"]],
        "ledger_seq": entry["seq"], "ledger_entry_hash": entry["hash"],
        "key_id": entry["signature"]["key_id"],
    }, __version__, title=f"{job.title or 'voicekit audiobook'}.m4b")
    if audio_packets(signed) != audio_packets(data):
        raise AssemblyFailed("adding the C2PA manifest changed the book's audio")
    return signed


def _zipped(parts: list[tuple[ChapterState, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for chapter, encoded in parts:
            archive.writestr(_chapter_name(chapter, "mp3"), encoded)
        archive.writestr("chapters.json", json.dumps(
            [{"index": c.index, "title": c.title, "mark_id": c.mark_id, "file": _chapter_name(c, "mp3")}
             for c, _ in parts], indent=2))
    return buffer.getvalue()


def _chapter_name(chapter: ChapterState, ext: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in chapter.title.lower()).strip("-")[:40] or "chapter"
    return f"{chapter.index + 1:03d}-{slug}.{ext}"
