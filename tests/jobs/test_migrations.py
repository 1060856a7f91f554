"""The shipped migrations build exactly the schema the store's queries use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert

from huajia.jobs import open_store
from huajia.jobs.database import MIGRATIONS, connect, current_revision, migrate, transaction
from huajia.jobs.tables import metadata, tasks
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


def test_tasks_stored_before_the_typed_request_stay_readable_and_claimable(
    store_url: str,
) -> None:
    """A version-1 row (the caller's fields plus "resolved") from revision 0008 still reads,
    shows the same parameters and is claimed by a worker of its model after the upgrade."""
    engine = connect(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with transaction(engine, write=True) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
    old_request = {
        "prompt": "a lighthouse", "negative_prompt": None, "num_images": 2, "steps": 4,
        "cfg_scale": None, "width": 64, "height": 64, "seed": 7, "style_preset": None,
        "model": "tiny", "priority": "normal", "output_format": "webp", "loras": [],
        "webhook_url": None,
        "resolved": {"prompt": "a lighthouse", "negative_prompt": "", "n": 2, "steps": 4,
                     "guidance": 0.0, "width": 64, "height": 64, "seeds": [7, 8], "loras": []},
    }  # fmt: skip
    now = datetime.now(UTC)
    with transaction(engine, write=True) as connection:
        connection.execute(
            insert(tasks).values(
                id="0" * 32, owner="alice", priority="normal", state="pending",
                request=old_request, progress_step=0, progress_total=0, created_at=now,
                updated_at=now, attempts=0, max_attempts=3, cancel_requested=False,
                image_count=2,
            )
        )  # fmt: skip
    engine.dispose()

    store = open_store(store_url)
    task = store.get("0" * 32)
    assert task.request.prompt == "a lighthouse"
    assert task.request.output_format == "webp"
    assert task.request.sampling.seeds == (7, 8)
    assert task.request.parameters()["resolved"]["seeds"] == [7, 8]
    claimed = store.claim("worker-1", 30.0, model="tiny")
    assert claimed is not None and claimed.id == task.id
    store.close()
