"""One worker holding two tiny models, one of them reloaded: only that model loads anew, its
tasks pinned to the old revision finish on it first, and the reload is taken up while the
other model's queue keeps the worker busy. Real engines, a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from huajia.engine.checks import resolve_request
from huajia.engine.models import ModelSpec, spec_for_folder
from huajia.engine.tiny import create_tiny_model
from huajia.engine.types import GenerationRequest
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.jobs import TaskStore
from huajia.jobs.model import NewTask, TaskState
from huajia.jobs.requests import GenerationCommand, Sampling, TaskRequest
from huajia.jobs.revisions import ModelRevision
from huajia.storage.local import LocalBlobStore
from huajia.worker.loop import Worker
from huajia.worker.revisions import ServedRevision
from huajia.worker.shelf import ModelShelf

LEASE = 30.0


@pytest.fixture(scope="module")
def specs(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelSpec]:
    second = create_tiny_model(tmp_path_factory.mktemp("models") / "b", seed=1, name="tiny-b")
    found = [spec_for_folder(tiny_model_dir), spec_for_folder(second)]
    return {spec.name: spec for spec in found}


def revision(store: TaskStore, model: str, weights_id: str) -> ModelRevision:
    """A revision as a reload records it (its own weights identity: a load is needed)."""
    return store.revisions.add(model, f"{model}-files", None, weights_id, "reload", "admin")


def queue(store: TaskStore, spec: ModelSpec, pinned: ModelRevision, prompt: str) -> str:
    request = GenerationRequest(prompt, seed=1, steps=2, width=64, height=64)
    task_request = TaskRequest(
        asked=GenerationCommand(prompt=prompt, model=spec.name), model=spec.name,
        sampling=Sampling.of(resolve_request(spec, request)),
    )  # fmt: skip
    new = NewTask(owner="local", request=task_request, image_count=1, model_revision=pinned.id)
    return store.create(new).id


def test_a_reload_of_one_model_loads_only_that_model_while_the_other_is_busy(
    store: TaskStore, specs: dict[str, ModelSpec], tmp_path: Path
) -> None:
    loaded: list[tuple[str, int | None]] = []

    def served(name: str, held: ModelRevision) -> ServedRevision:
        def load(at: ModelRevision | None) -> Any:
            loaded.append((name, at.id if at else None))
            return ZImageEngine.load(specs[name], EngineOptions(local_files_only=True))

        return ServedRevision(store, name, held, None, load=load)

    first_a, first_b = revision(store, "tiny", "a1"), revision(store, "tiny-b", "b1")
    shelf = ModelShelf([served("tiny", first_a), served("tiny-b", first_b)], "all")
    shelf.load_at_start()
    worker = Worker(store, None, LocalBlobStore(tmp_path / "images"), "w", LEASE,
                    batch_max_images=1, shelf=shelf)  # fmt: skip
    on_a = [queue(store, specs["tiny"], first_a, f"kite {n}") for n in range(3)]
    old_b = queue(store, specs["tiny-b"], first_b, "before the reload")
    reloaded = revision(store, "tiny-b", "b2")  # what `reload` with model tiny-b records
    new_b = queue(store, specs["tiny-b"], reloaded, "after the reload")
    loaded.clear()

    assert worker.run_once()  # the task pinned to the old revision of tiny-b comes first
    assert store.get(old_b).state is TaskState.COMPLETED
    assert shelf.served("tiny-b").revision_id == first_b.id and loaded == []

    assert worker.run_once()  # nothing of the old one waits: tiny-b moves, tiny works on
    assert shelf.served("tiny-b").revision_id == reloaded.id
    assert loaded == [("tiny-b", reloaded.id)], "only the reloaded model loads anew"
    assert [store.get(task).state for task in on_a].count(TaskState.PENDING) == 2, (
        "the reload was taken up while tiny's queue kept the worker busy"
    )

    while worker.run_once():
        pass
    assert store.get(new_b).state is TaskState.COMPLETED
    assert store.get(new_b).request.model == "tiny-b"
    assert all(store.get(task).state is TaskState.COMPLETED for task in on_a)
    assert shelf.served("tiny").revision_id == first_a.id
    assert loaded == [("tiny-b", reloaded.id)], "tiny was never reloaded"
