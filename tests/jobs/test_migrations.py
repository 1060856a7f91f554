"""The shipped migrations build exactly the schema the store's queries use."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from huajia.jobs import open_store
from huajia.jobs.database import connect, current_revision, migrate
from huajia.jobs.tables import metadata
from tests.jobs.helpers import a_task


def test_migrating_twice_changes_nothing(store_url: str) -> None:
    first = open_store(store_url)
    task = first.create(a_task())
    first.close()
    engine = connect(store_url)
    revision = current_revision(engine)

    migrate(engine)
    reopened = open_store(store_url)

    assert revision is not None
    assert current_revision(engine) == revision
    assert reopened.get(task.id) == task
    reopened.close()
    engine.dispose()


def test_migrated_schema_matches_the_tables_the_store_uses(store_url: str) -> None:
    engine = connect(store_url)
    assert current_revision(engine) is None
    migrate(engine)

    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    assert differences == []
    engine.dispose()


def test_sqlite_file_is_created_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "new-data-folder" / "huajia.db"
    open_store(f"sqlite:///{path}").close()
    engine = connect(f"sqlite:///{path}")

    with engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
        busy_ms = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()

    assert path.is_file()
    assert (journal, foreign_keys) == ("wal", 1)
    assert busy_ms is not None and int(busy_ms) >= 5000
    engine.dispose()


def test_plain_postgresql_urls_use_the_installed_psycopg_driver() -> None:
    engine = connect("postgresql://postgres@127.0.0.1:5432/test")

    assert engine.dialect.driver == "psycopg"
    engine.dispose()
