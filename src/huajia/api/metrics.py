"""Prometheus metrics read from the task store at scrape time.

The store is the single source of truth, so every API process behind a load balancer reports
the same figures, and nothing is lost when a process restarts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from huajia.api.model_state import has_loaded, holds
from huajia.jobs.store import TaskStore


class StoreCollector:
    def __init__(self, store: TaskStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        stats: dict[str, Any] = self._store.stats()
        by_state = GaugeMetricFamily("huajia_tasks", "Tasks by state", labels=["state"])
        for state, count in stats["by_state"].items():
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily("huajia_queue_depth", "Pending tasks", value=stats["pending"])
        yield CounterMetricFamily(
            "huajia_images_generated", "Images generated", value=stats["images_total"]
        )
        errors = CounterMetricFamily("huajia_task_errors", "Failed tasks by code", labels=["code"])
        for code, count in stats["errors_by_code"].items():
            errors.add_metric([code], count)
        yield errors
        yield _histogram(stats["generation_seconds"])
        yield from _per_model(stats["pending_by_model"], self._store.live_workers())


def _per_model(pending: dict[str, int], workers: list[dict[str, Any]]) -> Iterator[Metric]:
    """Per model: tasks waiting, live workers holding it, ready workers with it loaded."""
    depth = GaugeMetricFamily(
        "huajia_model_queue_depth", "Pending tasks by model", labels=["model"]
    )
    for model, count in sorted(pending.items()):
        depth.add_metric([model], count)
    yield depth
    names = sorted({name for worker in workers for name in worker.get("models", [])})
    holding = GaugeMetricFamily(
        "huajia_model_workers", "Live workers by model held and loaded", labels=["model", "state"]
    )
    for name in names:
        holding.add_metric([name, "held"], sum(holds(worker, name) for worker in workers))
        holding.add_metric([name, "loaded"], sum(has_loaded(worker, name) for worker in workers))
    yield holding


def _histogram(run_times: dict[str, Any]) -> HistogramMetricFamily:
    buckets = [(str(bound), count) for bound, count in run_times["buckets"].items()]
    buckets.append(("+Inf", run_times["count"]))
    return HistogramMetricFamily(
        "huajia_generation_seconds",
        "Seconds from claim to completion of completed tasks",
        buckets=buckets,
        sum_value=run_times["sum"],
    )


def render_metrics(store: TaskStore) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(registry), CONTENT_TYPE_LATEST
