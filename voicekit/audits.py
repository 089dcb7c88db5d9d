"""Audit jobs for the HTTP service: uploaded files kept on disk, audited in the background by
`Studio.audit`, with progress and the signed report kept beside them.

Jobs live in SQLite (`<home>/audits/jobs.db`); each job's files are written (atomically, privately)
before its row exists, and its report before its row says "done". A job a restart interrupted is
audited again from the start: an audit changes nothing, so running it twice is harmless.
"""
from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consent.atomic import atomic_write
from voicekit.errors import BadInput
from voicekit.jobstore import JobStore, orphaned, unfinished, update
from voicekit.studio import Studio

ACTIVE = ("queued", "running")
_CLAIM = "voicekit audit {}"  # held while a process runs the job
MAX_FILES = 100  # per job


class AuditNotFound(BadInput):
    """No audit job has that id (or it belongs to another owner)."""

    http_status, problem = 404, "unknown-audit"


class AuditNotReady(BadInput):
    """The audit's report is asked for before the audit is done."""

    http_status, problem = 409, "audit-not-ready"


@dataclass(frozen=True)
class AuditJob:
    job_id: str
    owner: str
    key_id: str | None
    status: str  # queued, running, done or failed
    created_at: float
    finished_at: float | None
    files: int
    done: int
    summary: dict[str, int] | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "status": self.status, "created_at": self.created_at,
                "finished_at": self.finished_at, "files": self.files, "files_done": self.done,
                "summary": self.summary, "error": self.error}


class Audits(JobStore):
    """folder: <home>/audits (created on first use)."""

    TABLES = ("audits", "audit_files")

    def submit(self, files: list[tuple[str, str, bytes]], owner: str, now: float, key_id: str | None = None) -> AuditJob:
        """Store the files ((name as uploaded, suffix, bytes) each) and a queued job for them."""
        if not files:
            raise BadInput("an audit needs at least one file")
        if len(files) > MAX_FILES:
            raise BadInput(f"an audit takes at most {MAX_FILES} files, not {len(files)}")
        job_id = secrets.token_hex(8)
        folder = self.folder / job_id
        folder.mkdir(mode=0o700)
        stored = []
        for i, (name, suffix, data) in enumerate(files):
            path = folder / f"{i:03d}{suffix}"
            atomic_write(path, data)
            stored.append({"job": job_id, "idx": i, "name": name, "stored": path.name})
        with self.db.write() as session:
            session.execute("INSERT INTO audits (job_id, owner, key_id, status, created_at, files) "
                            "VALUES (:job, :owner, :key, 'queued', :now, :files)",
                            {"job": job_id, "owner": owner, "key": key_id, "now": now, "files": len(files)})
            for row in stored:
                session.execute("INSERT INTO audit_files (job_id, idx, name, stored) VALUES (:job, :idx, :name, :stored)",
                                row)
        return self.job(job_id)

    def job(self, job_id: str, owner: str | None = None) -> AuditJob:
        """Raises AuditNotFound (also when `owner` is given and is not the job's)."""
        with self.db.read() as session:
            row = session.execute("SELECT job_id, owner, key_id, status, created_at, finished_at, files, done, summary, "
                                  "error FROM audits WHERE job_id = :job", {"job": job_id}).fetchone()
        if row is None or (owner is not None and row[1] != owner):
            raise AuditNotFound(f"no audit job {job_id!r}")
        return AuditJob(*row[:8], json.loads(row[8]) if row[8] else None, row[9])

    def unfinished(self) -> list[str]:
        return unfinished(self.db, "audits")

    def orphaned(self) -> list[str]:
        """Running jobs whose process died (see voicekit.jobstore.orphaned)."""
        return orphaned(self.db, "audits", _CLAIM)

    def run(self, studio: Studio, job_id: str) -> AuditJob:
        """Audit the job's files and keep the signed report; a failure marks the job failed and is raised.
        A job that another process is auditing, or that has finished, is left as it is (a task that
        runs twice audits once)."""
        with self.db.hold(_CLAIM.format(job_id)) as held:
            job = self.job(job_id)
            if not held or job.status not in ACTIVE:
                return job
            return self._run(studio, job_id)

    def _run(self, studio: Studio, job_id: str) -> AuditJob:
        files = self._stored(job_id)
        self._update(job_id, status="running", done=0)
        try:
            document = studio.audit([path for _, path in files], names=[name for name, _ in files],
                                    on_file=lambda done, total, path: self._update(job_id, done=done))
            atomic_write(self._report_path(job_id), json.dumps(document, indent=2).encode())
        except Exception as e:
            self._update(job_id, status="failed", error=str(e), finished_at=studio.clock())
            raise
        self._update(job_id, status="done", summary=json.dumps(document["report"]["summary"]),
                     finished_at=studio.clock())
        return self.job(job_id)

    def report(self, job_id: str, owner: str | None = None) -> dict[str, Any]:
        """The signed report of a finished job; raises AuditNotFound or AuditNotReady."""
        job = self.job(job_id, owner)
        if job.status != "done":
            raise AuditNotReady(f"the audit {job_id} is {job.status}; its report exists once it is done")
        return json.loads(self._report_path(job_id).read_bytes())

    def files(self, job_id: str) -> list[Path]:
        """Where the job's uploads are stored, in upload order."""
        return [path for _, path in self._stored(job_id)]

    def _stored(self, job_id: str) -> list[tuple[str, Path]]:
        """(name as uploaded, where it is stored) of each of the job's files, in upload order."""
        with self.db.read() as session:
            rows = session.execute("SELECT name, stored FROM audit_files WHERE job_id = :job ORDER BY idx",
                                   {"job": job_id}).fetchall()
        return [(name, self.folder / job_id / stored) for name, stored in rows]

    def delete(self, job_id: str, owner: str | None = None) -> None:
        """Forget a job that is not running, with its files and report."""
        job = self.job(job_id, owner)
        if job.status == "running":
            raise AuditNotReady(f"the audit {job_id} is running; delete it once it has finished")
        with self.db.write() as session:
            session.execute("DELETE FROM audit_files WHERE job_id = :job", {"job": job_id})
            session.execute("DELETE FROM audits WHERE job_id = :job", {"job": job_id})
        shutil.rmtree(self.folder / job_id, ignore_errors=True)

    def _report_path(self, job_id: str) -> Path:
        return self.folder / job_id / "report.json"

    def _update(self, job_id: str, **fields: Any) -> None:
        update(self.db, "audits", job_id, fields)
