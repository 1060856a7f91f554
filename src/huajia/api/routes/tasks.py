"""Task status, result, record, list and cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.presenters import task_record, task_result, task_status
from huajia.api.schemas import (
    TaskPage,
    TaskRecord,
    TaskResult,
    TaskStatus,
    TaskStatusName,
    Text,
)
from huajia.errors import Forbidden, InvalidRequest, TaskNotCompleted
from huajia.jobs.model import TaskState

MAX_OFFSET = 10_000_000


def as_utc(moment: datetime | None, name: str) -> datetime | None:
    """Times without an offset are UTC; times that cannot be placed in UTC are refused."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(f"{name} is out of range") from None


router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)


@router.get("/{task_id}/status", operation_id="getTaskStatus", response_model=TaskStatus)
async def get_status(task_id: str, who: PrincipalDep, services: ServicesDep) -> TaskStatus:
    """State, progress and queue position of one task."""
    task = await run_in_threadpool(services.generation.get, who, task_id)
    return task_status(task)


@router.get("/{task_id}/result", operation_id="getTaskResult", response_model=TaskResult)
async def get_result(task_id: str, who: PrincipalDep, services: ServicesDep) -> TaskResult:
    """The images of a completed task; 409 task_not_completed before that."""
    task = await run_in_threadpool(services.generation.get, who, task_id)
    if task.state is not TaskState.COMPLETED:
        detail = f" ({task.error_message})" if task.error_message else ""
        raise TaskNotCompleted(f"task {task_id} is {task.state.value}, not completed{detail}")
    return task_result(task)


@router.delete("/{task_id}", operation_id="deleteTask", status_code=204)
async def delete_task(task_id: str, who: PrincipalDep, services: ServicesDep) -> Response:
    """Delete one of the caller's tasks (admins: anyone's) with its images, bytes and cache
    entry, for good; a running task is canceled first. Deleting it again answers 404."""
    await run_in_threadpool(services.purger.delete_task, who, task_id)
    return Response(status_code=204)


@router.get("/{task_id}", operation_id="getTask", response_model=TaskRecord)
async def get_task(task_id: str, who: PrincipalDep, services: ServicesDep) -> TaskRecord:
    """The whole task record."""
    task = await run_in_threadpool(services.generation.get, who, task_id)
    return task_record(task)


@router.post("/{task_id}/cancel", operation_id="cancelTask", response_model=TaskStatus)
async def cancel_task(task_id: str, who: PrincipalDep, services: ServicesDep) -> TaskStatus:
    """Cancel a pending or running task; canceling a finished one changes nothing."""
    task = await run_in_threadpool(services.generation.cancel, who, task_id)
    return task_status(task)


@router.get("", operation_id="listTasks", response_model=TaskPage)
async def list_tasks(
    who: PrincipalDep,
    services: ServicesDep,
    status: Annotated[list[TaskStatusName] | None, Query()] = None,
    owner: Annotated[Text | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; UTC if no offset")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; UTC if no offset")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> TaskPage:
    """Tasks, newest first: editors see their own, admins everyone's (filter by owner)."""
    if not who.is_admin:
        if owner not in (None, who.key_id):
            raise Forbidden("an editor key may only list its own tasks")
        owner = who.key_id
    states = [TaskState(name) for name in status] if status else None
    since, until = as_utc(since, "since"), as_utc(until, "until")
    tasks, total = await run_in_threadpool(
        services.store.list, owner, states, since, until, limit, offset
    )
    return TaskPage(
        tasks=[task_record(task) for task in tasks], total=total, limit=limit, offset=offset
    )
