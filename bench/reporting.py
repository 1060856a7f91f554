"""Step time with progress reporting on and off, in the same run, on the tiny model.

    python bench/reporting.py [--runs 10] [--steps 8] [--batch 4] [--postgres URL]

Interleaved (A, B, C, A, B, C ...) so a busy machine moves every variant alike:
  off       the pipeline with no step callback work at all;
  reporter  the step callback records in memory, the worker's reporter thread writes the
            steps and renews the leases, batched (what the worker does now);
  inline    a heartbeat (one database write per task) inside every step (what it did before).
Prints the median seconds per step and each variant's cost over `off`. Never fails on time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.jobs.helpers import a_task

from huajia.engine.models import spec_for_folder
from huajia.engine.tiny import create_tiny_model
from huajia.engine.types import BatchItem, GenerationRequest
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.jobs import TaskStore, open_store
from huajia.worker.reporter import Lease, Reporter

LEASE = 30.0


def claimed(store: TaskStore, count: int) -> list[Lease]:
    for _ in range(count):
        store.create(a_task(batch_key="bench"))
    return [Lease(task, "bench") for task in store.claim_batch("bench", LEASE, count)]


def run(engine: ZImageEngine, store: TaskStore, args: argparse.Namespace, mode: str) -> float:
    """Seconds per step of one batch in `mode`."""
    asked = GenerationRequest("a lighthouse", steps=args.steps, width=args.size,
                              height=args.size, seed=1)  # fmt: skip
    request = engine.resolve(asked)
    leases = claimed(store, args.batch)
    reporter = Reporter(store, LEASE)
    progress: list[Callable[[int, int], None] | None] = [None] * args.batch
    if mode == "reporter":
        reporter.watch(leases)
        progress = [lease.record for lease in leases]
    elif mode == "inline":
        progress = [inline(store, lease) for lease in leases]
    t0 = time.perf_counter()
    engine.generate_batch([BatchItem(request, report) for report in progress])
    seconds = time.perf_counter() - t0
    reporter.flush(leases)
    reporter.unwatch(leases)
    for lease in leases:
        store.fail(*lease.held, "bench", "bench")
    steps: int = args.steps
    return seconds / steps


def inline(store: TaskStore, lease: Lease) -> Callable[[int, int], None]:
    def beat(step: int, total: int) -> None:
        store.heartbeat(*lease.held, step, total, LEASE)

    return beat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--postgres", help="a PostgreSQL URL instead of a SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model = create_tiny_model(Path(folder) / "tiny")
        engine = ZImageEngine.load(spec_for_folder(model), EngineOptions(local_files_only=True))
        store = open_store(args.postgres or f"sqlite:///{folder}/bench.db")
        modes = ("off", "reporter", "inline")
        for mode in modes:  # warm-up
            run(engine, store, args, mode)
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        for _ in range(args.runs):
            for mode in modes:
                times[mode].append(run(engine, store, args, mode))
        store.close()
    base = statistics.median(times["off"])
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"tiny model, {args.size}px, batch of {args.batch}, {args.steps} steps, "
          f"{args.runs} interleaved runs, {database}")  # fmt: skip
    for mode in modes:
        median = statistics.median(times[mode])
        print(f"  {mode:9} {median * 1000:8.2f} ms/step   {(median - base) * 1000:+7.2f} ms "
              f"({median / base:.2f}x off)")  # fmt: skip


if __name__ == "__main__":
    main()
