"""Alembic environment: Huajia always hands in an open connection (see jobs.database.migrate)."""

from __future__ import annotations

from alembic import context

from huajia.jobs.tables import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run Huajia's migrations through huajia.jobs.database.migrate(engine)")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
