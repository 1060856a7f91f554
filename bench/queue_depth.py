"""Claims and submits per second at several queue depths, PostgreSQL and SQLite. Prints
figures, never fails.

    python bench/queue_depth.py [--processes 4 --threads 4 --seconds 5 --rounds 2]
                          [--depths 100,10000,100000] [--postgres URL] [--no-sqlite]
                          [--compare direct,statements,quick,listening]

Claims: a no-op engine, as a worker's reporter and finisher drive the store: each claimer
thread loops claim → one heartbeat → complete. Every claimer process tops the queue up in
bulk (one insert per 10 claims, each row at the back of the fair order) so the depth holds
while it runs without the claimers paying for submits. Submits: one thread queues tasks
through the store's own `create` (fair key, position and all) at the same depths.

Every depth has its own database (PostgreSQL: its own schema, dropped at the end; SQLite: its
own file), filled once with tasks of 20 owners; runs then interleave across depths (A, B, C,
A, B, C …) so a busy machine moves all of them alike. Ratios are against the smallest depth.
The CPU time the claimer processes and the database server spent per claim is printed too:
on a machine where the database and the claimers share few cores, CPU is what bounds the
rate, and these figures say what more cores buy. On PostgreSQL, one claimer alone then gives
what each write costs with nothing competing (and the rate all cores could give at that
cost), and the middle depth runs the worker's writes as one statement each against the
portable transactions, interleaved; claims and renewals that commit without waiting for
the flush against every write waiting for it; and every claimer process listening for
notices as a worker process does (its subscribers' topics only: the progress channel never
reaches it) against listening on every notice (how every process listened before the
progress channel was split off), beside a fleet's idle workers' listening connections.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert
from tests.jobs.helpers import a_task

from huajia.jobs import open_store, pg_leases
from huajia.jobs.beats import Beat
from huajia.jobs.database import Pool, transaction
from huajia.jobs.model import TaskState
from huajia.jobs.rows import task_values
from huajia.jobs.tables import tasks
from huajia.worker.loop import WANTED as WORKER_TOPICS

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
OWNERS = 20
LEASE = 60.0
TOP_UP = 10  # claims between one claimer process's bulk top-ups


def add_pending(connection: Any, count: int, first_turn: int) -> None:
    """`count` pending tasks of OWNERS owners from `first_turn` on, keyed as the store would."""
    start = datetime.now(UTC) - timedelta(hours=1)
    rows: list[dict[str, Any]] = []
    for index in range(count):
        new = a_task(owner=f"owner-{index % OWNERS}", batch_key="k512")
        values = task_values(new, TaskState.PENDING, start + timedelta(microseconds=index))
        rows.append(values | {"queue_class": 1, "queue_turn": first_turn + index // OWNERS})
        if len(rows) == 5000:
            connection.execute(insert(tasks), rows)
            rows = []
    if rows:
        connection.execute(insert(tasks), rows)


def fill(url: str, depth: int) -> None:
    """`depth` pending tasks, then statistics refreshed as autovacuum would in a while."""
    store = open_store(url)
    with transaction(store.engine, write=True) as connection:
        add_pending(connection, depth, 0)
    if url.startswith("postgresql"):
        with store.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE tasks"
            )
    store.close()


class Mode(NamedTuple):
    """How the claimers run: the store's defaults, or one thing as it was before."""

    portable: bool = False  # the portable transactions instead of one statement per write
    listen: str = ""  # "worker": subscribed as a worker; "all": to every notice
    quick: bool = True  # claims and renewals commit without waiting for the flush
    direct: bool = True  # the writes run straight on the driver's connection, not SQLAlchemy's


def claimer_process(url: str, threads: int, ready: Any, seconds: float, out: Any,
                    measured: Any, mode: Mode) -> None:  # fmt: skip
    pg_leases.QUICK_COMMITS = mode.quick
    pg_leases.DIRECT = mode.direct
    store = open_store(url, Pool(threads + 1, 2), single_statements=not mode.portable)
    if mode.listen:
        store.notifier.subscribe(lambda notice: None, listened(mode.listen))
    counts = [0] * threads
    lock = threading.Lock()
    owed = [0]  # claims not yet topped up
    ready.wait()  # every process connected: all start together
    cpu = time.process_time()
    end = time.monotonic() + seconds

    def top_up() -> None:
        with lock:
            if owed[0] < TOP_UP:
                return
            owed[0] -= TOP_UP
        with transaction(store.engine, write=True) as connection:
            add_pending(connection, TOP_UP, 1_000_000 + counts[0])

    def loop(slot: int) -> None:
        worker = f"bench-{uuid.uuid4().hex[:8]}"
        while time.monotonic() < end:
            task = store.claim(worker, LEASE, model="z-image-turbo")
            if task is None:
                continue
            store.heartbeat_many([Beat(task.id, worker, task.attempts, (1,), 1)], LEASE)
            store.complete(task.id, worker, task.attempts, [])
            counts[slot] += 1
            with lock:
                owed[0] += 1
            top_up()

    running = [threading.Thread(target=loop, args=(slot,)) for slot in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    out.put((sum(counts), time.process_time() - cpu))
    measured.wait()  # the server's CPU is read while this process's connections still live
    store.close()


def server_cpu_seconds() -> float:
    """CPU seconds spent so far by this machine's PostgreSQL processes (0 where unreadable)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if "(postgres)" in stat:
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def listened(listen: str) -> frozenset[str] | None:
    return WORKER_TOPICS if listen == "worker" else None


def claims_per_second(url: str, processes: int, threads: int, seconds: float,
                      mode: Mode = Mode()) -> tuple[float, float, float]:  # fmt: skip
    """Claims per second, and the claimers' and the database server's CPU ms per claim."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    ready, measured = context.Barrier(processes + 1), context.Barrier(processes + 1)
    children = [
        context.Process(
            target=claimer_process,
            args=(url, threads, ready, seconds, out, measured, mode),
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    ready.wait()
    server = server_cpu_seconds()
    results = [out.get() for _ in children]
    server = server_cpu_seconds() - server
    measured.wait()
    for child in children:
        child.join()
    claims = sum(count for count, _ in results) or 1
    client = sum(cpu for _, cpu in results)
    return claims / seconds, client / claims * 1000, server / claims * 1000


def backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cost_alone(url: str, claims: int = 1500) -> None:
    """One claimer, nothing else running: the CPU each of a task's three writes costs this
    process and its server process (read from /proc), and the claims per second the machine's
    cores could give at that cost were they all busy with nothing else."""
    store = open_store(url, Pool(1, 0))
    with store.engine.connect() as connection:  # the pool's one connection: every write's
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    worker = "bench-alone"
    held: list[Any] = []
    costs: dict[str, tuple[float, float]] = {}
    for write in ("claim", "renewal", "final write"):
        server, client = backend_cpu_seconds(pid), time.process_time()
        for index in range(claims):
            if write == "claim":
                held.append(store.claim(worker, LEASE, model="z-image-turbo"))
                continue
            task = held[index]
            if write == "renewal":
                store.heartbeat_many([Beat(task.id, worker, task.attempts, (1,), 1)], LEASE)
            else:
                store.complete(task.id, worker, task.attempts, [])
        costs[write] = (
            (time.process_time() - client) / claims * 1000,
            (backend_cpu_seconds(pid) - server) / claims * 1000,
        )
    store.close()
    client = sum(cost for cost, _ in costs.values())
    server = sum(cost for _, cost in costs.values())
    cores = os.cpu_count() or 1
    print(f"PostgreSQL, one claimer alone ({claims} tasks): CPU per write, this process + server")
    for write, (mine, theirs) in costs.items():
        print(f"  {write:<12} {mine:.2f} + {theirs:.2f} ms")
    print(f"  a task's three writes: {client:.2f} + {server:.2f} ms; at that cost {cores} cores "
          f"give at most {cores * 1000 / (client + server):.0f} claims/s, "
          f"1,000 claims/s needs {(client + server):.1f} cores")  # fmt: skip


def submits_per_second(url: str, seconds: float) -> float:
    """One thread queueing through `create` (fair key, insert, notice, queue position)."""
    store = open_store(url, Pool(1, 1))
    done = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        store.create(a_task(owner=f"owner-{done % OWNERS}", batch_key="k512"))
        done += 1
    store.close()
    return done / seconds


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


def medians(figures: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Median claims/s, claimers' and server's CPU ms per claim, of several runs."""
    return (
        statistics.median(claims for claims, _, _ in figures),
        statistics.median(cpu for _, cpu, _ in figures),
        statistics.median(cpu for _, _, cpu in figures),
    )


def measure(label: str, urls: dict[int, str], args: argparse.Namespace, processes: int) -> None:
    for depth, url in urls.items():
        t0 = time.perf_counter()
        fill(url, depth)
        print(f"  {label}: filled {depth:>7,} pending in {time.perf_counter() - t0:.1f} s")
    runs: dict[int, list[tuple[float, float, float]]] = {depth: [] for depth in urls}
    submits: dict[int, list[float]] = {depth: [] for depth in urls}
    for _ in range(args.rounds):
        for depth, url in urls.items():  # interleaved: A, B, C, A, B, C …
            runs[depth].append(claims_per_second(url, processes, args.threads, args.seconds))
            submits[depth].append(submits_per_second(url, args.seconds / 2))
    base = statistics.median(claims for claims, _, _ in runs[min(urls)])
    submit_base = statistics.median(submits[min(urls)])
    print(f"{label}: {processes} processes × {args.threads} claimer threads, "
          f"{args.seconds:g} s per run, {args.rounds} interleaved runs per depth")  # fmt: skip
    for depth, figures in runs.items():
        median, client, server = medians(figures)
        each = ", ".join(f"{claims:.0f}" for claims, _, _ in figures)
        submit = statistics.median(submits[depth])
        print(f"  depth {depth:>7,}: {median:6.0f} claims/s ({median / base:.2f}×)  "
              f"CPU per claim: claimers {client:.2f} ms, server {server:.2f} ms   "
              f"submits {submit:5.0f}/s ({submit / submit_base:.2f}×)   "
              f"claim runs: {each}")  # fmt: skip


def idle_listeners(url: str, count: int, listen: str, ready: Any, stop: Any) -> None:
    """`count` listening connections, as a fleet's other (idle) workers keep."""
    from huajia.jobs.notify import PostgresNotifier

    notifiers = [PostgresNotifier(url) for _ in range(count)]
    for notifier in notifiers:
        notifier.subscribe(lambda notice: None, listened(listen))
    ready.set()
    stop.wait()
    for notifier in notifiers:
        notifier.close()


def compare(url: str, args: argparse.Namespace, title: str, modes: dict[str, Mode],
            fleet: int = 0, label: str = "PostgreSQL", processes: int | None = None,
            ) -> None:  # fmt: skip
    """Claims per second in each mode on one database, interleaved (A, B, A, B …); the
    ratios are against the last mode (how it was before). `fleet`: that many idle workers'
    listening connections beside the claimers, listening as the mode's claimers do."""
    context = multiprocessing.get_context("spawn")
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in modes}
    for _ in range(args.rounds):
        for name, mode in modes.items():
            ready, stop = context.Event(), context.Event()
            idle = context.Process(target=idle_listeners,
                                   args=(url, fleet, mode.listen, ready, stop))  # fmt: skip
            idle.start()
            ready.wait()
            count = processes or args.processes
            runs[name].append(claims_per_second(url, count, args.threads, args.seconds, mode))
            stop.set()
            idle.join()
    base = statistics.median(claims for claims, _, _ in runs[list(modes)[-1]])
    print(f"{label}: {title}, {args.rounds} interleaved runs each")
    width = max(len(name) for name in modes)
    for name, figures in runs.items():
        median, client, server = medians(figures)
        print(f"  {name:<{width}}: {median:6.0f} claims/s ({median / base:.2f}×)  CPU per claim: "
              f"claimers {client:.2f} ms, server {server:.2f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--depths", default="100,10000,100000")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sqlite-processes", type=int, default=1)
    parser.add_argument(
        "--fleet-listeners", type=int, default=16,
        help="idle workers' listening connections beside the claimers (the listening runs)",
    )  # fmt: skip
    parser.add_argument(
        "--compare", default="direct,statements,quick,listening,sqlite",
        help="the A/B comparisons to run at the middle depth (comma-separated; '' for none)",
    )  # fmt: skip
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    depths = [int(depth) for depth in args.depths.split(",")]

    if not args.no_postgres:
        schemas = {depth: postgres_schema(args.postgres) for depth in depths}
        try:
            urls = {depth: url for depth, (url, _) in schemas.items()}
            measure("PostgreSQL", urls, args, args.processes)
            middle = sorted(urls)[len(urls) // 2]
            cost_alone(urls[middle], min(1500, middle // 2))
            fleet = args.fleet_listeners
            comparisons = {  # name: (what A and B are, the modes, idle listeners beside them)
                "direct": ("a worker's writes run straight on the driver's connection (A) "
                           "against through SQLAlchemy's (B)",
                           {"A on the driver's connection": Mode(),
                            "B through SQLAlchemy": Mode(direct=False)}, 0),
                "statements": ("a worker's writes as one statement each (A) against the "
                               "portable transactions (B)",
                               {"A one statement each": Mode(),
                                "B portable transactions": Mode(portable=True)}, 0),
                "quick": ("claims and renewals committed without waiting for the flush (A) "
                          "against every write waiting for it (B)",
                          {"A quick claims and renewals": Mode(),
                           "B every write flushed": Mode(quick=False)}, 0),
                "listening": (f"each claimer process and {fleet} idle workers' connections "
                              "listening for a worker's notices (A) against every notice (B)",
                              {"A a worker's topics": Mode(listen="worker"),
                               "B every notice": Mode(listen="all")}, fleet),
            }  # fmt: skip
            for name in args.compare.split(","):
                if name in comparisons:
                    title, modes, idle = comparisons[name]
                    compare(urls[middle], args, f"depth {middle:,}: {title}", modes, idle)
        finally:
            for _, schema in schemas.values():
                drop_schema(args.postgres, schema)
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            urls = {depth: f"sqlite:///{folder}/depth-{depth}.db" for depth in depths}
            measure("SQLite", urls, args, args.sqlite_processes)
            if "sqlite" in args.compare.split(","):
                middle = sorted(urls)[len(urls) // 2]
                modes = {"A on the driver's connection": Mode(),
                         "B portable transactions": Mode(portable=True)}  # fmt: skip
                title = (f"depth {middle:,}: a worker's writes as short transactions on the "
                         "driver's connection (A) against the portable ones through SQLAlchemy "
                         "(B)")  # fmt: skip
                compare(urls[middle], args, title, modes, label="SQLite",
                        processes=args.sqlite_processes)  # fmt: skip


if __name__ == "__main__":
    main()
