"""Alembic's environment script for casework: runs the revisions on the connection that
`adapters.schema.migrate` put in `config.attributes["connection"]`, inside its transaction.

There is no offline (`--sql`) mode and no URL in a config file: the database is the one the
process opened (adapters.database.open_database), SQLite or PostgreSQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from adapters.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "the casework migrations run in code: call adapters.schema.migrate(engine), "
        "which passes its connection in (there is no alembic.ini)"
    )
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
