"""Where the records live: the embedded SQLite files under the home (the default: two commands, no
servers), or one database server named by URL (`VOICEKIT_DATABASE_URL`, any SQLAlchemy URL;
PostgreSQL through psycopg 3 is the one we test), shared by every process and machine of a fleet.

The stores (ledger, witness, trust, registry, access) speak SQL through `Database.read` and
`Database.write`; what differs between the two is kept here:
- serialising writers: SQLite's `BEGIN IMMEDIATE` takes the file's one write lock; on a server a
  write that must be serialised (a ledger append) takes a transaction-scoped advisory lock, so one
  append at a time runs across every process, and the lock goes with the transaction;
- the schema: the embedded files create their tables when first opened (`consent.schema`); a server
  is migrated by `voicekit db upgrade` (Alembic), and opening one that is not at the current
  revision is refused with that command named, never migrated behind an operator's back.
"""
from __future__ import annotations

import os
import zlib
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection, Table, create_engine, event, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from consent.atomic import create_private
from consent.errors import DatabaseUnavailable

DATABASE_URL_ENV = "VOICEKIT_DATABASE_URL"
POOL_SIZE = 16  # connections one process keeps to a server: the API's worker threads, and a few more

__all__ = ["Database", "IntegrityError", "DATABASE_URL_ENV", "database_url"]


def database_url() -> str | None:
    """The server every store lives in, from the environment; None: the home's own SQLite files."""
    return os.environ.get(DATABASE_URL_ENV) or None


class Session:
    """One connection, with SQL written once for both databases (named `:parameters`). Statements
    run on the driver's own cursor: the ledger's lookups sit on every release's path, and going
    through SQLAlchemy's result layer made a one-row lookup ten times slower (bench/README.md)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._dialect = connection.dialect

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """The driver's cursor after running `sql` (fetchone, fetchall, iteration, rowcount).
        Raises IntegrityError for a duplicate key, whichever the driver."""
        cursor = self.connection.connection.cursor()
        try:
            cursor.execute(_driver_sql(sql, self._dialect), params or {})
        except self._dialect.dbapi.IntegrityError as e:
            raise IntegrityError(sql, params, e) from None
        return cursor

    def stream(self, sql: str, params: dict[str, Any], rows_per_fetch: int) -> Iterator[tuple]:
        """The rows of a long read, `rows_per_fetch` at a time (a server-side cursor on a server)."""
        raw = self.connection.connection
        if self._dialect.name == "postgresql":
            cursor = raw.driver_connection.cursor(name=f"voicekit_{id(self)}")
            cursor.itersize = rows_per_fetch
        else:
            cursor = raw.cursor()
        cursor.execute(_driver_sql(sql, self._dialect), params)
        yield from cursor


class Database:
    """url: an SQLAlchemy URL. `Database.file(path)` for an embedded SQLite file (created 0600)."""

    def __init__(self, url: str, *, private_file: Path | None = None) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as e:
            raise DatabaseUnavailable(f"{DATABASE_URL_ENV} is not a database URL ({e})") from None
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, the driver we ship
        self.url = parsed
        self.dialect = parsed.get_backend_name()
        self.embedded = private_file is not None
        self._schema_checked = False
        if private_file is not None:
            create_private(private_file)  # 0600, and so SQLite's -wal and -shm
        try:
            if self.dialect == "sqlite":
                self.engine = create_engine(parsed, connect_args={"timeout": 60, "check_same_thread": False})
                _sqlite_transactions(self.engine)
            else:
                self.engine = create_engine(parsed, pool_size=POOL_SIZE, max_overflow=POOL_SIZE, pool_pre_ping=True)
        except (ArgumentError, ImportError) as e:
            raise DatabaseUnavailable(f"cannot use database {parsed.render_as_string(hide_password=True)}: "
                                      f"{e}") from None

    @classmethod
    def file(cls, path: Path) -> "Database":
        return cls(f"sqlite:///{Path(path)}", private_file=Path(path))

    @classmethod
    def of(cls, where: "Path | str | Database") -> "Database":
        """A store's database: given, or the SQLite file at `where`."""
        return where if isinstance(where, Database) else cls.file(Path(where))

    @property
    def name(self) -> str:
        """The URL without its password, for messages."""
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.name!r})"

    # -- connections ------------------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Session]:
        """A connection for reading (readers never wait on a writer)."""
        with self._connect() as connection:
            yield Session(connection)

    @contextmanager
    def write(self, serialise: str | None = None) -> Iterator[Session]:
        """One transaction, committed when the block ends and rolled back if it raises. serialise:
        a name; writers under one name run one at a time across every process (SQLite: every
        write transaction takes the file's lock at its start anyway)."""
        with self._connect(write=True) as connection, connection.begin():
            if serialise is not None and self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(serialise)})
            yield Session(connection)

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[Connection]:
        try:
            connection = self.engine.connect()
        except OperationalError as e:
            raise DatabaseUnavailable(f"cannot reach the database {self.name}: "
                                      f"{str(e.orig).strip().splitlines()[0]}") from None
        with connection:
            if write:
                connection.execution_options(voicekit_write=True)
            yield connection

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """One process at a time in the block, across every process using this server (a session
        advisory lock, released at the end); embedded files: nothing (the home's lock file serves)."""
        if self.dialect != "postgresql":
            yield
            return
        key = {"key": _lock_key(name)}
        with self._connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)

    # -- schema -----------------------------------------------------------------------------------
    def create(self, tables: Sequence[Table]) -> None:
        """An embedded file's tables, created if missing; a server's are Alembic's: checked (once
        per process) to be at this version's revision."""
        if self.embedded:
            tables[0].metadata.create_all(self.engine, tables=list(tables))
        elif not self._schema_checked:
            from consent.migrations import require_current

            require_current(self)
            self._schema_checked = True


@lru_cache(maxsize=256)
def _driver_sql(sql: str, dialect: Any) -> str:
    """`sql` in the driver's own parameter style: SQLite takes `:name` as it is; any other driver
    gets SQLAlchemy's compilation of it (psycopg: `%(name)s`), once per statement."""
    if dialect.name == "sqlite":
        return sql
    return str(text(sql).compile(dialect=dialect))


def _lock_key(name: str) -> int:
    """A PostgreSQL advisory lock's key for a lock's name."""
    return zlib.crc32(name.encode("utf-8"))


def _sqlite_transactions(engine: Engine) -> None:
    """pysqlite's own BEGIN handling replaced by ours: a write transaction begins IMMEDIATE (takes
    the write lock at once, so two appends never both read the same last entry); a read runs each
    statement on its own (SQLite's autocommit: no BEGIN and ROLLBACK around a one-row lookup).
    The pragmas are the ones the stores always used: WAL (reads never wait on a writer) and
    synchronous FULL (a committed entry survives a power cut)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=FULL")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        if connection.get_execution_options().get("voicekit_write", False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
