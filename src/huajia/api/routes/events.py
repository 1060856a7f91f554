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

POLL_SECONDS = 0.05
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


def progress_event(task_id: str, step: int, total: int) -> str:
    share = round(min(1.0, step / total), 4) if total else 0.0
    return sse(
        "progress",
        {"task_id": task_id, "current_step": step, "total_steps": total, "progress": share},
    )


async def follow(request: Request, services: ServicesDep, who: Principal, first: Task
                 ) -> AsyncIterator[str]:  # fmt: skip
    """Every step from the store's progress log, queue moves, then the terminal event."""
    yield sse("status", task_status(first).model_dump(mode="json"))
    task, last_id, position, quiet_since = first, 0, None, time.monotonic()
    store = services.store
    while True:
        if not first.state.terminal:  # a late subscriber gets the terminal event at once
            for step in await run_in_threadpool(store.progress_since, task.id, last_id):
                last_id, quiet_since = step.id, time.monotonic()
                yield progress_event(task.id, step.step, step.total)
        if task.state.terminal:
            yield terminal_event(task)
            return
        if task.state is TaskState.PENDING and task.queue_position != position:
            position, quiet_since = task.queue_position, time.monotonic()
            yield sse("queued", {"task_id": task.id, "queue_position": position})
        if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)
        task = await run_in_threadpool(services.generation.get, who, first.id)


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
