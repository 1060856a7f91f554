"""Daily image quotas per editor key, through the real service and a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from huajia.api.deps import Services
from huajia.auth.keys import Principal, Role
from huajia.composition import build_services
from huajia.errors import QuotaExceeded
from huajia.jobs.requests import GenerationCommand
from huajia.settings import Settings

EDITOR = Principal(key_id="k-editor", name="alice", role=Role.EDITOR)
OTHER = Principal(key_id="k-other", name="bob", role=Role.EDITOR)
ADMIN = Principal(key_id="k-admin", name="ops", role=Role.ADMIN)


@pytest.fixture
def services(tiny_model_dir: Path, tmp_path: Path) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path, model=str(tiny_model_dir), daily_image_quota=3)
    built = build_services(settings)
    yield built
    built.store.close()


def ask(services: Services, who: Principal, n: int, seed: int | None = None) -> str:
    body = GenerationCommand(prompt="a lantern", num_images=n, seed=seed)
    return services.generation.submit(who, body, None).task.id


def test_an_editor_key_may_request_so_many_images_a_day(services: Services) -> None:
    ask(services, EDITOR, 2)
    with pytest.raises(QuotaExceeded, match="2 of its 3 images") as refused:
        ask(services, EDITOR, 2)
    assert refused.value.status == 429 and refused.value.retry_after > 0
    ask(services, EDITOR, 1)
    ask(services, OTHER, 3)  # each key has its own quota
    ask(services, ADMIN, 9)  # admins are not limited


def test_canceled_work_gives_its_images_back(services: Services) -> None:
    task = ask(services, EDITOR, 3)
    with pytest.raises(QuotaExceeded):
        ask(services, EDITOR, 1)
    services.generation.cancel(EDITOR, task)
    ask(services, EDITOR, 3)
