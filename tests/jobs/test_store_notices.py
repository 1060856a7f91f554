"""Store notices: a change made through one store is heard by another process's store.

Every test runs on SQLite (local sockets) and PostgreSQL (LISTEN/NOTIFY); the second store
opened on the same database stands for another process. Waits are generous (10 s): a test
asserts that a notice comes, never how fast.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from huajia.errors import LeaseLost
from huajia.jobs import TaskStore, open_store
from huajia.jobs.beats import Beat
from huajia.jobs.notify import (
    ASKED,
    CHANNEL,
    MOVED,
    PROGRESS_CHANNEL,
    QUEUED,
    RESYNC,
    TASK,
    LocalNotifier,
    Notice,
)
from huajia.worker.loop import WANTED as WORKER_TOPICS
from tests.jobs.helpers import LEASE, a_task, later

WAIT = 10.0


class Heard:
    """Every notice a store's notifier hears, to wait on."""

    def __init__(self, store: TaskStore) -> None:
        self.notices: list[Notice] = []
        self._changed = threading.Condition()
        self.unsubscribe = store.notifier.subscribe(self._add)

    def _add(self, notice: Notice) -> None:
        with self._changed:
            self.notices.append(notice)
            self._changed.notify_all()

    def settle(self, sender: TaskStore) -> None:
        """Forget what was heard once everything `sender` sent so far has arrived."""
        mark = Notice("test-mark", uuid.uuid4().hex)
        sender.notifier.send([mark])
        self.wait_for(mark)
        with self._changed:
            self.notices.clear()

    def wait_for(self, *wanted: Notice) -> list[Notice]:
        """Until every wanted notice was heard; what was heard up to then."""
        with self._changed:
            self._changed.wait_for(lambda: all(n in self.notices for n in wanted), WAIT)
            missing = [n for n in wanted if n not in self.notices]
            assert not missing, f"never heard {missing}; heard {self.notices}"
            return list(self.notices)


@pytest.fixture
def other(store_url: str, store: TaskStore) -> Iterator[TaskStore]:
    """A second store on the same database: another process's view."""
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def heard(other: TaskStore) -> Iterator[Heard]:
    listening = Heard(other)
    _until_listening(other)
    yield listening
    listening.unsubscribe()


def _until_listening(store: TaskStore) -> None:
    connected = getattr(store.notifier, "connected", None)
    if connected is not None:  # PostgreSQL: LISTEN runs on its own thread
        assert connected.wait(WAIT), "the listening connection never came up"


def test_a_queued_task_is_announced_to_other_processes(store: TaskStore, heard: Heard) -> None:
    task = store.create(a_task(model="z-image-turbo"))

    heard.wait_for(Notice(TASK, task.id), Notice(QUEUED, "z-image-turbo"), Notice(MOVED))


def test_claim_steps_and_completion_are_announced(store: TaskStore, heard: Heard) -> None:
    task = store.create(a_task())
    claimed = store.claim("w", LEASE)
    assert claimed is not None
    heard.wait_for(Notice(TASK, task.id), Notice(MOVED))
    heard.settle(store)

    store.heartbeat_many([Beat(task.id, "w", claimed.attempts, (1, 2), 8)], LEASE)
    heard.wait_for(Notice(TASK, task.id))
    heard.settle(store)

    store.complete(task.id, "w", claimed.attempts, [])
    heard.wait_for(Notice(TASK, task.id))
    assert store.get(task.id).state.terminal


def test_a_running_tasks_worker_is_asked_once_for_previews_and_for_a_cancel(
    store: TaskStore, heard: Heard
) -> None:
    """ASKED goes to the worker of a running task only, and only when something changed for
    it: previews wanted for the first time, a cancel requested."""
    running = store.create(a_task())
    waiting = store.create(a_task(owner="bob"))
    claimed = store.claim("w", LEASE)
    assert claimed is not None and claimed.id == running.id
    heard.settle(store)

    assert store.want_previews(waiting.id) and store.want_previews(running.id)
    assert store.want_previews(running.id), "asked again: still wanted"
    store.request_cancel(waiting.id)
    store.request_cancel(running.id)
    mark = Notice("test-mark", uuid.uuid4().hex)
    store.notifier.send([mark])

    asked = [notice for notice in heard.wait_for(mark) if notice.topic == ASKED]
    assert asked == [Notice(ASKED, running.id), Notice(ASKED, running.id)]


def test_a_task_back_from_a_dead_worker_wakes_idle_workers(store: TaskStore, heard: Heard) -> None:
    task = store.create(a_task(model="m-1"))
    assert store.claim("dead", LEASE) is not None
    heard.settle(store)

    assert store.requeue_expired(now=later(LEASE + 1)) == [task.id]

    heard.wait_for(Notice(TASK, task.id), Notice(QUEUED, "m-1"))


def test_a_change_that_fails_announces_nothing(store: TaskStore, heard: Heard) -> None:
    refused = store.create(a_task())
    claimed = store.claim("w", LEASE)
    assert claimed is not None
    heard.settle(store)

    with pytest.raises(LeaseLost):  # not this worker's lease: rolled back
        store.complete(refused.id, "someone-else", claimed.attempts, [])
    marker = store.create(a_task(owner="bob"))  # sent after the refusal; heard after it too

    notices = heard.wait_for(Notice(TASK, marker.id))
    assert Notice(TASK, refused.id) not in notices


def test_a_store_hears_its_own_changes(store: TaskStore) -> None:
    """The API and its watcher share one store: its own changes must wake it too."""
    listening = Heard(store)
    _until_listening(store)

    task = store.create(a_task())

    listening.wait_for(Notice(TASK, task.id))
    listening.unsubscribe()


def test_a_dead_listeners_socket_is_cleared_and_the_others_still_hear(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    alive, sender = LocalNotifier(folder), LocalNotifier(folder)
    got: list[Notice] = []
    came = threading.Event()
    alive.subscribe(lambda notice: (got.append(notice), came.set()))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dead:  # died without cleaning up
        dead.bind(str(folder / "1-dead.sock"))
    assert len(list(folder.glob("*.sock"))) == 2

    sender.notify(TASK, "t-1")

    assert came.wait(WAIT) and got == [Notice(TASK, "t-1")]
    assert [path.name for path in folder.glob("*.sock")] != ["1-dead.sock"]
    assert len(list(folder.glob("*.sock"))) == 1
    for notifier in (alive, sender):
        notifier.close()
    assert list(folder.glob("*.sock")) == []


def test_a_long_data_folder_gets_a_short_socket_folder(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 6) / "huajia.db"
    notifier = LocalNotifier.for_database(deep)

    assert LocalNotifier.for_database(deep).folder == notifier.folder  # every process agrees
    assert len(str(notifier.folder)) < 80
    got = threading.Event()
    notifier.subscribe(lambda notice: got.set())
    notifier.notify(TASK, "x")
    assert got.wait(WAIT)
    notifier.close()


@pytest.mark.postgres
def test_a_dropped_listening_connection_reconnects_and_asks_for_a_resync(
    postgres_schema_url: str,
) -> None:
    import psycopg

    from tests.support.postgres import POSTGRES_URL, _libpq_dsn

    store, other = open_store(postgres_schema_url), open_store(postgres_schema_url)
    try:
        heard = Heard(other)
        notifier = other.notifier
        _until_listening(other)
        pid = getattr(notifier, "backend_pid", None)
        with psycopg.connect(_libpq_dsn(POSTGRES_URL), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        heard.wait_for(Notice(RESYNC))
        deadline = time.monotonic() + WAIT
        while getattr(notifier, "backend_pid", None) == pid and time.monotonic() < deadline:
            time.sleep(0.05)
        _until_listening(other)
        task = store.create(a_task())
        heard.wait_for(Notice(TASK, task.id))  # listening again after the drop
    finally:
        other.close()
        store.close()


def test_a_subscriber_hears_the_topics_it_names_and_resync(store: TaskStore) -> None:
    for_worker: list[Notice] = []
    unsubscribe = store.notifier.subscribe(for_worker.append, WORKER_TOPICS)
    everything = Heard(store)
    _until_listening(store)

    task = store.create(a_task(model="m-1"))
    store.notifier.announce(RESYNC)

    everything.wait_for(Notice(TASK, task.id), Notice(QUEUED, "m-1"), Notice(RESYNC))
    assert Notice(QUEUED, "m-1") in for_worker and Notice(RESYNC) in for_worker
    assert {notice.topic for notice in for_worker} <= WORKER_TOPICS | {RESYNC}
    unsubscribe()
    everything.unsubscribe()


@pytest.mark.postgres
def test_a_workers_listening_connection_is_sent_no_progress(postgres_schema_url: str) -> None:
    """Every claim, step report and final write announces a task's progress: in a fleet
    that is most notices. A process whose subscribers are a worker's does not even listen on
    their channel (its server process sends it none); one with an SSE watcher does. (Other
    tests share the database's channels: only this test's own notices are counted.)"""
    changes, worker_side, api_side = (open_store(postgres_schema_url) for _ in range(3))
    try:
        for_worker: list[Notice] = []
        worker_side.notifier.subscribe(for_worker.append, WORKER_TOPICS)
        for_api = Heard(api_side)
        for opened in (worker_side, api_side):
            _until_listening(opened)
        model = f"m-{uuid.uuid4().hex[:8]}"

        task = changes.create(a_task(model=model))
        claimed = changes.claim("w", LEASE, model=model)
        assert claimed is not None and claimed.id == task.id
        changes.heartbeat_many([Beat(task.id, "w", claimed.attempts, (1, 2), 4)], LEASE)
        changes.complete(task.id, "w", claimed.attempts, [])
        last = Notice(QUEUED, f"last-{model}")  # on the worker's channel, after the progress
        changes.notifier.send([last])

        heard = for_api.wait_for(last)
        assert heard.count(Notice(TASK, task.id)) >= 4  # created, claimed, stepped, done
        deadline = time.monotonic() + WAIT
        while last not in for_worker and time.monotonic() < deadline:
            time.sleep(0.02)
        assert Notice(QUEUED, model) in for_worker and last in for_worker
        assert not [notice for notice in for_worker if notice.topic in (TASK, MOVED)]
        assert getattr(worker_side.notifier, "listening_to", None) == {CHANNEL}
        assert getattr(api_side.notifier, "listening_to", None) == {CHANNEL, PROGRESS_CHANNEL}
    finally:
        for opened in (changes, worker_side, api_side):
            opened.close()
