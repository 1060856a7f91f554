"""Limits hold under parallel submits, on SQLite and PostgreSQL, through the real service.

Before, the pending count and the insert were separate steps: with queue_max = 5, 60
parallel submits were accepted 21 times.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import SecretStr

from huajia.api.deps import Services
from huajia.auth.keys import Principal, Role
from huajia.composition import build_services
from huajia.errors import LimitReached, QueueFull, QuotaExceeded
from huajia.jobs.requests import GenerationCommand
from huajia.settings import Settings

PARALLEL = 24
ATTEMPTS = 60


def services_with(tiny_model_dir: Path, tmp_path: Path, store_url: str,
                  **limits: int) -> Iterator[Services]:  # fmt: skip
    settings = Settings(
        data_dir=tmp_path, model=str(tiny_model_dir), store_url=SecretStr(store_url),
        **limits,  # type: ignore[arg-type]
    )  # fmt: skip
    built = build_services(settings)
    yield built
    built.store.close()


def submit_in_parallel(services: Services, who: list[Principal]) -> list[str | LimitReached]:
    def one(index: int) -> str | LimitReached:
        body = GenerationCommand(prompt=f"a lantern number {index}", num_images=1)
        try:
            return services.generation.submit(who[index % len(who)], body, None).task.id
        except LimitReached as refused:
            return refused

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(ATTEMPTS)))


def test_the_queue_limit_is_exact_under_parallel_submits(
    tiny_model_dir: Path, tmp_path: Path, store_url: str
) -> None:
    for services in services_with(tiny_model_dir, tmp_path, store_url, queue_max=5):
        editors = [Principal(f"k-{n}", f"editor {n}", Role.EDITOR) for n in range(6)]
        outcomes = submit_in_parallel(services, editors)
        accepted = [item for item in outcomes if isinstance(item, str)]
        refused = [item for item in outcomes if not isinstance(item, str)]
        assert len(accepted) == 5, f"{len(accepted)} accepted with queue_max = 5"
        assert all(isinstance(item, QueueFull) and item.retry_after > 0 for item in refused)
        assert services.store.pending_count() == 5


def test_the_daily_quota_is_exact_under_parallel_submits(
    tiny_model_dir: Path, tmp_path: Path, store_url: str
) -> None:
    for services in services_with(
        tiny_model_dir, tmp_path, store_url, daily_image_quota=3, queue_max=1000
    ):
        editor = Principal("k-editor", "alice", Role.EDITOR)
        outcomes = submit_in_parallel(services, [editor])
        accepted = [item for item in outcomes if isinstance(item, str)]
        assert len(accepted) == 3, f"{len(accepted)} images accepted with a quota of 3"
        assert all(isinstance(item, QuotaExceeded) for item in outcomes if item not in accepted)
