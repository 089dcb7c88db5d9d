"""Song jobs for the HTTP service: a checked request kept on disk, made in the background by
`Studio.song`, with its stage for progress and its files (master, and stems with the MIDI and
MusicXML as one zip) kept beside it.

Jobs live in SQLite (`<home>/songs/jobs.db`). The request (lyrics or score bytes and the options)
is written before the row exists and the result before the row says "done", so a restart finds
either a whole job or none; an interrupted job is made again from the start (its earlier
partial outputs stay in the ledger as what they were: released audio).
"""
from __future__ import annotations

import io
import json
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consent.atomic import atomic_write
from voicekit.errors import BadInput, VoicekitError
from voicekit.jobstore import JobStore, orphaned, unfinished, update
from voicekit.studio import Studio
from voicekit.studio.request import Caller

ACTIVE = ("queued", "running")
_CLAIM = "voicekit song {}"  # held while a process runs the job


class SongNotFound(BadInput):
    """No song job has that id (or it belongs to another owner)."""

    http_status, problem = 404, "unknown-song"


class SongNotReady(BadInput):
    """A song's files are asked for before it is done, or stems that were not asked for."""

    http_status, problem = 409, "song-not-ready"


class SongCancelled(VoicekitError):
    problem = "song-cancelled"


@dataclass(frozen=True)
class SongJob:
    job_id: str
    owner: str
    key_id: str | None
    status: str  # queued, running, done, failed or cancelled
    created_at: float
    finished_at: float | None
    stage: str | None
    done: int
    total: int
    options: dict[str, Any]
    mark_id: str | None
    ledger_seq: int | None
    figures: dict[str, float] | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "status": self.status, "created_at": self.created_at,
                "finished_at": self.finished_at, "stage": self.stage, "stages_done": self.done,
                "stages": self.total, "voice": self.options["voice"], "format": self.options["format"],
                "stems": self.options["stems"], "mark_id": self.mark_id, "ledger_seq": self.ledger_seq,
                "figures": self.figures, "error": self.error}


class Songs(JobStore):
    """folder: <home>/songs (created on first use)."""

    TABLES = ("songs",)

    def submit(self, source: bytes, is_score: bool, options: dict[str, Any], stages: int, owner: str, now: float,
               key_id: str | None = None) -> SongJob:
        """Keep the lyrics (or score) and options of a request `plan_song` has already checked."""
        job_id = secrets.token_hex(8)
        folder = self.folder / job_id
        folder.mkdir(mode=0o700)
        atomic_write(folder / ("score.musicxml" if is_score else "lyrics.txt"), source)
        with self.db.write() as session:
            session.execute("INSERT INTO songs (job_id, owner, key_id, status, created_at, total, options) "
                            "VALUES (:job, :owner, :key, 'queued', :now, :total, :options)",
                            {"job": job_id, "owner": owner, "key": key_id, "now": now, "total": stages,
                             "options": json.dumps(options)})
        return self.job(job_id)

    def job(self, job_id: str, owner: str | None = None) -> SongJob:
        """Raises SongNotFound (also when `owner` is given and is not the job's)."""
        with self.db.read() as session:
            row = session.execute("SELECT job_id, owner, key_id, status, created_at, finished_at, stage, done, total, "
                                  "options, mark_id, ledger_seq, figures, error FROM songs WHERE job_id = :job",
                                  {"job": job_id}).fetchone()
        if row is None or (owner is not None and row[1] != owner):
            raise SongNotFound(f"no song job {job_id!r}")
        return SongJob(*row[:9], json.loads(row[9]), row[10], row[11], json.loads(row[12]) if row[12] else None,
                       row[13])

    def jobs(self, owner: str | None) -> list[SongJob]:
        with self.db.read() as session:
            mine = "" if owner is None else " WHERE owner = :owner"
            ids = [r[0] for r in session.execute(f"SELECT job_id FROM songs{mine} ORDER BY created_at DESC LIMIT 100",
                                                 {"owner": owner})]
        return [self.job(i) for i in ids]

    def unfinished(self) -> list[str]:
        return unfinished(self.db, "songs")

    def orphaned(self) -> list[str]:
        """Running jobs whose process died (see voicekit.jobstore.orphaned)."""
        return orphaned(self.db, "songs", _CLAIM)

    def run(self, studio: Studio, job_id: str, caller: Caller | None) -> SongJob:
        """Make the song and keep its files; a failure marks the job failed and is raised, a
        cancellation (seen between stages) leaves it cancelled. A song another process is making,
        or one that has finished, is left as it is (a task that runs twice releases one song)."""
        with self.db.hold(_CLAIM.format(job_id)) as held:
            job = self.job(job_id)
            if not held or job.status not in ACTIVE:
                return job
            return self._run(studio, job, caller)

    def _run(self, studio: Studio, job: SongJob, caller: Caller | None) -> SongJob:
        job_id = job.job_id
        folder = self.folder / job_id
        options = dict(job.options)
        score = folder / "score.musicxml"
        source = {"score": score.read_bytes()} if score.exists() else {"lyrics": (folder / "lyrics.txt").read_bytes()}
        self._update(job_id, status="running", done=0, stage=None)

        def progress(stage: str, done: int, total: int) -> None:
            if self.job(job_id).status == "cancelled":
                raise SongCancelled(f"the song {job_id} was cancelled")
            self._update(job_id, stage=stage, done=done, total=total)

        try:
            style = options.pop("style")
            changes = options.pop("style_changes")
            result = studio.song(**source, style=style, caller=caller, on_progress=progress, **options, **changes)
            atomic_write(folder / f"master.{result.master.format}", result.master.encoded)
            if result.stems:
                atomic_write(folder / "stems.zip", _zipped(result))
        except SongCancelled:
            self._update(job_id, finished_at=studio.clock())
            raise
        except Exception as e:
            self._update(job_id, status="failed", error=str(e), finished_at=studio.clock())
            raise
        self._update(job_id, status="done", mark_id=f"{result.master.mark_id:08x}",
                     ledger_seq=result.master.provenance["seq"], figures=json.dumps(result.figures),
                     finished_at=studio.clock())
        return self.job(job_id)

    def cancel(self, job_id: str, now: float, owner: str | None = None) -> SongJob:
        """Cancel a queued or running job (a running one stops after its current stage)."""
        job = self.job(job_id, owner)
        if job.status not in ACTIVE:
            raise SongNotReady(f"the song {job_id} is {job.status}; only a queued or running song can be cancelled")
        self._update(job_id, status="cancelled", finished_at=now)
        return self.job(job_id)

    def result(self, job_id: str, owner: str | None = None, stems: bool = False) -> tuple[SongJob, Path]:
        """The master (or the stems' zip) of a finished job; raises SongNotFound or SongNotReady."""
        job = self.job(job_id, owner)
        if job.status != "done":
            raise SongNotReady(f"the song {job_id} is {job.status}; its files exist once it is done")
        if stems and not job.options["stems"]:
            raise SongNotReady(f"the song {job_id} was made without stems (ask with stems=true)")
        return job, self.folder / job_id / ("stems.zip" if stems else f"master.{job.options['format']}")

    def _update(self, job_id: str, **fields: Any) -> None:
        update(self.db, "songs", job_id, fields)


def _zipped(result) -> bytes:
    """Every stem (marked) with the song's MIDI and MusicXML, stored (audio does not compress)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, stem in result.stems.items():
            archive.writestr(f"{name}.{stem.format}", stem.encoded)
        archive.writestr("song.mid", result.midi)
        archive.writestr("song.musicxml", result.musicxml)
    return buffer.getvalue()

