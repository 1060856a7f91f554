"""What the service costs on top of the engine, on the tiny model. Prints figures, never fails.

    python bench/service_overhead.py --model huajia-data/models/tiny [--tasks 30]

Figures: start-up time to ready; per-task overhead (submit → SSE terminal event → image bytes,
minus the engine's own time for the same request, run in this process interleaved with the
service runs, A, B, A, B, so a busy machine moves both alike; and minus each task's own engine
call as the worker logged it, `engine_seconds`, which stays meaningful on a machine so busy
that A and B no longer move alike); status-poll latency p50/p99
while the worker is busy; tasks per second with compatible tasks batched, against a server
that runs them one by one; the API process's RSS.

Then an API-only server and a worker run in this process (the same code `huajia worker` runs,
presence and revision checks included) give what one clock must see: how long after its
denoising step the first `progress` event reaches an SSE client, where the rest of a task's
time goes (engine end → completed stored → SSE `completed` → bytes), and the statements an
idle worker sends its database per second (counted by SQLAlchemy's `before_cursor_execute`,
SQLite's BEGIN included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.push_latency import measure, report
from tests.e2e.flows import read_events, submit, wait_for
from tests.support.server import ServerProcess, free_port, server_env

REQUEST = {"width": 128, "height": 128, "steps": 4, "num_images": 1}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def load_engine(model: Path) -> Any:
    """The engine the worker runs, loaded in this process for the baseline."""
    from huajia.engine.models import spec_for_folder
    from huajia.engine.types import GenerationRequest
    from huajia.engine.zimage import EngineOptions, ZImageEngine

    engine = ZImageEngine.load(spec_for_folder(model), EngineOptions(local_files_only=True))
    engine.generate(GenerationRequest("warm-up", n=1, steps=4, width=128, height=128))
    return engine


def engine_once(engine: Any, i: int) -> float:
    """Seconds of the engine alone for REQUEST."""
    from huajia.engine.types import GenerationRequest

    request = GenerationRequest(f"a lighthouse {i}", n=1, steps=4, width=128, height=128)
    t0 = time.perf_counter()
    engine.generate(request)
    return time.perf_counter() - t0


def interleaved(engine: Any, client: httpx.Client, runs: int
                ) -> tuple[list[float], list[float], list[str]]:  # fmt: skip
    """Engine alone (A) and the whole service (B), one after the other, `runs` times; and the
    ids of B's tasks."""
    alone, service, ids = [], [], []
    for i in range(runs):
        alone.append(engine_once(engine, i))
        seconds, task_id = one_end_to_end(client, f"interleaved {i}")
        service.append(seconds)
        ids.append(task_id)
    return alone, service, ids


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def end_to_end(client: httpx.Client, runs: int, prompt: str = "a lighthouse") -> list[float]:
    return [one_end_to_end(client, f"{prompt} {i}")[0] for i in range(runs)]


def one_end_to_end(client: httpx.Client, prompt: str) -> tuple[float, str]:
    """Seconds from submit to the bytes fetched, and the task's id."""
    t0 = time.perf_counter()
    task = submit(client, prompt=prompt, **REQUEST)
    events = read_events(client, task["task_id"])
    for url in events[-1][1]["image_urls"]:
        client.get(url).raise_for_status()
    return time.perf_counter() - t0, str(task["task_id"])


def poll_latency(client: httpx.Client, polls: int) -> list[float]:
    busy = submit(client, prompt="busy", width=256, height=256, steps=50, num_images=4)
    wait_for(client, busy["task_id"], {"processing"})
    latencies = []
    for _ in range(polls):
        t0 = time.perf_counter()
        client.get(f"/api/v1/tasks/{busy['task_id']}/status").raise_for_status()
        latencies.append(time.perf_counter() - t0)
    client.post(f"/api/v1/tasks/{busy['task_id']}/cancel")
    wait_for(client, busy["task_id"], {"canceled", "completed"})
    return latencies


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().split()
    return (int(fields[13]) + int(fields[14])) / 100


def sse_fan_out(client: httpx.Client, pid: int, followers: int, seconds: float = 4.0) -> float:
    """Share of one core the API process spends while `followers` watch one busy task."""
    busy = submit(client, prompt="watched", width=512, height=512, steps=50, num_images=2)
    wait_for(client, busy["task_id"], {"processing"})
    done = threading.Event()

    def follow() -> None:
        with (
            httpx.Client(base_url=str(client.base_url), timeout=60) as own,
            own.stream("GET", f"/api/v1/tasks/{busy['task_id']}/events") as stream,
        ):
            for _line in stream.iter_lines():
                if done.is_set():
                    return

    threads = [threading.Thread(target=follow, daemon=True) for _ in range(followers)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    before, t0 = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    share = (cpu_seconds(pid) - before) / (time.perf_counter() - t0)
    done.set()
    client.post(f"/api/v1/tasks/{busy['task_id']}/cancel")
    wait_for(client, busy["task_id"], {"canceled", "completed"})
    return share


def throughput(client: httpx.Client, count: int) -> float:
    t0 = time.perf_counter()
    ids = [submit(client, prompt=f"tile {i}", **REQUEST)["task_id"] for i in range(count)]
    for task_id in ids:
        wait_for(client, task_id, {"completed"}, timeout=300)
    return count / (time.perf_counter() - t0)


def unbatched_throughput(model: Path, count: int) -> float:
    """The same throughput run on a server that never batches: the baseline for batching."""
    with tempfile.TemporaryDirectory() as data:
        env = server_env({"HUAJIA_BATCH_MAX_IMAGES": "1"})
        server = ServerProcess(Path(data), model, free_port(), env).start()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                return throughput(client, count)
        finally:
            server.stop()


def worker_times(server: ServerProcess) -> dict[str, tuple[float, float]]:
    """Per task, from the worker child's log: (claim to completed stored, its engine call)."""
    times = {}
    for record in server.log_records():
        if "engine_seconds" in record and "task_id" in record:
            times[str(record["task_id"])] = (float(record["seconds"]),
                                             float(record["engine_seconds"]))  # fmt: skip
    return times


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20, help="interleaved A,B pairs")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument(
        "--postgres-url",
        help="also run the one-clock figures on PostgreSQL "
        "(an empty database or schema; e.g. postgresql+psycopg://u@host/db)",
    )
    args = parser.parse_args()
    print(f"load average before: {load_average()} on {os.cpu_count()} cores")
    engine = load_engine(args.model)
    with tempfile.TemporaryDirectory() as data:
        server = ServerProcess(Path(data), args.model, free_port(), server_env())
        t0 = time.perf_counter()
        server.start()
        startup = time.perf_counter() - t0
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                end_to_end(client, runs=2, prompt="warm-up")
                alone, service, ids = interleaved(engine, client, args.runs)
                logged = worker_times(server)
                worker_own = [logged[task_id] for task_id in ids if task_id in logged]
                polls = poll_latency(client, polls=200)
                rate = throughput(client, args.tasks)
                pid = server.process.pid if server.process else 0
                api_rss = rss_mib(pid)
                fan_out = {n: sse_fan_out(client, pid, n) for n in (1, 40)}
        finally:
            server.stop()
    one_by_one = unbatched_throughput(args.model, args.tasks)
    one_clock = {}
    for name, url in (("SQLite", None), ("PostgreSQL", args.postgres_url)):
        if name == "SQLite" or url:
            with tempfile.TemporaryDirectory() as data:
                one_clock[name] = measure(args.model, engine, Path(data), args.runs,
                                          args.idle_seconds, url)  # fmt: skip
    print_overhead(alone, service)
    if len(worker_own) == len(service):
        own = statistics.median(seconds for seconds, _ in worker_own) * 1000
        outside = statistics.median(b - w for b, (w, _) in zip(service, worker_own, strict=True))
        minus_engine = statistics.median(
            b - e for b, (_, e) in zip(service, worker_own, strict=True)
        )
        print(f"worker child's own time per task (log)  {own:8.1f} ms (claim to completed stored)")
        print(f"B minus the worker's own time           {outside * 1000:8.1f} ms median (submit, "
              "claim, SSE, fetch)")  # fmt: skip
        print(f"B minus its own engine call (log)       {minus_engine * 1000:8.1f} ms median "
              "(the service's share of each task; steady under load)")  # fmt: skip
    print(
        f"status poll while busy  p50 / p99       {percentile(polls, 0.5) * 1000:6.1f} / "
        f"{percentile(polls, 0.99) * 1000:6.1f} ms"
    )
    print(
        f"tasks per second ({args.tasks} tasks, 1 worker)  {rate:8.2f} batched, "
        f"{one_by_one:.2f} one by one ({rate / one_by_one:.2f}x)"
    )
    print(f"start-up to ready (model loaded)        {startup:8.2f} s")
    print(f"API process memory (RSS)                {api_rss:8.1f} MiB")
    print(
        f"API CPU, SSE followers of a busy task   {fan_out[1] * 100:5.1f}% of a core with 1, "
        f"{fan_out[40] * 100:.1f}% with 40"
    )
    for name, (stages, idle_rate, kinds) in one_clock.items():
        print(f"worker in this process, API-only server, {name} (one clock):")
        report(stages, idle_rate, kinds, args.idle_seconds)
    print(f"load average after: {load_average()}")


def print_overhead(alone: list[float], service: list[float]) -> None:
    engine_ms, service_ms = statistics.median(alone) * 1000, statistics.median(service) * 1000
    paired = statistics.median(b - a for a, b in zip(alone, service, strict=True)) * 1000
    print(f"engine alone (A, interleaved)           {engine_ms:8.1f} ms (median of {len(alone)})")
    print(f"submit -> SSE completed -> bytes (B)    {service_ms:8.1f} ms")
    print(
        f"service overhead per task               {paired:8.1f} ms median of B-A pairs "
        f"({service_ms / engine_ms:.2f}x the engine's time; medians differ by "
        f"{service_ms - engine_ms:.1f} ms)"
    )


if __name__ == "__main__":
    main()
