"""The worker's previews, with the real tiny engine and a real SQLite store: made only for a
task a follower asked previews of, at the configured cadence, carried by the beats as small
WebP images, and gone from the store once the task is done."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from huajia.engine.checks import resolve_request
from huajia.engine.types import GenerationRequest
from huajia.engine.zimage import ZImageEngine
from huajia.jobs import TaskStore
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.model import NewTask, TaskState
from huajia.jobs.requests import GenerationCommand, Sampling, TaskRequest
from huajia.storage.local import LocalBlobStore
from huajia.worker.loop import Worker
from tests.worker.test_loop import LEASE

STEPS = 8


def a_task(store: TaskStore, engine: ZImageEngine, n: int = 2) -> str:
    request = GenerationRequest("a kite", n=n, seed=1, steps=STEPS, width=64, height=64)
    sampling = Sampling.of(resolve_request(engine.spec, request))
    asked = TaskRequest(asked=GenerationCommand(prompt="a kite"), model=engine.spec.name,
                        sampling=sampling)  # fmt: skip
    return store.create(NewTask(owner="local", request=asked, image_count=n)).id


def beats_sent(store: TaskStore, monkeypatch: pytest.MonkeyPatch) -> list[Beat]:
    sent: list[Beat] = []
    real = store.heartbeat_many

    def recording(beats: list[Beat], lease_seconds: float) -> dict[str, BeatAnswer]:
        sent.extend(beats)
        return real(beats, lease_seconds)

    monkeypatch.setattr(store, "heartbeat_many", recording)
    return sent


def a_worker(store: TaskStore, engine: ZImageEngine, tmp_path: Path, every: int) -> Worker:
    blobs = LocalBlobStore(tmp_path / "images")
    return Worker(store, engine, blobs, "w", LEASE, preview_every_steps=every)


def test_a_watched_task_sends_small_previews_every_n_steps(
    store: TaskStore, tiny_engine: ZImageEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = a_task(store, tiny_engine)
    assert store.want_previews(task_id) is True  # a follower asked while it waited
    sent = beats_sent(store, monkeypatch)

    assert a_worker(store, tiny_engine, tmp_path, every=2).run_once()

    previews = [preview for beat in sent for preview in beat.previews]
    assert previews, "no beat carried a preview"
    assert {preview.index for preview in previews} <= {0, 1}
    assert {preview.step for preview in previews} <= {2, 4, 6}, "every 2 steps, not the last"
    for preview in previews:
        image = Image.open(io.BytesIO(preview.data))
        assert (image.format, image.size, preview.media_type) == ("WEBP", (8, 8), "image/webp")
        assert (preview.width, preview.height, preview.total) == (8, 8, STEPS)
    assert store.get(task_id).state is TaskState.COMPLETED
    assert store.previews_after({task_id: (0, 0)}) == {}, "gone once the task is done"


def test_no_previews_unless_a_follower_asked(
    store: TaskStore, tiny_engine: ZImageEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_task(store, tiny_engine)
    sent = beats_sent(store, monkeypatch)

    assert a_worker(store, tiny_engine, tmp_path, every=2).run_once()

    assert sent, "the steps were reported"
    assert all(beat.previews == () for beat in sent)


def test_no_previews_when_the_server_turned_them_off(
    store: TaskStore, tiny_engine: ZImageEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = a_task(store, tiny_engine)
    store.want_previews(task_id)
    sent = beats_sent(store, monkeypatch)

    assert a_worker(store, tiny_engine, tmp_path, every=0).run_once()

    assert sent and all(beat.previews == () for beat in sent)


def test_a_lease_starts_previews_when_a_renewal_says_someone_asked(
    store: TaskStore, tiny_engine: ZImageEngine
) -> None:
    from huajia.worker.reporter import Lease

    a_task(store, tiny_engine)
    (task,) = store.claim_batch("w", LEASE, 4)
    lease = Lease(task, "w")
    feed = lease.preview_feed(2)
    assert feed is not None and not feed.due(2, STEPS)

    lease.answer(BeatAnswer.PREVIEWS_WANTED, store)

    assert feed.due(2, STEPS) and not feed.due(3, STEPS) and not feed.due(STEPS, STEPS)
    assert lease.active and not lease.cancel.canceled
    assert lease.preview_feed(0) is None
