"""Where the records live: the embedded SQLite files under the home (the default: two commands, no
servers), or one database server named by URL (`VOICEKIT_DATABASE_URL`, any SQLAlchemy URL;
PostgreSQL through psycopg 3 is the one we test), shared by every process and machine of a fleet.

The stores (ledger, witness, trust, registry, access) write their SQL once, with named `:parameters`,
and run it through `Database.read` and `Database.write`; what differs between the two is kept here:
- connections: an embedded file is opened with the standard library's sqlite3, one connection per
  thread, and SQLAlchemy is not even imported (it costs a CLI command 0.4 s, and its result layer
  made a one-row lookup ten times slower); a server goes through SQLAlchemy's pool, and statements
  run on the driver's own cursor, in its parameter style;
- serialising writers: SQLite's `BEGIN IMMEDIATE` takes the file's one write lock; on a server a
  write that must be serialised (a ledger append) takes a transaction-scoped advisory lock, so one
  append at a time runs across every process, and the lock goes with the transaction;
- the schema: an embedded file gets its missing tables when opened (`consent.schema`); a server is
  migrated by `voicekit db upgrade` (Alembic), and opening one that is not at the current revision
  is refused with that command named, never migrated behind an operator's back.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import zlib
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

from consent.atomic import create_private
from consent.errors import DatabaseUnavailable, DuplicateKey

DATABASE_URL_ENV = "VOICEKIT_DATABASE_URL"
_CLAIMS = 0x766B  # the advisory-lock space of Database.hold's claims
_CLAIM_FILES = 4096  # an embedded database's claim lock files
POOL_SIZE = 16  # connections one process keeps to a server: the API's worker threads, and a few more


def database_url() -> str | None:
    """The server every store lives in, from the environment; None: the home's own SQLite files."""
    return os.environ.get(DATABASE_URL_ENV) or None


class Session:
    """A DB-API connection that runs SQL written with named `:parameters` in its driver's style."""

    def __init__(self, connection: Any, style: Any = None) -> None:
        self.connection = connection
        self._style = style  # a SQLAlchemy dialect when the driver does not take `:name`
        self._duplicate = sqlite3.IntegrityError if style is None else style.dbapi.IntegrityError

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """The driver's cursor after running `sql` (fetchone, fetchall, iteration, rowcount).
        Raises DuplicateKey for a duplicate key, whichever the driver."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(self._sql(sql), params or {})
        except self._duplicate as e:
            raise DuplicateKey(str(e)) from None
        return cursor

    def stream(self, sql: str, params: dict[str, Any], rows_per_fetch: int) -> Iterator[tuple]:
        """The rows of a long read, `rows_per_fetch` at a time (a server-side cursor on a server)."""
        if self._style is not None and self._style.name == "postgresql":
            cursor = self.connection.driver_connection.cursor(name=f"voicekit_{id(self)}")
            cursor.itersize = rows_per_fetch
        else:
            cursor = self.connection.cursor()
        cursor.execute(self._sql(sql), params)
        yield from cursor

    def _sql(self, sql: str) -> str:
        return sql if self._style is None else _driver_sql(sql, self._style)


class Database:
    """url: an SQLAlchemy URL of a server. `Database.file(path)` for an embedded SQLite file."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except ArgumentError as e:
            raise DatabaseUnavailable(f"the server named (by {DATABASE_URL_ENV} or --url) is not a database URL "
                                      f"({e})") from None
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, the driver we ship
        self.url, self.path = parsed, None
        self.dialect = parsed.get_backend_name()
        self._schema_checked = False
        try:
            if self.dialect == "sqlite":
                self.engine = create_engine(parsed, connect_args={"timeout": 60, "check_same_thread": False})
                _sqlite_transactions(self.engine)
            else:
                self.engine = create_engine(parsed, pool_size=POOL_SIZE, max_overflow=POOL_SIZE, pool_pre_ping=True)
        except (ArgumentError, ImportError) as e:
            raise DatabaseUnavailable(f"cannot use database {self.name}: {e}") from None

    @classmethod
    def file(cls, path: Path) -> "Database":
        """The embedded SQLite file at `path` (created 0600 on first use, and so its -wal and -shm)."""
        database = cls.__new__(cls)
        database.url, database.path, database.dialect = None, Path(path), "sqlite"
        database._local = threading.local()
        create_private(database.path)
        return database

    @classmethod
    def of(cls, where: "Path | str | Database") -> "Database":
        """A store's database: given, or the SQLite file at `where`."""
        return where if isinstance(where, Database) else cls.file(Path(where))

    @property
    def embedded(self) -> bool:
        return self.path is not None

    @property
    def name(self) -> str:
        """The file, or the URL without its password, for messages."""
        return str(self.path) if self.embedded else self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.name!r})"

    # -- connections ------------------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Session]:
        """A connection for reading (readers never wait on a writer)."""
        if self.embedded:
            yield Session(self._file_connection())
            return
        with self.connect() as connection:
            yield self._session(connection)

    @contextmanager
    def scan(self) -> Iterator[Session]:
        """A connection for a long read (Session.stream) that this thread may write beside: on an
        embedded file a connection of its own, closed at the end."""
        if not self.embedded:
            with self.read() as session:
                yield session
            return
        connection = sqlite3.connect(self.path, timeout=60)
        try:
            yield Session(connection)
        finally:
            connection.close()

    @contextmanager
    def write(self, serialise: str | None = None) -> Iterator[Session]:
        """One transaction, committed when the block ends and rolled back if it raises. serialise:
        a name; writers under one name run one at a time across every process (SQLite: every
        write transaction takes the file's lock at its start anyway)."""
        if self.embedded:
            connection = self._file_connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield Session(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return
        from sqlalchemy import text

        with self.connect(write=True) as connection, connection.begin():
            if serialise is not None and self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(serialise)})
            yield self._session(connection)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """One process at a time in the block, across every process using this server (a session
        advisory lock, released at the end); embedded files: nothing (the home's lock file serves)."""
        if self.dialect != "postgresql":
            yield
            return
        from sqlalchemy import text

        key = {"key": _lock_key(name)}
        with self.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        """Try to take a claim by name without waiting; yields whether it was taken (then held until
        the block ends). The system drops a claim whose process dies: a server's session advisory
        lock ends with its connection, an embedded file's claim is an flock on a file beside it.
        So a claim that is free while its work is unfinished means the worker doing it is gone."""
        if self.dialect == "postgresql":
            from sqlalchemy import text

            # The two-key form: a lock space of its own, so a claim never shares a key with the
            # ledger's lock (a try that collides only looks busy; a shared key could deadlock).
            key = {"space": _CLAIMS, "key": int.from_bytes(_lock_key(name).to_bytes(4, "big"), "big", signed=True)}
            with self.connect() as connection:
                held = connection.execute(text("SELECT pg_try_advisory_lock(:space, :key)"), key).scalar()
                connection.commit()
                try:
                    yield bool(held)
                finally:
                    if held:
                        connection.execute(text("SELECT pg_advisory_unlock(:space, :key)"), key)
                        connection.commit()
            return
        folder = Path(self.path or self.url.database).parent / "claims"
        folder.mkdir(exist_ok=True, mode=0o700)
        # One of a fixed set of lock files, so the folder does not grow with every chapter ever
        # claimed; two claims sharing a file only make one look busy for a moment.
        fd = os.open(folder / f"{_lock_key(name) % _CLAIM_FILES:04x}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def close(self) -> None:
        """Close this thread's connection to an embedded file, or a server's pool."""
        if self.embedded:
            connection = getattr(self._local, "connection", None)
            if connection is not None:
                connection.close()
                del self._local.connection
        else:
            self.engine.dispose()

    def add_new_columns(self, table: str) -> None:
        """An embedded file written by an older version: the nullable columns `consent.schema`
        declares since, added (the one change an embedded schema gets; a server's are Alembic's)."""
        if not self.embedded:
            return
        from sqlalchemy.dialects import sqlite

        from consent.schema import metadata

        connection = self._file_connection()
        have = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for column in metadata.tables[table].columns:
            if column.nullable and column.name not in have:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {column.name} "
                                   f"{column.type.compile(dialect=sqlite.dialect())}")

    def _file_connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")  # reads never wait on a writer
            connection.execute("PRAGMA synchronous=FULL")  # a committed entry survives a power cut
            self._local.connection = connection
        return connection

    def _session(self, connection: Any) -> Session:
        dialect = connection.dialect  # sqlite3 takes `:name` as it is
        return Session(connection.connection, None if dialect.name == "sqlite" else dialect)

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[Any]:
        """A server's SQLAlchemy connection from the pool; DatabaseUnavailable when unreachable."""
        from sqlalchemy.exc import OperationalError

        try:
            connection = self.engine.connect()
        except OperationalError as e:
            raise DatabaseUnavailable(f"cannot reach the database {self.name}: "
                                      f"{str(e.orig).strip().splitlines()[0]}") from None
        with connection:
            if write:
                connection.execution_options(voicekit_write=True)
            yield connection

    # -- schema -----------------------------------------------------------------------------------
    def create(self, tables: Sequence[str]) -> None:
        """An embedded file's missing tables (named in `consent.schema`), created: SQLAlchemy is
        imported only then, on a home's first open. A server's are Alembic's: checked, once per
        process, to be at this version's revision."""
        if self.embedded:
            connection = self._file_connection()
            have = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not set(tables) <= have:
                from sqlalchemy import create_engine

                from consent.schema import metadata

                engine = create_engine(f"sqlite:///{self.path}")
                metadata.create_all(engine, tables=[metadata.tables[name] for name in tables])
                engine.dispose()
        elif not self._schema_checked:
            from consent.migrations import require_current

            require_current(self)
            self._schema_checked = True


@lru_cache(maxsize=256)
def _driver_sql(sql: str, dialect: Any) -> str:
    """`sql` in the driver's own parameter style (psycopg: `%(name)s`), compiled by SQLAlchemy once
    per statement."""
    from sqlalchemy import text

    return str(text(sql).compile(dialect=dialect))


def _lock_key(name: str) -> int:
    """A PostgreSQL advisory lock's key for a lock's name."""
    return zlib.crc32(name.encode("utf-8"))


def _sqlite_transactions(engine: Any) -> None:
    """A server-style SQLite URL (one file for every store, as a test of the server path): pysqlite's
    own BEGIN handling replaced, so that a write transaction begins IMMEDIATE (takes the write lock
    at once: two appends never both read the same last entry) and a read runs each statement on its
    own; WAL and synchronous FULL as for the embedded files."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=FULL")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if connection.get_execution_options().get("voicekit_write", False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
