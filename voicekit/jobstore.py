"""What every job store shares: a private folder with a SQLite `jobs.db` (WAL, so a progress read
never waits on a writer), its schema created on first use."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from consent.atomic import create_private


class JobStore:
    """folder: created on first use (mode 0700); SCHEMA: the store's tables (CREATE ... IF NOT EXISTS)."""

    SCHEMA = ""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with closing(self._connect()) as db, db:
            db.executescript(self.SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        create_private(self.folder / "jobs.db")
        db = sqlite3.connect(self.folder / "jobs.db", timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db
