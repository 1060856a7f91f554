"""Submitting to one of several served models: the default, by name or folder, and refusals
for a model not served or held by no live worker (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from huajia.api.deps import Services
from huajia.api.metrics import render_metrics
from huajia.api.routes.meta import health_of, list_models
from huajia.auth.keys import Principal
from huajia.composition import build_services
from huajia.engine.tiny import create_tiny_model
from huajia.errors import InvalidRequest, ModelNotAvailable
from huajia.jobs.model import Role
from huajia.jobs.requests import GenerationCommand
from huajia.settings import Settings

EDITOR = Principal("k-editor", "alice", Role.EDITOR)


@pytest.fixture(scope="module")
def second_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_tiny_model(tmp_path_factory.mktemp("models") / "b", seed=1, name="tiny-b")


@pytest.fixture
def services(tiny_model_dir: Path, second_model_dir: Path, tmp_path: Path, store_url: str
             ) -> Iterator[Services]:  # fmt: skip
    settings = Settings(data_dir=tmp_path, models=[str(tiny_model_dir), str(second_model_dir)],
                        database_url=SecretStr(store_url))  # fmt: skip
    built = build_services(settings)
    yield built
    built.store.close()


def submit(services: Services, model: str | None = None) -> str:
    command = GenerationCommand(prompt="a kite", width=64, height=64, steps=2, model=model)
    return services.generation.submit(EDITOR, command, None).task.request.model


def test_requests_choose_a_served_model_and_the_first_is_the_default(
    services: Services, second_model_dir: Path
) -> None:
    assert submit(services) == "tiny"
    assert submit(services, "tiny-b") == "tiny-b"
    assert submit(services, str(second_model_dir)) == "tiny-b", "by its folder, as configured"
    revisions = {name: services.store.revisions.current(name) for name in ("tiny", "tiny-b")}
    assert all(revision is not None for revision in revisions.values()), "each one pinned"


def test_a_model_not_served_or_held_by_no_live_worker_is_refused_at_submit(
    services: Services,
) -> None:
    with pytest.raises(ModelNotAvailable, match=r"'sdxl' is not served here.*tiny, tiny-b"):
        submit(services, "sdxl")
    services.store.report_worker("w1", "tiny", "ready", {})  # holds only the default

    with pytest.raises(
        ModelNotAvailable, match=r"no worker holds model 'tiny-b'.*available: tiny$"
    ):
        submit(services, "tiny-b")
    assert submit(services, "tiny") == "tiny"
    assert services.store.pending_count() == 1, "nothing queued for the refused requests"
    assert ModelNotAvailable.code == "model_not_available" and ModelNotAvailable.status == 422


def test_models_health_and_metrics_show_each_model(services: Services) -> None:
    submit(services, "tiny-b")
    engine = {"models": {"tiny": {"resident": False}, "tiny-b": {"resident": True}}}
    services.store.report_worker("w1", "tiny", "ready", engine, models=["tiny", "tiny-b"])

    listed = list_models(EDITOR, services)
    health = health_of(services)
    metrics = render_metrics(services.store)[0].decode()

    assert listed["default"] == "tiny"
    assert [(m["name"], m["available"], m["loaded"]) for m in listed["models"]] == [
        ("tiny", True, False), ("tiny-b", True, True),
    ]  # fmt: skip
    assert [(m.name, m.default, m.workers, m.loaded_on, m.pending) for m in health.models] == [
        ("tiny", True, 1, 0, 0), ("tiny-b", False, 1, 1, 1),
    ]  # fmt: skip
    assert 'huajia_model_workers{model="tiny-b",state="loaded"} 1.0' in metrics
    assert 'huajia_model_workers{model="tiny",state="loaded"} 0.0' in metrics
    assert 'huajia_model_queue_depth{model="tiny-b"} 1.0' in metrics


def test_two_served_models_of_one_name_are_refused_at_start(tiny_model_dir: Path) -> None:
    settings = Settings(models=[str(tiny_model_dir), str(tiny_model_dir)])
    with pytest.raises(InvalidRequest, match=r"named alike: tiny.*--name"):
        settings.served_specs()


def test_the_one_model_setting_stays_the_shorthand(tiny_model_dir: Path) -> None:
    assert Settings(model=str(tiny_model_dir)).served_models() == [str(tiny_model_dir)]
    assert Settings(model="x", models=["a", "b"]).served_models() == ["a", "b"]
