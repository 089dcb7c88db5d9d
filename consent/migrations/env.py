"""Alembic's entry: migrations run on the connection `consent.migrations.upgrade` hands over."""
from alembic import context

from consent.schema import metadata

context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
