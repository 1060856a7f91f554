"""Task store behaviour: worker presence (WorkerRegistry).

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from huajia.jobs import TaskStore
from huajia.jobs.workers import LIVE_SECONDS


def test_workers_report_their_presence(store: TaskStore) -> None:
    store.report_worker("gpu-0", "z-image-turbo", "loading", {})
    store.report_worker("gpu-1", "z-image-turbo", "ready", {"device": "cuda:1"})
    store.report_worker("gpu-0", "z-image-turbo", "ready", {"device": "cuda:0", "vram": 1})
    store.remove_worker("gpu-1")

    live = store.live_workers()

    assert [(w["worker_id"], w["state"], w["engine"]) for w in live] == [
        ("gpu-0", "ready", {"device": "cuda:0", "vram": 1})
    ]
    assert live[0]["seen_at"].tzinfo is not None


def test_a_worker_not_seen_for_a_while_is_gone(store: TaskStore) -> None:
    store.report_worker("gpu-0", "z-image-turbo", "ready", {})
    assert [w["worker_id"] for w in store.live_workers()] == ["gpu-0"]

    store.clock = lambda: datetime.now(UTC) + timedelta(seconds=LIVE_SECONDS + 1)  # type: ignore[attr-defined]

    assert store.live_workers() == []


def test_a_worker_declares_every_model_it_holds(store: TaskStore) -> None:
    store.report_worker("gpu-0", "tiny-a", "ready", {}, models=["tiny-a", "tiny-b"])
    store.report_worker("gpu-1", "z-image-turbo", "loading", {})

    held = {w["worker_id"]: w["models"] for w in store.live_workers()}

    assert held == {"gpu-0": ["tiny-a", "tiny-b"], "gpu-1": ["z-image-turbo"]}
