"""One worker holding two tiny models: routing by model, residency (all, lru) and the bound
that keeps a model waiting to be loaded from starving. Real engines, a real SQLite store."""

from __future__ import annotations

import gc
import weakref
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from huajia.engine.checks import resolve_request
from huajia.engine.models import ModelSpec, spec_for_folder
from huajia.engine.tiny import create_tiny_model
from huajia.engine.types import GenerationRequest
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.errors import ModelFileRejected
from huajia.images.encode import read_parameters
from huajia.jobs import TaskStore
from huajia.jobs.model import NewTask, TaskState
from huajia.jobs.requests import GenerationCommand, Sampling, TaskRequest
from huajia.jobs.revisions import ModelRevision
from huajia.storage.local import LocalBlobStore
from huajia.worker.loop import Worker
from huajia.worker.revisions import ServedRevision
from huajia.worker.shelf import ModelShelf, Residency

LEASE = 30.0


@pytest.fixture(scope="module")
def second_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny model: other seeded weights, its own name."""
    return create_tiny_model(tmp_path_factory.mktemp("models") / "b", seed=1, name="tiny-b")


@pytest.fixture(scope="module")
def specs(tiny_model_dir: Path, second_model_dir: Path) -> dict[str, ModelSpec]:
    found = [spec_for_folder(tiny_model_dir), spec_for_folder(second_model_dir)]
    return {spec.name: spec for spec in found}


class Loads:
    """Loads engines for real and counts them per model."""

    def __init__(self, specs: dict[str, ModelSpec]) -> None:
        self.specs = specs
        self.count: dict[str, int] = dict.fromkeys(specs, 0)

    def load(self, name: str) -> Any:
        self.count[name] += 1
        return ZImageEngine.load(self.specs[name], EngineOptions(local_files_only=True))

    def served(self, store: TaskStore, name: str) -> ServedRevision:
        def load(_revision: ModelRevision | None) -> Any:
            return self.load(name)

        return ServedRevision(store, name, None, None, load=load)


def a_worker(store: TaskStore, loads: Loads, tmp_path: Path, residency: Residency = "all",
             switch_after: int = 4) -> Worker:  # fmt: skip
    held = [loads.served(store, name) for name in ("tiny", "tiny-b")]
    shelf = ModelShelf(held, residency, resident_models=1, switch_after=switch_after)
    shelf.load_at_start()
    return Worker(store, None, LocalBlobStore(tmp_path / "images"), "w", LEASE,
                  batch_max_images=1, shelf=shelf)  # fmt: skip


def queue(store: TaskStore, spec: ModelSpec, prompt: str = "a kite") -> str:
    request = GenerationRequest(prompt, seed=1, steps=2, width=64, height=64)
    resolved = resolve_request(spec, request)
    task_request = TaskRequest(
        asked=GenerationCommand(prompt=prompt, model=spec.name), model=spec.name,
        sampling=Sampling.of(resolved),
    )  # fmt: skip
    new = NewTask(owner="local", request=task_request, image_count=1)
    return store.create(new).id


def pixels(store: TaskStore, tmp_path: Path, task_id: str) -> tuple[np.ndarray, dict[str, Any]]:
    task = store.get(task_id)
    assert task.state is TaskState.COMPLETED, (task.state, task.error_code, task.error_message)
    data = LocalBlobStore(tmp_path / "images").get(task.images[0].key)
    return np.asarray(Image.open(BytesIO(data)).convert("RGB")), read_parameters(data)


def test_each_task_runs_on_the_model_it_names_and_both_stay_loaded(
    store: TaskStore, specs: dict[str, ModelSpec], tmp_path: Path
) -> None:
    loads = Loads(specs)
    worker = a_worker(store, loads, tmp_path, residency="all")
    on_a = queue(store, specs["tiny"])
    on_b = queue(store, specs["tiny-b"])
    again_a = queue(store, specs["tiny"], prompt="a second kite")

    assert [worker.run_once() for _ in range(3)] == [True, True, True]

    image_a, params_a = pixels(store, tmp_path, on_a)
    image_b, params_b = pixels(store, tmp_path, on_b)
    assert (params_a["model"], params_b["model"]) == ("tiny", "tiny-b")
    assert not np.array_equal(image_a, image_b), "same prompt and seed, other weights"
    assert store.get(again_a).state is TaskState.COMPLETED
    assert loads.count == {"tiny": 1, "tiny-b": 1}, "all: each loaded once, never again"
    assert worker.shelf is not None and worker.shelf.resident() == ["tiny", "tiny-b"]


def test_a_worker_claims_no_task_of_a_model_it_does_not_hold(
    store: TaskStore, specs: dict[str, ModelSpec], tmp_path: Path
) -> None:
    worker = a_worker(store, Loads(specs), tmp_path)
    other = queue(store, specs["tiny"].model_copy(update={"name": "tiny-c"}))

    assert worker.run_once() is False
    assert store.get(other).state is TaskState.PENDING


def test_lru_keeps_one_model_loaded_and_swaps_on_demand(
    store: TaskStore, specs: dict[str, ModelSpec], tmp_path: Path
) -> None:
    loads = Loads(specs)
    worker = a_worker(store, loads, tmp_path, residency="lru")
    shelf = worker.shelf
    assert shelf is not None and shelf.resident() == ["tiny"], "the default loads at start"

    first_engine = weakref.ref(shelf.served("tiny").engine)
    on_b = queue(store, specs["tiny-b"])
    assert worker.run_once()
    assert shelf.resident() == ["tiny-b"] and shelf.unloads == 1
    gc.collect()
    assert first_engine() is None, "nothing keeps the unloaded engine (its memory is freed)"
    on_a = queue(store, specs["tiny"])
    assert worker.run_once()

    assert shelf.resident() == ["tiny"]
    assert loads.count == {"tiny": 2, "tiny-b": 1}
    assert pixels(store, tmp_path, on_b)[1]["model"] == "tiny-b"
    assert pixels(store, tmp_path, on_a)[1]["model"] == "tiny"


def test_lru_prefers_the_loaded_model_but_serves_the_other_within_the_bound(
    store: TaskStore, specs: dict[str, ModelSpec], tmp_path: Path
) -> None:
    loads = Loads(specs)
    worker = a_worker(store, loads, tmp_path, residency="lru", switch_after=2)
    waiting_b = queue(store, specs["tiny-b"], prompt="queued first")  # oldest: fair order's first
    on_a = [queue(store, specs["tiny"], prompt=f"kite {n}") for n in range(4)]

    ran = []
    while worker.run_once():
        ran.append(next(task_id for task_id in [waiting_b, *on_a]
                        if store.get(task_id).state is TaskState.COMPLETED
                        and task_id not in ran))  # fmt: skip

    assert ran == [on_a[0], on_a[1], waiting_b, on_a[2], on_a[3]], "two of A, then B's turn"
    assert loads.count == {"tiny": 2, "tiny-b": 1}, "one switch there and one back, no thrash"


def test_a_model_that_fails_to_load_fails_its_tasks_and_the_worker_goes_on(
    store: TaskStore, specs: dict[str, ModelSpec], tmp_path: Path
) -> None:
    loads = Loads(specs)

    def broken(_revision: ModelRevision | None) -> Any:
        raise ModelFileRejected("/secret/models/tiny-b/transformer is damaged")

    held = [loads.served(store, "tiny"), ServedRevision(store, "tiny-b", None, None, broken)]
    shelf = ModelShelf(held, "lru", resident_models=1)
    shelf.load_at_start()
    worker = Worker(store, None, LocalBlobStore(tmp_path / "images"), "w", LEASE, shelf=shelf)
    doomed = queue(store, specs["tiny-b"])
    fine = queue(store, specs["tiny"])

    assert worker.run_once() and worker.run_once()

    failed = store.get(doomed)
    assert (failed.state, failed.error_code) == (TaskState.FAILED, "model_load_failed")
    assert "tiny-b" in (failed.error_message or "")
    assert "/secret" not in (failed.error_message or ""), "no server paths for clients"
    assert store.get(fine).state is TaskState.COMPLETED
