"""Figures that need the worker's clock: used by service_overhead.py (run that one).

An API-only `huajia serve --no-worker` and a worker in this process, built as `huajia worker`
builds it (presence, revision checks, the settings' fallback and requeue periods), share one
SQLite data folder. The engine is wrapped to stamp each denoising step and the end of each
batch with this process's clock, the clock the SSE client reads too.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import event
from tests.e2e.flows import submit
from tests.support.server import ServerProcess, free_port, server_env

REQUEST = {"width": 128, "height": 128, "steps": 4, "num_images": 1}


@dataclass
class Stamps:
    """This process's clock at each step and at each batch's end, for the task running now."""

    steps: dict[int, float] = field(default_factory=dict)
    engine_start: float = 0.0
    engine_done: float = 0.0
    completing: float = 0.0  # images encoded and stored; the completion write begins
    stored: float = 0.0


class StampingEngine:
    """The real engine, with the time of every step and of each batch's end noted."""

    def __init__(self, engine: Any, stamps: Stamps) -> None:
        self._engine = engine
        self._stamps = stamps

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def generate_batch(self, items: Sequence[Any]) -> list[Any]:
        stamped = [replace(item, on_progress=self._stamp(item.on_progress)) for item in items]
        self._stamps.engine_start = time.perf_counter()
        results: list[Any] = self._engine.generate_batch(stamped)
        self._stamps.engine_done = time.perf_counter()
        return results

    def _stamp(self, report: Any) -> Any:
        def on_progress(step: int, total: int) -> None:
            self._stamps.steps.setdefault(step, time.perf_counter())
            if report is not None:
                report(step, total)

        return on_progress


class StatementCount:
    """Statements and transactions an engine sends while `on` is set. Its listeners are added
    before any thread uses the engine: SQLAlchemy's event lists must not change while another
    thread runs through them (adding one there once killed the worker thread mid-bench).

    On PostgreSQL a worker's claims, renewals and final writes bypass SQLAlchemy's
    `Connection` (direct.py), so there the statements are counted as psycopg sends them;
    each of those runs alone in autocommit: a transaction of its own."""

    def __init__(self, engine: Any) -> None:
        self.on = False
        self.seen: Counter[str] = Counter()
        event.listen(engine, "begin", self._began)
        if engine.dialect.name != "postgresql":
            event.listen(engine, "before_cursor_execute", self._sqlalchemy_statement)
            return
        import psycopg

        execute = psycopg.Cursor.execute

        def counted(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            if self.on and cursor.connection.autocommit:
                self.seen["transaction"] += 1
            self._statement(str(query))
            return execute(cursor, query, *args, **kwargs)

        psycopg.Cursor.execute = counted  # type: ignore[method-assign,assignment]  # this process

    def _began(self, _conn: Any) -> None:
        if self.on:
            self.seen["transaction"] += 1

    def _sqlalchemy_statement(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any
                              ) -> None:  # fmt: skip
        self._statement(statement)

    def _statement(self, statement: str) -> None:
        if not self.on:
            return
        words = statement.replace(",", " ").split() or ["(ping)"]  # the pool's empty query
        kind = words[0].upper() if words[0] != ";" else "(ping)"
        table = next((w for w in words[1:] if w.startswith(("tasks", "workers", "model_"))), "")
        self.seen[f"{kind} {table.split('.')[0]}".strip()] += 1


@contextmanager
def worker_in_process(data_dir: Path, model: Path, engine: Any, stamps: Stamps,
                      database_url: str | None) -> Iterator[StatementCount]:  # fmt: skip
    """A worker thread as `huajia worker` runs it, on the data folder's database; yields the
    count of the statements it sends."""
    from huajia.cli.serve import _revision_to_serve
    from huajia.composition import image_store, open_task_store
    from huajia.engine.models import resolve_model
    from huajia.images.labeler import Labeler
    from huajia.settings import Settings
    from huajia.worker.loop import Worker
    from huajia.worker.presence import Presence
    from huajia.worker.revisions import ServedRevision

    settings = Settings(data_dir=data_dir, model=str(model), database_url=database_url)
    store = open_task_store(settings)
    counting = StatementCount(cast(Any, store).engine)  # before any thread runs
    spec = resolve_model(settings.model, settings.registry())
    stop = threading.Event()
    presence = Presence(store, "bench-worker", spec.name, parent_pid=None)
    presence.start(stop)
    stamping = StampingEngine(engine, stamps)
    revision = _revision_to_serve(store, spec, settings.weights)
    served = ServedRevision(store, spec.name, revision, stamping, load=lambda target: stamping)
    presence.ready(served.describe)
    worker = Worker(store, stamping, image_store(settings), "bench-worker", settings.lease_seconds,
                    model=spec.name, labeler=Labeler.ephemeral(), served=served,
                    poll_seconds=settings.idle_fallback_seconds,
                    report_interval=settings.progress_interval_seconds,
                    requeue_seconds=max(1.0, settings.lease_seconds / 3),
                    overlap_storing=str(engine.device) != "cpu")  # as `huajia worker`  # fmt: skip
    complete = store.complete

    def stamped_complete(*args: Any, **kwargs: Any) -> Any:
        stamps.completing = time.perf_counter()
        done = complete(*args, **kwargs)
        stamps.stored = time.perf_counter()
        return done

    store.complete = stamped_complete  # type: ignore[method-assign]
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        yield counting
    finally:
        stop.set()
        worker.wake()
        thread.join(timeout=30)
        presence.stop()
        store.close()


def one_task(client: httpx.Client, stamps: Stamps, i: int) -> dict[str, float]:
    """One task followed over SSE; seconds from its step or stage to what the client saw."""
    stamps.steps.clear()
    began = time.perf_counter()
    task = submit(client, prompt=f"a stamped lighthouse {i}", **REQUEST)
    answered = time.perf_counter()
    first_progress = completed = 0.0
    urls: list[str] = []
    with client.stream("GET", f"/api/v1/tasks/{task['task_id']}/events") as stream:
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name == "progress" and not first_progress:
                first_progress = time.perf_counter()
            elif line.startswith("data: ") and name == "completed":
                completed = time.perf_counter()
                urls = json.loads(line.removeprefix("data: "))["image_urls"]
                break
    for url in urls:
        client.get(url).raise_for_status()
    fetched = time.perf_counter()
    engine = stamps.engine_done - stamps.engine_start
    return {
        "service overhead (its own engine time off)": fetched - began - engine,
        "submit (POST answered)": answered - began,
        "submit answered -> engine starts": stamps.engine_start - answered,
        "first progress after its step": first_progress - stamps.steps[1],
        "engine end -> images encoded and stored": stamps.completing - stamps.engine_done,
        "completion write (with the last steps)": stamps.stored - stamps.completing,
        "completed stored -> SSE completed": completed - stamps.stored,
        "SSE completed -> bytes fetched": fetched - completed,
    }


def idle_statements(counting: StatementCount, seconds: float) -> tuple[float, Counter[str]]:
    """Statements per second the idle worker (and its presence) send, and what they are
    (transactions counted apart, as "transaction": PostgreSQL's BEGIN is the driver's own)."""
    counting.seen.clear()
    counting.on = True
    time.sleep(seconds)
    counting.on = False
    seen = Counter(counting.seen)
    statements = sum(n for kind, n in seen.items() if kind not in ("transaction", "BEGIN"))
    return statements / seconds, seen


def measure(model: Path, engine: Any, data_dir: Path, runs: int, idle_s: float,
            database_url: str | None = None,
            ) -> tuple[dict[str, list[float]], float, Counter[str]]:  # fmt: skip
    """Stage latencies of `runs` tasks, then the idle worker's statement rate."""
    env = server_env({"HUAJIA_DATABASE_URL": database_url} if database_url else {})
    api = ServerProcess(data_dir, model, free_port(), env, ["--no-worker"]).start()
    stamps = Stamps()
    stages: dict[str, list[float]] = {}
    try:
        with (
            worker_in_process(data_dir, model, engine, stamps, database_url) as counting,
            httpx.Client(base_url=api.url, timeout=60) as client,
        ):
            for i in range(runs):
                for stage, seconds in one_task(client, stamps, i).items():
                    stages.setdefault(stage, []).append(seconds)
            time.sleep(1.0)  # the last task's finishing touches
            rate, kinds = idle_statements(counting, idle_s)
    finally:
        api.stop()
    return stages, rate, kinds


def report(stages: dict[str, list[float]], rate: float, kinds: Counter[str], idle_s: float
           ) -> None:  # fmt: skip
    for stage, values in stages.items():
        print(f"{stage:<40}{statistics.median(values) * 1000:8.1f} ms median, "
              f"max {max(values) * 1000:.1f}")  # fmt: skip
    detail = ", ".join(f"{kind} {count / idle_s:.2f}" for kind, count in kinds.most_common()
                       if kind not in ("transaction", "BEGIN"))  # fmt: skip
    print(f"idle worker: queries per second          {rate:8.2f}  ({detail})")
    print(f"idle worker: transactions per second     {kinds['transaction'] / idle_s:8.2f}  "
          f"(on SQLite each sends a BEGIN statement too)")  # fmt: skip
