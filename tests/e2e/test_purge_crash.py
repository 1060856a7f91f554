"""`huajia purge` killed with SIGKILL midway finishes on the next run: no orphan bytes, no rows
pointing at missing bytes (SQLite and PostgreSQL, a real folder, the real command)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from huajia.jobs import open_store
from huajia.jobs.database import transaction
from huajia.jobs.model import NewImage
from huajia.jobs.tables import blob_deletions, images, tasks
from huajia.storage.base import new_image_key, thumbnail_key
from huajia.storage.local import LocalBlobStore
from tests.jobs.helpers import LEASE, a_task
from tests.support.server import huajia_command, server_env

pytestmark = pytest.mark.e2e

TASKS = 60


def fill(store_url: str, blobs: LocalBlobStore, count: int, when: datetime) -> set[str]:
    """`count` finished tasks of two images each, their bytes on disk; all the keys."""
    store = open_store(store_url)
    store.clock = lambda: when  # type: ignore[attr-defined]
    keys: set[str] = set()
    for _ in range(count):
        created = store.create(a_task(owner="k-editor"))
        claimed = store.claim("worker-1", LEASE)
        assert claimed is not None
        records = []
        for index in range(2):
            key = new_image_key(created.id, index, "png", when)
            blobs.put(key, b"png", "image/png")
            blobs.put(thumbnail_key(key), b"webp", "image/webp")
            keys |= {key, thumbnail_key(key)}
            records.append(
                NewImage(index=index, key=key, thumbnail_key=thumbnail_key(key), format="png",
                         content_type="image/png", width=8, height=8, seed=index, size_bytes=3)
            )  # fmt: skip
        store.complete(created.id, "worker-1", claimed.attempts, records)
    store.close()
    return keys


def on_disk(blobs: LocalBlobStore) -> set[str]:
    return {str(p.relative_to(blobs.root)) for p in blobs.root.rglob("*") if p.is_file()}


def referenced(store_url: str) -> set[str]:
    store = open_store(store_url)
    with transaction(store.engine, write=False) as connection:
        rows = connection.execute(select(images.c.key, images.c.thumbnail_key)).all()
    store.close()
    return {key for row in rows for key in row if key}


def test_a_purge_killed_midway_finishes_on_the_next_run(store_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    blobs = LocalBlobStore(data / "images")
    old = fill(store_url, blobs, TASKS, datetime.now(UTC) - timedelta(days=40))
    kept = fill(store_url, blobs, 2, datetime.now(UTC))
    env = {"HUAJIA_DATABASE_URL": store_url, "HUAJIA_RETENTION_DAYS": "30"}
    command = [sys.executable, "-m", "huajia", "purge", "--pause", "0.02"]
    full = {"HUAJIA_DATA_DIR": str(data), **env}

    log = tmp_path / "purge.log"
    with log.open("wb") as output:
        purge = subprocess.Popen(command, env=server_env(full), stdout=output,
                                 stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 120
        while len(on_disk(blobs)) > len(old | kept) - 10:  # some bytes gone: it is midway
            assert purge.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the purge never started deleting"
            time.sleep(0.01)
        os.kill(purge.pid, signal.SIGKILL)
        purge.wait(timeout=10)

    left = on_disk(blobs)
    assert kept <= left
    assert len(left) > len(kept)  # killed midway: some old bytes were still there
    assert referenced(store_url) <= left  # no row ever points at missing bytes

    again = huajia_command(["purge"], data, env)

    assert again.returncode == 0, again.stderr
    assert on_disk(blobs) == kept
    assert referenced(store_url) == kept
    store = open_store(store_url)
    with transaction(store.engine, write=False) as connection:
        assert connection.execute(select(blob_deletions)).all() == []
        assert len(connection.execute(select(tasks.c.id)).all()) == 2
    store.close()
