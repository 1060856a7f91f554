"""Notices between processes: a store change wakes whoever waits for it, at once.

The store says what changed (`Notice`: a task's state or progress, work queued for a model,
places in the queue moved); idle workers and the API's SSE watcher subscribe and act on it
instead of asking the database every few milliseconds. Two channels carry notices:

- PostgreSQL `LISTEN/NOTIFY` (`PostgresNotifier`): the NOTIFY goes out in the transaction that
  made the change, so it is delivered exactly when the change is visible; each process keeps
  one listening connection in a thread and reconnects when it drops. Notices travel on two
  channels (`channel_of`): a task's progress and places in the queue, one per claim, step
  report and final write, go to `huajia_tasks`, which only processes with SSE followers
  listen on; the few others (work queued, a worker asked, a new revision or policy) go to
  `huajia`. A fleet's workers thus never receive its progress traffic: with one channel,
  every step report of every GPU woke every worker's listening connection and server process.
- On one machine with SQLite (`LocalNotifier`): one Unix datagram socket per listening
  process in a shared folder; a notice is sent to every socket there after the commit.

Notices may be lost (a pooler that drops LISTEN, a full socket buffer, a reconnect), so every
subscriber also checks slowly on its own; a listener that reconnects says `RESYNC` to its
subscribers, who then check everything they wait for.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "huajia"  # PostgreSQL: work queued, workers asked, revisions, policies
PROGRESS_CHANNEL = "huajia_tasks"  # PostgreSQL: tasks' progress and places (API watchers)
# One statement for any number of notices: built once, prepared by the driver, never compiled
# again (a statement per count of notices cost a compile and a cache key per transaction).
_NOTIFY = text(
    "SELECT pg_notify(channel, payload) "
    "FROM unnest(CAST(:channels AS text[]), CAST(:payloads AS text[])) AS notice(channel, payload)"
)

TASK = "task"  # a task's state or progress changed; key: the task id
QUEUED = "queued"  # a task is waiting to be claimed; key: its model ("" for any)
MOVED = "moved"  # places in the queue changed (a claim, a cancel); no key
REVISION = "revision"  # a new model revision is current; key: the model
POLICY = "policy"  # a key's or the global policy rules changed; key: the key id ("" global)
RESYNC = "resync"  # notices may have been missed: check everything; no key
ASKED = "asked"  # a running task's worker is asked something (cancel, previews); key: task id

SOCKET_PATH_MAX = 100  # AF_UNIX paths are limited to about 107 bytes

Topics = frozenset[str] | None  # what a subscriber wants to hear; None: every topic


def channel_of(topic: str) -> str:
    """The PostgreSQL channel a topic travels on."""
    return PROGRESS_CHANNEL if topic in (TASK, MOVED) else CHANNEL


def channels_of(topics: Topics) -> frozenset[str]:
    """The channels a subscriber to `topics` must listen on."""
    if topics is None:
        return frozenset({CHANNEL, PROGRESS_CHANNEL})
    return frozenset(channel_of(topic) for topic in topics)


@dataclass(frozen=True, slots=True)
class Notice:
    """What changed: a topic and, for some topics, what it is about."""

    topic: str
    key: str = ""

    def encode(self) -> str:
        return f"{self.topic}:{self.key}"

    @classmethod
    def decode(cls, text: str) -> Notice:
        topic, _, key = text.partition(":")
        return cls(topic, key)


Listener = Callable[[Notice], None]


@dataclass(frozen=True)
class _Subscriber:
    listener: Listener
    topics: Topics

    def wants(self, notice: Notice) -> bool:
        return self.topics is None or notice.topic == RESYNC or notice.topic in self.topics


class Notifier(ABC):
    """Sends notices to every process sharing the store; calls its subscribers on those heard.

    Subscribers run on the notifier's thread: they must only hand the notice on (set an
    event, schedule a callback), never block. A subscriber names the topics it wants (it
    hears `RESYNC` too); where the channel can, the process then receives nothing else.
    """

    def __init__(self) -> None:
        self._listeners: list[_Subscriber] = []
        self._lock = threading.Lock()

    def within(self, connection: Connection, notices: Iterable[Notice]) -> list[Notice]:
        """Called inside the store's transaction; returns the notices still to send once it
        commits (all of them, unless the channel can send inside the transaction)."""
        return list(notices)

    @abstractmethod
    def send(self, notices: Iterable[Notice]) -> None:
        """Send notices now (after the change they announce is committed)."""

    def notify(self, topic: str, key: str = "") -> None:
        self.send([Notice(topic, key)])

    def announce(self, topic: str, key: str = "") -> None:
        """After a change committed: this process's subscribers hear it now, before its
        next request, and the others when the notice reaches them (some hear it twice)."""
        notice = Notice(topic, key)
        self._heard(notice)
        self.send([notice])

    def subscribe(self, listener: Listener, topics: Topics = None) -> Callable[[], None]:
        """Call `listener` for every notice of `topics` (None: of any topic) heard from now
        on; returns the unsubscribe."""
        subscriber = _Subscriber(listener, None if topics is None else frozenset(topics))
        with self._lock:
            self._listeners = [*self._listeners, subscriber]
            self._start()
        self._until_listening()

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = [known for known in self._listeners if known is not subscriber]

        return unsubscribe

    def _channels(self) -> frozenset[str]:
        """The channels this process's subscribers need (call under the lock)."""
        return frozenset().union(*(channels_of(known.topics) for known in self._listeners))

    def close(self) -> None:
        """Stop listening (the store is closing)."""
        with self._lock:
            self._listeners = []

    def _start(self) -> None:  # noqa: B027 (a channel that hears in-process needs no start)
        """Begin listening (called under the lock, on every subscribe)."""

    def _until_listening(self) -> None:  # noqa: B027 (most channels listen at once)
        """Wait (a little) until notices sent from now on will be heard."""

    def _heard(self, notice: Notice) -> None:
        for subscriber in self._listeners:
            if not subscriber.wants(notice):
                continue
            try:
                subscriber.listener(notice)
            except Exception:  # one subscriber's bug must not deafen the others
                log.exception("a notice listener failed")


class InProcessNotifier(Notifier):
    """Notices reach this process's subscribers only (an in-memory database, tests)."""

    def send(self, notices: Iterable[Notice]) -> None:
        for notice in notices:
            self._heard(notice)


class LocalNotifier(Notifier):
    """Processes of one machine: one datagram socket each in a shared folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self._socket: socket.socket | None = None
        self._path: Path | None = None
        self._closed = threading.Event()

    @classmethod
    def for_database(cls, database: Path) -> LocalNotifier:
        """The channel of every process using this SQLite file: a `run` folder beside it, or
        a folder in the temporary directory named after it when that path is too long."""
        folder = database.expanduser().resolve().parent / "run" / "notify"
        if len(str(folder)) > SOCKET_PATH_MAX - 30:
            digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
            folder = Path(tempfile.gettempdir()) / f"huajia-{os.getuid()}-{digest}"
        return cls(folder)

    def send(self, notices: Iterable[Notice]) -> None:
        payloads = [notice.encode().encode() for notice in notices]
        peers = self._peers() if payloads else []
        if not peers:
            return
        # A socket per send: no lock between threads, nothing left open by a store never closed.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)
            for path in peers:
                for payload in payloads:
                    if not self._send_one(sender, path, payload):
                        break

    def _peers(self) -> list[str]:
        try:
            return [entry.path for entry in os.scandir(self.folder) if entry.name.endswith(".sock")]
        except FileNotFoundError:
            return []

    @staticmethod
    def _send_one(sender: socket.socket, path: str, payload: bytes) -> bool:
        try:
            sender.sendto(payload, path)
        except (ConnectionRefusedError, FileNotFoundError):  # its process is gone
            with contextlib.suppress(OSError):
                os.unlink(path)
            return False
        except OSError:  # its buffer is full: it catches up by its fallback check
            return False
        return True

    def _start(self) -> None:
        if self._socket is not None or self._closed.is_set():
            return
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listening.bind(str(path))
        listening.settimeout(1.0)  # to notice close(); no query, just a local wait
        self._socket, self._path = listening, path
        thread = threading.Thread(target=self._listen, name="notices", daemon=True)
        thread.start()

    def _listen(self) -> None:
        listening = self._socket
        assert listening is not None
        while not self._closed.is_set():
            try:
                payload = listening.recv(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            self._heard(Notice.decode(payload.decode(errors="replace")))

    def close(self) -> None:
        super().close()
        self._closed.set()
        if self._path is not None:
            with contextlib.suppress(OSError):
                self._path.unlink()
        if self._socket is not None:
            self._socket.close()


class PostgresNotifier(Notifier):
    """`LISTEN/NOTIFY`: sent inside the store's transaction, heard by one connection per
    process kept in a thread (reconnecting with back-off), listening on the channels its
    subscribers' topics need."""

    KEEPALIVE_SECONDS = 30.0  # a quiet listening connection is checked this often
    CONNECT_WAIT_SECONDS = 5.0  # a subscriber waits this long for its channels' LISTEN
    # The listening thread waits this long for a notice before it looks whether a new
    # subscriber needs another channel (a local wait: no query, no round trip).
    WAIT_SECONDS = 0.25

    def __init__(self, url: str) -> None:
        super().__init__()
        # psycopg speaks the libpq URI; SQLAlchemy's driver suffix is not part of it.
        self._conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        # Listening on every channel the subscribers need so far (tests wait for it).
        self.connected = threading.Event()
        self.backend_pid: int | None = None  # the listening connection's server process
        self.listening_to: frozenset[str] = frozenset()  # LISTENed on by its connection

    def within(self, connection: Connection, notices: Iterable[Notice]) -> list[Notice]:
        sent = sorted({(channel_of(notice.topic), notice.encode()) for notice in notices})
        if sent:  # delivered by PostgreSQL when (and only if) the transaction commits
            connection.execute(_NOTIFY, {"channels": [channel for channel, _ in sent],
                                         "payloads": [payload for _, payload in sent]})  # fmt: skip
        return []

    def send(self, notices: Iterable[Notice]) -> None:
        import psycopg

        sent = sorted({(channel_of(notice.topic), notice.encode()) for notice in notices})
        if not sent:
            return
        with psycopg.connect(self._conninfo, autocommit=True) as connection:
            for channel, payload in sent:
                connection.execute("SELECT pg_notify(%s, %s)", (channel, payload))

    def _start(self) -> None:
        if not self._channels() <= self.listening_to:
            self.connected.clear()  # until the listening thread has caught up
        if self._thread is None and not self._closed.is_set():
            self._thread = threading.Thread(target=self._run, name="notices", daemon=True)
            self._thread.start()

    def _until_listening(self) -> None:
        # A worker looks at the queue right after subscribing: a task queued in between
        # must be announced on a connection that already listens.
        if not self.connected.wait(self.CONNECT_WAIT_SECONDS):
            log.warning("not listening for notices yet; relying on the fallback check")

    def _run(self) -> None:
        backoff = 0.2
        first = True
        while not self._closed.is_set():
            try:
                self._listen(resync=not first)
                backoff = 0.2
            except Exception as error:  # the server restarted, the network dropped
                self.connected.clear()
                log.warning("listening for notices failed (%s); reconnecting in %.1f s",
                            type(error).__name__, backoff)  # fmt: skip
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            first = False

    def _listen(self, resync: bool) -> None:
        import psycopg

        self.listening_to = frozenset()
        with psycopg.connect(self._conninfo, autocommit=True,
                             application_name="huajia-notices") as connection:  # fmt: skip
            self.backend_pid = connection.info.backend_pid
            self._catch_up(connection)
            if resync:  # whatever was sent while we were away is lost: check everything
                self._heard(Notice(RESYNC))
            quiet_since = time.monotonic()
            while not self._closed.is_set():
                heard = False
                for message in connection.notifies(timeout=self.WAIT_SECONDS):
                    self._heard(Notice.decode(message.payload))
                    heard = True
                self._catch_up(connection)
                if heard:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > self.KEEPALIVE_SECONDS:
                    connection.execute("SELECT 1")  # a dead peer shows up here, not in a wait
                    quiet_since = time.monotonic()
        self.connected.clear()

    def _catch_up(self, connection: Any) -> None:
        """LISTEN on the channels subscribers added since the last look (their names are
        this module's constants); then say the process listens on all it needs."""
        with self._lock:
            missing = self._channels() - self.listening_to
        for channel in sorted(missing):
            connection.execute(f"LISTEN {channel}")
        with self._lock:
            self.listening_to |= missing
            if self._channels() <= self.listening_to:  # (under the lock: a newcomer clears it)
                self.connected.set()

    def close(self) -> None:
        super().close()
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def notifier_for(url: str) -> Notifier:
    """The channel for a database URL: LISTEN/NOTIFY on PostgreSQL, local sockets beside a
    SQLite file (in-process where neither applies: memory databases, no Unix sockets)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresNotifier(url)
    database = parsed.database or ""
    on_disk = database not in ("", ":memory:") and not database.startswith("file:")
    if on_disk and hasattr(socket, "AF_UNIX"):
        return LocalNotifier.for_database(Path(database))
    return InProcessNotifier()
