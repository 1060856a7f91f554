"""POST /v1/images/generations: the OpenAI Images API shape, through the same queue.

Point an OpenAI SDK at base_url=http://host/v1 and `images.generate(...)` works unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huajia.api.deps import PrincipalDep, Services, ServicesDep
from huajia.api.errors import OPENAI_ERROR_RESPONSES, openai_error_responses
from huajia.api.hosts import public_base
from huajia.api.presenters import image_url
from huajia.api.schemas import GenerateRequest, OutputFormat, Text
from huajia.api.watch import TaskWatcher
from huajia.auth.keys import Principal
from huajia.errors import EngineUnavailable, GenerationCanceled, InvalidRequest, error_for_code
from huajia.jobs.model import Task, TaskState
from huajia.logs import current_request_id

router = APIRouter(prefix="/v1", tags=["openai"], responses=OPENAI_ERROR_RESPONSES)

# Names OpenAI clients send by default; they mean "this server's model".
OPENAI_MODEL_NAMES = frozenset({"dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini"})
WAIT_CHECK_SECONDS = 1.0  # how often a waiting request looks at its client and the workers
NO_WORKER_S = 30.0
# GenerateRequest's fields that OpenAI's request names otherwise (for an error's `param`).
OPENAI_FIELDS = {"num_images": "n", "width": "size", "height": "size"}


class ImagesGenerationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields we do not use

    prompt: Text = Field(min_length=1, max_length=4000)
    model: Text | None = Field(None, max_length=200)
    n: int = Field(1, ge=1, le=9)
    size: Text | None = Field(
        None,
        max_length=20,
        pattern=r"^(auto|[0-9]+[xX][0-9]+)$",
        description="WIDTHxHEIGHT or 'auto'",
    )
    response_format: Literal["url", "b64_json"] = "url"
    output_format: OutputFormat = "png"
    negative_prompt: Text | None = Field(None, max_length=4000)
    seed: int | None = Field(None, ge=0, le=2**53 - 1)
    style_preset: Text | None = Field(None, max_length=100)


class ImageDatum(BaseModel):
    url: str | None = None
    image_id: str | None = Field(
        None, description="Set when the image waits for review (no url or b64_json yet)."
    )
    review_state: str | None = Field(
        None, description="pending_review when a reviewer must approve the image first."
    )
    b64_json: str | None = None
    revised_prompt: str | None = None


class ImagesResponse(BaseModel):
    created: int
    data: list[ImageDatum]
    output_format: str


def parse_size(size: str | None) -> tuple[int, int] | None:
    """OpenAI's "WIDTHxHEIGHT" (None for no size or "auto")."""
    if not size or size == "auto":
        return None
    parts = size.lower().split("x")
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() for part in parts):
        raise InvalidRequest(f"size must look like 1024x1024 (got {size!r})", param="size")
    return int(parts[0]), int(parts[1])


def to_generate_request(body: ImagesGenerationRequest, served: str) -> GenerateRequest:
    width, height = parse_size(body.size) or (None, None)
    model = None if body.model in OPENAI_MODEL_NAMES else body.model
    try:
        return GenerateRequest(
            prompt=body.prompt, negative_prompt=body.negative_prompt, num_images=body.n,
            width=width, height=height, seed=body.seed, style_preset=body.style_preset,
            model=model or served, output_format=body.output_format,
        )  # fmt: skip
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRequest(
            f"{where}: {first['msg']} (size {body.size!r})", param=OPENAI_FIELDS.get(where, where)
        ) from None


@router.post(
    "/images/generations",
    operation_id="openaiCreateImage",
    response_model=ImagesResponse,
    responses=openai_error_responses(503, 507),  # no worker for a while; out of GPU memory
)
async def create_image(
    body: ImagesGenerationRequest, request: Request, who: PrincipalDep, services: ServicesDep
) -> ImagesResponse:
    """Generate and wait: the answer carries the finished images."""
    generate = to_generate_request(body, services.generation.model.spec.name)
    submitted = await run_in_threadpool(
        services.generation.submit, who, generate.to_command(), None, current_request_id()
    )
    task = await wait_for_task(services, who, submitted.task, request)
    return await images_answer(services, request, task, body.response_format, body.output_format)


async def images_answer(services: Services, request: Request, task: Task,
                        response_format: str, output_format: str) -> ImagesResponse:  # fmt: skip
    """A finished task's images as OpenAI returns them: absolute URLs or base64."""
    base = public_base(
        services.settings, request.app.state.allowed_hosts, request.headers.get("host"),
        request.url.scheme,
    )  # fmt: skip
    data = []
    for image in sorted(task.images, key=lambda i: i.index):
        if not image.publishable:  # waits for a reviewer: no bytes to publish yet
            data.append(ImageDatum(review_state=image.review_state, image_id=image.id))
        elif response_format == "b64_json":
            raw = await run_in_threadpool(services.blobs.get, image.key)
            data.append(ImageDatum(b64_json=base64.b64encode(raw).decode()))
        else:
            data.append(ImageDatum(url=base + image_url(image.key)))
    return ImagesResponse(created=int(time.time()), data=data, output_format=output_format)


async def wait_for_task(services: Services, who: Principal, task: Task, request: Request
                        ) -> Task:  # fmt: skip
    """Until the task ends, woken by the API's task watcher (pushed, not polled); a client
    that leaves, or no worker for a while, cancels it."""
    workerless_since: float | None = None
    watcher: TaskWatcher = request.app.state.watcher
    with watcher.follow(task.id) as snapshots:
        while not task.state.terminal:
            if await request.is_disconnected():
                await run_in_threadpool(services.generation.cancel, who, task.id)
                raise GenerationCanceled("the client went away")
            workerless_since = await _check_workers(services, workerless_since)
            if workerless_since is not None and time.monotonic() - workerless_since > NO_WORKER_S:
                await run_in_threadpool(services.generation.cancel, who, task.id)
                raise EngineUnavailable(
                    f"no worker has been running for {NO_WORKER_S:.0f} s; the request was canceled"
                )
            try:
                snapshot = await asyncio.wait_for(snapshots.get(), WAIT_CHECK_SECONDS)
            except TimeoutError:
                continue
            if snapshot is None:  # the server is stopping: its workers finished; read it
                task = await run_in_threadpool(services.generation.get, who, task.id)
                await asyncio.sleep(WAIT_CHECK_SECONDS)
            else:
                task = snapshot.task
    if task.state is TaskState.FAILED:
        raise error_for_code(task.error_code or "generation_failed", task.error_message or "failed")
    if task.state is TaskState.CANCELED:
        raise GenerationCanceled("the task was canceled")
    return task


async def _check_workers(services: Services, since: float | None) -> float | None:
    """When the worker pool became empty (None while a worker is alive)."""
    alive = await run_in_threadpool(services.store.live_workers)
    if alive:
        return None
    return since if since is not None else time.monotonic()
