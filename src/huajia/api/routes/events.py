"""GET /api/v1/tasks/{id}/events: Server-Sent Events from queue to terminal state."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.presenters import task_result, task_status
from huajia.auth.keys import Principal
from huajia.jobs.model import Task, TaskState

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)

POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 15.0


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n"


def terminal_event(task: Task) -> str:
    if task.state is TaskState.COMPLETED:
        return sse("completed", task_result(task).model_dump(mode="json"))
    if task.state is TaskState.FAILED:
        status = task_status(task)
        error = status.error.model_dump() if status.error else None
        return sse("failed", {"task_id": task.id, "error": error})
    return sse("canceled", {"task_id": task.id})


class TaskFollower:
    """Turns successive snapshots of one task into the events a client has not seen yet."""

    def __init__(self) -> None:
        self.position: int | None = None
        self.step = -1
        self.state: TaskState | None = None

    def events(self, task: Task) -> list[str]:
        out: list[str] = []
        if task.state is TaskState.PENDING and task.queue_position != self.position:
            self.position = task.queue_position
            out.append(sse("queued", {"task_id": task.id, "queue_position": task.queue_position}))
        if task.state is TaskState.PROCESSING and (
            task.progress_step != self.step or self.state is not TaskState.PROCESSING
        ):
            self.step = task.progress_step
            status = task_status(task)
            out.append(sse("progress", {
                "task_id": task.id, "current_step": status.current_step,
                "total_steps": status.total_steps, "progress": status.progress,
            }))  # fmt: skip
        self.state = task.state
        return out


async def follow(request: Request, services: ServicesDep, who: Principal, first: Task
                 ) -> AsyncIterator[str]:  # fmt: skip
    yield sse("status", task_status(first).model_dump(mode="json"))
    follower, task, quiet_since = TaskFollower(), first, time.monotonic()
    while not task.state.is_terminal:
        for event in follower.events(task):
            quiet_since = time.monotonic()
            yield event
        if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)
        task = await run_in_threadpool(services.generation.get, who, first.id)
    yield terminal_event(task)


@router.get(
    "/{task_id}/events",
    operation_id="streamTaskEvents",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream"}},
)
async def task_events(
    task_id: str, request: Request, who: PrincipalDep, services: ServicesDep
) -> StreamingResponse:
    """status, queued, progress per step, then one of completed / failed / canceled."""
    first = await run_in_threadpool(services.generation.get, who, task_id)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        follow(request, services, who, first), media_type="text/event-stream", headers=headers
    )
