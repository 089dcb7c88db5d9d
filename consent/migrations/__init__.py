"""The records' schema on a database server, as Alembic revisions (`voicekit db upgrade`).

Embedded SQLite files are made from `consent.schema` when first opened; a server is shared by many
processes and versions, so its schema changes only when an operator says so, and a process refuses
to open one that is not at the revision it was written for."""
from __future__ import annotations

from typing import TYPE_CHECKING

from consent.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from consent.database import Database


def _config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "consent:migrations")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(database: "Database") -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: "Database") -> tuple[str | None, str]:
    """Migrate the server's schema to this version's head; returns (revision before, after)."""
    from alembic import command

    before = current_revision(database)
    with database.engine.begin() as connection:
        command.upgrade(_config(connection), "head")
    return before, head_revision()


def require_current(database: "Database") -> None:
    """Raise DatabaseUnavailable unless the server's schema is at this version's head."""
    current, head = current_revision(database), head_revision()
    if current != head:
        state = "has no voicekit schema" if current is None else f"is at schema revision {current}"
        raise DatabaseUnavailable(f"the database {database.name} {state}; this version needs revision {head}: "
                                  "run `voicekit db upgrade`")
