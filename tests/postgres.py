"""A real PostgreSQL server for the tests: Debian's `postgresql` binaries (installed by `make setup`'s
system step), a throwaway cluster on a Unix socket in a temporary folder, one fresh database per
test. Started and stopped by the tests themselves."""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

_counter = itertools.count()


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    if not found or found[-1] is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (make setup installs Debian's postgresql)")
    return found[-1]


class PostgresServer:
    """In a new folder under the system's temporary one (a Unix socket's path must be short, and
    reachable by `postgres`: the server runs as that user when the tests run as root, since it
    refuses to run as root)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="voicekit-pg-"))
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, "postgres")
        data = self.folder / "data"
        self._run(_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "voicekit", "-E", "UTF8", "--no-sync")
        self._run(_bin("pg_ctl"), "-D", str(data), "-l", str(self.folder / "log"), "-w", "start", "-o",
                  f"-k {self.folder} -c listen_addresses='' -c fsync=off -c max_connections=200")
        self.admin_url = self.url("postgres")
        self._template: str | None = None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://voicekit@/{database}?host={self.folder}"

    def new_database(self, migrated: bool = True) -> str:
        """The URL of a new database: empty, or (migrated) at the current schema revision, copied
        from a template migrated once (CREATE DATABASE ... TEMPLATE: no migration per test)."""
        name = f"t{os.getpid()}_{next(_counter)}"
        template = ["-T", self._migrated_template()] if migrated else []
        self._run(_bin("createdb"), "-h", str(self.folder), "-U", "voicekit", *template, name)
        return self.url(name)

    def _migrated_template(self) -> str:
        if self._template is None:
            from consent.database import Database
            from consent.migrations import upgrade

            self._run(_bin("createdb"), "-h", str(self.folder), "-U", "voicekit", "migrated")
            database = Database(self.url("migrated"))
            upgrade(database)
            database.engine.dispose()
            self._template = "migrated"
        return self._template

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as, *command], check=True, capture_output=True, cwd="/")


def edit_records(home: Path, database_file: str, sql: str, *args) -> list[tuple]:
    """SQL run as an attacker with the database's own client runs it (qmark parameters): on the
    home's SQLite file `database_file`, or on the server VOICEKIT_DATABASE_URL names. Returns the rows."""
    url = os.environ.get("VOICEKIT_DATABASE_URL")
    if url is None:
        with sqlite3.connect(home / database_file) as db:
            return db.execute(sql, args).fetchall()
    from consent.database import Database

    database = Database(url)
    connection = database.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql.replace("?", "%s"), args)
        rows = cursor.fetchall() if cursor.description else []
        connection.commit()
        return rows
    finally:
        connection.close()
        database.engine.dispose()
