"""Task store behaviour: live previews carried by beats, read by event-stream followers.

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from huajia.jobs import TaskStore
from huajia.jobs.beats import Beat, BeatAnswer, PreviewImage
from huajia.jobs.sqlstore import SqlTaskStore
from huajia.jobs.tables import task_previews
from tests.jobs.helpers import LEASE, a_task, an_image, later


def a_preview(index: int, step: int, data: bytes = b"RIFF-webp") -> PreviewImage:
    return PreviewImage(index, step, 8, 64, 64, "image/webp", data + bytes([step]))


def stored_rows(store: TaskStore) -> int:
    assert isinstance(store, SqlTaskStore)
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(task_previews)).scalar())


def test_a_follower_asking_for_previews_is_heard_at_the_next_renewal(store: TaskStore) -> None:
    task = store.create(a_task())
    held = store.claim("w", LEASE)
    assert held is not None
    first = store.heartbeat_many([Beat(task.id, "w", held.attempts, (1,), 8)], LEASE)

    assert store.want_previews(task.id) is True
    second = store.heartbeat_many([Beat(task.id, "w", held.attempts, (2,), 8)], LEASE)

    assert first == {task.id: BeatAnswer.HELD}
    assert second == {task.id: BeatAnswer.PREVIEWS_WANTED}


def test_cancel_wins_over_previews_and_finished_tasks_want_none(store: TaskStore) -> None:
    task = store.create(a_task())
    held = store.claim("w", LEASE)
    assert held is not None
    store.want_previews(task.id)
    store.request_cancel(task.id)

    answer = store.heartbeat_many([Beat(task.id, "w", held.attempts)], LEASE)
    store.finish_canceled(task.id, "w", held.attempts)

    assert answer == {task.id: BeatAnswer.CANCEL_WANTED}
    assert store.want_previews(task.id) is False
    assert store.want_previews("f" * 32) is False


def test_each_image_keeps_only_its_newest_preview(store: TaskStore) -> None:
    task = store.create(a_task())
    store.want_previews(task.id)
    held = store.claim("w", LEASE)
    assert held is not None
    attempt = held.attempts
    store.heartbeat_many([Beat(task.id, "w", attempt, (2,), 8, (a_preview(0, 2), a_preview(1, 2)))],
                         LEASE)  # fmt: skip
    store.heartbeat_many([Beat(task.id, "w", attempt, (4,), 8, (a_preview(0, 4),))], LEASE)

    found = store.previews_after({task.id: (0, 0)})[task.id]

    assert [(p.index, p.step, p.attempt) for p in found] == [(0, 4, attempt), (1, 2, attempt)]
    assert found[0].data == b"RIFF-webp\x04"
    assert (found[0].width, found[0].height, found[0].media_type) == (64, 64, "image/webp")
    assert stored_rows(store) == 2


def test_followers_read_only_previews_newer_than_they_have(store: TaskStore) -> None:
    first, second = store.create(a_task()), store.create(a_task(owner="bob"))
    for task in (first, second):
        store.want_previews(task.id)
    held = {t.id: t for t in (store.claim("w", LEASE), store.claim("w", LEASE)) if t}
    for task, step in ((first, 2), (second, 4)):
        beat = Beat(task.id, "w", held[task.id].attempts, (step,), 8, (a_preview(0, step),))
        store.heartbeat_many([beat], LEASE)
    attempt = held[first.id].attempts

    found = store.previews_after({first.id: (attempt, 2), second.id: (attempt, 3)})

    assert list(found) == [second.id]
    assert [p.step for p in found[second.id]] == [4]
    assert store.previews_after({}) == {}


@pytest.mark.parametrize(
    ("asked", "sender", "answered"),
    [(True, "other", BeatAnswer.LOST), (False, "w", BeatAnswer.HELD)],
    ids=["a-lost-attempt", "nobody-asked-previews"],
)
def test_no_preview_is_kept_from_a_lost_attempt_or_for_a_task_nobody_asked_previews_of(
    store: TaskStore, asked: bool, sender: str, answered: BeatAnswer
) -> None:
    task = store.create(a_task())
    if asked:
        store.want_previews(task.id)
    held = store.claim("w", LEASE)
    assert held is not None

    answer = store.heartbeat_many(
        [Beat(task.id, sender, held.attempts, (2,), 8, (a_preview(0, 2),))], LEASE
    )

    assert answer == {task.id: answered}
    assert store.previews_after({task.id: (0, 0)}) == {}
    assert stored_rows(store) == 0


def test_previews_go_when_the_task_completes_fails_or_is_handed_back(store: TaskStore) -> None:
    endings = [
        lambda t, a: store.complete(t, "w", a, [an_image(0, f"{t}/0.png")]),
        lambda t, a: store.fail(t, "w", a, "generation_failed", "boom"),
        lambda t, a: store.release(t, "w", a),
    ]
    for end in endings:
        task = store.create(a_task())
        store.want_previews(task.id)
        held = store.claim("w", LEASE)
        assert held is not None
        beat = Beat(task.id, "w", held.attempts, (2,), 8, (a_preview(0, 2),))
        store.heartbeat_many([beat], LEASE)
        assert store.previews_after({task.id: (0, 0)}), "stored while it runs"

        end(task.id, held.attempts)

        assert store.previews_after({task.id: (0, 0)}) == {}
        store.request_cancel(task.id)  # the handed-back one waits again: out of the way
    assert stored_rows(store) == 0


def test_previews_go_when_the_lease_expires_or_the_task_is_deleted(store: TaskStore) -> None:
    expired, deleted = store.create(a_task()), store.create(a_task(owner="bob"))
    for task in (expired, deleted):
        store.want_previews(task.id)
    held = {t.id: t for t in (store.claim("w", 5.0), store.claim("w", LEASE)) if t}
    for task in (expired, deleted):
        beat = Beat(task.id, "w", held[task.id].attempts, (2,), 8, (a_preview(0, 2),))
        store.heartbeat_many([beat], 5.0 if task is expired else 3600.0)

    assert store.requeue_expired(later(60)) == [expired.id]
    store.purge.delete_task(deleted.id)

    assert store.previews_after({expired.id: (0, 0), deleted.id: (0, 0)}) == {}
    assert stored_rows(store) == 0
