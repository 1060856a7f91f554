"""Claims per second at several queue depths, PostgreSQL and SQLite. Prints figures, never fails.

    python bench/queue_depth.py [--processes 4 --threads 4 --seconds 5 --rounds 2]
                          [--depths 100,10000,100000] [--postgres URL] [--no-sqlite]

A no-op engine: each claimer thread loops claim → one heartbeat → complete → queue one new
task (so the depth holds while it runs). Every depth has its own database (PostgreSQL: its own
schema, dropped at the end; SQLite: its own file), filled once with tasks of 20 owners; runs
then interleave across depths (A, B, C, A, B, C …) so a busy machine moves all of them alike.
Ratios are against the smallest depth.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert
from tests.jobs.helpers import a_task

from huajia.jobs import open_store
from huajia.jobs.database import Pool, transaction
from huajia.jobs.model import TaskState
from huajia.jobs.rows import task_values
from huajia.jobs.tables import tasks

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
OWNERS = 20
LEASE = 60.0


def fill(url: str, depth: int) -> None:
    """`depth` pending tasks of OWNERS owners, with the keys the store would have given them."""
    store = open_store(url)
    start = datetime.now(UTC) - timedelta(hours=1)
    rows: list[dict[str, Any]] = []
    with transaction(store.engine, write=True) as connection:
        for index in range(depth):
            new = a_task(owner=f"owner-{index % OWNERS}", batch_key="k512")
            values = task_values(new, TaskState.PENDING, start + timedelta(microseconds=index))
            rows.append(values | {"queue_class": 1, "queue_turn": index // OWNERS})
            if len(rows) == 5000:
                connection.execute(insert(tasks), rows)
                rows = []
        if rows:
            connection.execute(insert(tasks), rows)
    if url.startswith("postgresql"):
        with store.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE tasks"
            )
    store.close()


def claimer_process(url: str, threads: int, ready: Any, seconds: float, out: Any) -> None:
    store = open_store(url, Pool(threads, 2))
    counts = [0] * threads
    ready.wait()  # every process connected: all start together
    end = time.monotonic() + seconds

    def loop(slot: int) -> None:
        worker = f"bench-{uuid.uuid4().hex[:8]}"
        while time.monotonic() < end:
            task = store.claim(worker, LEASE, model="z-image-turbo")
            if task is None:
                continue
            store.heartbeat(task.id, worker, task.attempts, 1, 1, LEASE)
            store.complete(task.id, worker, task.attempts, [])
            store.create(a_task(owner=f"owner-{counts[slot] % OWNERS}", batch_key="k512"))
            counts[slot] += 1

    running = [threading.Thread(target=loop, args=(slot,)) for slot in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    store.close()
    out.put(sum(counts))


def claims_per_second(url: str, processes: int, threads: int, seconds: float) -> float:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    ready = context.Barrier(processes + 1)
    children = [
        context.Process(target=claimer_process, args=(url, threads, ready, seconds, out))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    ready.wait()
    total: float = sum(out.get() for _ in children)
    for child in children:
        child.join()
    return total / seconds


def postgres_schema(base: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy import make_url

    schema = f"huajia_bench_{uuid.uuid4().hex[:10]}"
    dsn = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}", schema


def drop_schema(base: str, schema: str) -> None:
    import psycopg
    from sqlalchemy import make_url

    dsn = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


def measure(label: str, urls: dict[int, str], args: argparse.Namespace, processes: int) -> None:
    for depth, url in urls.items():
        t0 = time.perf_counter()
        fill(url, depth)
        print(f"  {label}: filled {depth:>7,} pending in {time.perf_counter() - t0:.1f} s")
    runs: dict[int, list[float]] = {depth: [] for depth in urls}
    for _ in range(args.rounds):
        for depth, url in urls.items():  # interleaved: A, B, C, A, B, C …
            runs[depth].append(claims_per_second(url, processes, args.threads, args.seconds))
    base = statistics.median(runs[min(urls)])
    print(f"{label}: {processes} processes × {args.threads} claimer threads, "
          f"{args.seconds:g} s per run, {args.rounds} interleaved runs per depth")  # fmt: skip
    for depth, figures in runs.items():
        median = statistics.median(figures)
        each = ", ".join(f"{figure:.0f}" for figure in figures)
        print(f"  depth {depth:>7,}: {median:7.0f} claims/s  ({median / base:.2f}× depth "
              f"{min(urls):,})   runs: {each}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--depths", default="100,10000,100000")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sqlite-processes", type=int, default=1)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    depths = [int(depth) for depth in args.depths.split(",")]

    if not args.no_postgres:
        schemas = {depth: postgres_schema(args.postgres) for depth in depths}
        try:
            urls = {depth: url for depth, (url, _) in schemas.items()}
            measure("PostgreSQL", urls, args, args.processes)
        finally:
            for _, schema in schemas.values():
                drop_schema(args.postgres, schema)
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            urls = {depth: f"sqlite:///{folder}/depth-{depth}.db" for depth in depths}
            measure("SQLite", urls, args, args.sqlite_processes)


if __name__ == "__main__":
    main()
