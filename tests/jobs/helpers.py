"""Small builders shared by the task store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from huajia.jobs import TaskStore
from huajia.jobs.model import NewImage, NewTask, Priority, Task
from huajia.jobs.requests import GenerationCommand, Sampling, TaskRequest

LEASE = 30.0


def a_task(
    owner: str = "alice", prompt: str = "a red kite over the sea", **changes: Any
) -> NewTask:
    asked = GenerationCommand(prompt=prompt, steps=8, width=512, height=512,
                              style_preset=changes.pop("preset", None))  # fmt: skip
    sampling = Sampling(prompt=prompt, negative_prompt="", n=1, steps=8, guidance=0.0,
                        width=512, height=512, seeds=(1234,))  # fmt: skip
    model = changes.pop("model", "z-image-turbo")
    request = TaskRequest(asked=asked, model=model, sampling=sampling)
    priority = changes.pop("priority", Priority.NORMAL)
    return NewTask(owner=owner, request=request, priority=priority, **changes)


def an_image(index: int = 0, key: str | None = None) -> NewImage:
    return NewImage(
        index=index, key=key or f"2025/11/25/img-{index}.png", thumbnail_key=None,
        format="png", content_type="image/png", width=512, height=512, seed=1234 + index,
        size_bytes=1000 + index,
    )  # fmt: skip


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def run_to_completion(store: TaskStore, new: NewTask, images: int = 1) -> Task:
    """Create a task and have a worker claim and complete it (nothing else may be pending)."""
    created = store.create(new)
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None
    assert claimed.id == created.id
    keys = [an_image(i, f"{created.id}/{i}.png") for i in range(images)]
    return store.complete(created.id, "worker-1", claimed.attempts, keys)


def claim_all(store: TaskStore, worker: str = "worker-1") -> list[Task]:
    claimed = []
    while (task := store.claim(worker, LEASE)) is not None:
        claimed.append(task)
    return claimed
