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

from huajia.jobs.store import TaskStore

GENERATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


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


def _histogram(durations: list[float]) -> HistogramMetricFamily:
    buckets = [
        (str(bound), sum(1 for d in durations if d <= bound)) for bound in GENERATION_BUCKETS
    ]
    buckets.append(("+Inf", len(durations)))
    return HistogramMetricFamily(
        "huajia_generation_seconds",
        "Seconds from claim to completion of completed tasks",
        buckets=buckets,
        sum_value=sum(durations),
    )


def render_metrics(store: TaskStore) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(registry), CONTENT_TYPE_LATEST
