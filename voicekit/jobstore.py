"""What every job store shares: a private folder for the jobs' files, and the database of their
state: `<folder>/jobs.db` (embedded SQLite, WAL: a progress read never waits on a writer), or the
records' server (VOICEKIT_DATABASE_URL), where every API process and worker of a fleet sees them.

The files (uploads, rendered chapters, results) stay under the folder: a fleet shares the home as a
volume (deploy/), the database says which of them are done."""
from __future__ import annotations

from pathlib import Path

from consent.database import Database


class JobStore:
    """folder: created on first use (mode 0700). db: the server (None: the folder's own jobs.db).
    TABLES: the store's tables in `consent.schema`."""

    TABLES: tuple[str, ...] = ()

    def __init__(self, folder: Path, db: Database | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db = db or Database.file(self.folder / "jobs.db")
        self.db.create(self.TABLES)
        for table in self.TABLES:
            self.db.add_new_columns(table)

    def fail(self, job_id: str, error: str, now: float) -> None:
        """Mark a job failed (its first table holds its status): a job that could not be handed to
        its runner is not left queued with nothing to run it."""
        update(self.db, self.TABLES[0], job_id, {"status": "failed", "error": error, "finished_at": now})


def unfinished(db: Database, table: str) -> list[str]:
    """The ids of a job table's queued and running jobs, oldest first (the status index)."""
    with db.read() as session:
        return [row[0] for row in session.execute(
            f"SELECT job_id FROM {table} WHERE status IN ('queued', 'running') ORDER BY created_at")]


def update(db: Database, table: str, job_id: str, fields: dict) -> None:
    """Set a job's columns (names from the store's code, never from a request)."""
    columns = ", ".join(f"{name} = :{name}" for name in fields)
    with db.write() as session:
        session.execute(f"UPDATE {table} SET {columns} WHERE job_id = :job_id", {**fields, "job_id": job_id})


def orphaned(db: Database, table: str, claim: str) -> list[str]:
    """Running jobs of a table whose claim (`claim` formatted with the job id) nobody holds: the
    process that set them running died. Cost: the running jobs, by the status index."""
    with db.read() as session:
        running = [row[0] for row in session.execute(
            f"SELECT job_id FROM {table} WHERE status = 'running' ORDER BY created_at")]
    found = []
    for job_id in running:
        with db.hold(claim.format(job_id)) as held:
            if held:
                found.append(job_id)
    return found
