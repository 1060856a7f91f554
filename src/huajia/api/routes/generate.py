"""POST /api/v1/generate: accept a task and answer 202 with its place in the queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.concurrency import run_in_threadpool

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.schemas import GenerateRequest, TaskAccepted, Text
from huajia.logs import current_request_id

router = APIRouter(prefix="/api/v1", tags=["generate"])


@router.post(
    "/generate",
    operation_id="generate",
    status_code=202,
    response_model=TaskAccepted,
    responses={
        **ERROR_RESPONSES,
        202: {
            "description": "Queued (or answered from the cache); follow Location",
            "headers": {
                "Location": {
                    "description": "The task's status URL",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        },
    },
)
async def generate(
    body: GenerateRequest,
    who: PrincipalDep,
    services: ServicesDep,
    response: Response,
    idempotency_key: Annotated[Text | None, Header(min_length=1, max_length=200)] = None,
) -> TaskAccepted:
    """Queue a generation task. The same Idempotency-Key returns the same task."""
    submitted = await run_in_threadpool(
        services.generation.submit, who, body.to_command(), idempotency_key, current_request_id()
    )
    task = submitted.task
    url = f"/api/v1/tasks/{task.id}/status"
    response.headers["Location"] = url
    message = "accepted" if submitted.created else "already accepted (same Idempotency-Key)"
    if task.state.value == "completed":
        message = "completed from the result cache (same seed and parameters)"
    return TaskAccepted(
        task_id=task.id,
        status=task.state.value,
        message=message,
        check_status_url=url,
        queue_position=task.queue_position,
    )
