"""GET /api/v1/tasks/{id}/events: Server-Sent Events from queue to terminal state."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.presenters import image_out, task_result, task_status
from huajia.api.streams import SlottedStream, StreamSlots
from huajia.api.watch import Snapshot, TaskWatcher
from huajia.jobs.model import ImageRecord, Task, TaskState
from huajia.jobs.store import ProgressEvent, TaskPreview

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)

KEEPALIVE_SECONDS = 15.0


def sse(event: str, data: object, event_id: int | None = None) -> str:
    """One event; progress events carry the id a reconnecting client resumes after."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n"


def terminal_event(task: Task) -> str:
    if task.state is TaskState.COMPLETED:
        return sse("completed", task_result(task).model_dump(mode="json"))
    if task.state is TaskState.FAILED:
        status = task_status(task)
        error = status.error.model_dump() if status.error else None
        return sse("failed", {"task_id": task.id, "error": error})
    return sse("canceled", {"task_id": task.id})


def progress_event(task_id: str, step: ProgressEvent) -> str:
    total = step.total
    share = round(min(1.0, step.step / total), 4) if total else 0.0
    return sse(
        "progress",
        {"task_id": task_id, "current_step": step.step, "total_steps": total, "progress": share},
        event_id=step.id,
    )


def preview_event(task_id: str, preview: TaskPreview) -> str:
    """A small picture of one image as it forms, as a data URL (no id: not resumable)."""
    image = f"data:{preview.media_type};base64,{base64.b64encode(preview.data).decode()}"
    return sse("preview", {"task_id": task_id, "index": preview.index, "step": preview.step,
                           "total_steps": preview.total, "image": image,
                           "width": preview.width, "height": preview.height})  # fmt: skip


class PreviewsShown:
    """What one stream sent of each image's previews, so none goes out twice."""

    def __init__(self) -> None:
        self._sent: dict[int, tuple[int, int]] = {}

    def new(self, previews: list[TaskPreview]) -> list[TaskPreview]:
        fresh = [p for p in previews if (p.attempt, p.step) > self._sent.get(p.index, (0, 0))]
        for preview in fresh:
            self._sent[preview.index] = (preview.attempt, preview.step)
        return fresh


def reconnect_event(task_id: str) -> str:
    """Tells an EventSource to come back in a second (to this address: another API process
    behind the load balancer answers) and why."""
    data = {"task_id": task_id, "reason": "the server is restarting; reconnect"}
    return "retry: 1000\n" + sse("reconnect", data)


def review_event(task: Task, image: ImageRecord) -> str:
    return sse("review", {"task_id": task.id, "image": image_out(image).model_dump(mode="json")})


def awaiting_review(task: Task) -> bool:
    return any(image.review_state == "pending_review" for image in task.images)


class Followed:
    """What one stream has sent of its task, and the events each new snapshot adds."""

    def __init__(self, first: Task, last: int, previews: bool) -> None:
        self.last = last  # the id of the last step sent
        self.previews = previews
        self.position: int | None = None
        self.ended = first.state.terminal
        self.reviewed = {image.id: image.review_state for image in first.images}
        self.shown = PreviewsShown()

    def events(self, snapshot: Snapshot) -> list[str]:
        task, found = snapshot.task, []
        for step in snapshot.steps:
            if step.id > self.last:  # not sent already (a resumed stream replayed it)
                found.append(progress_event(task.id, step))
                self.last = step.id
        if self.previews and not task.state.terminal:  # others' previews are not ours
            found += [preview_event(task.id, preview)
                      for preview in self.shown.new(snapshot.previews)]  # fmt: skip
        if task.state.terminal and not self.ended:
            self.ended = True
            found.append(terminal_event(task))
            self.reviewed = {image.id: image.review_state for image in task.images}
        elif self.ended:
            for image in task.images:
                if self.reviewed.get(image.id) not in (None, image.review_state):
                    found.append(review_event(task, image))
                self.reviewed[image.id] = image.review_state
        if task.state is TaskState.PENDING and task.queue_position != self.position:
            self.position = task.queue_position
            found.append(sse("queued", {"task_id": task.id, "queue_position": self.position}))
        return found

    def done(self, task: Task) -> bool:
        """Nothing more to send: the task ended and no image of it waits for a reviewer."""
        return self.ended and not awaiting_review(task)


async def follow(request: Request, watcher: TaskWatcher, first: Task,
                 resume_after: int | None = None, missed: list[ProgressEvent] | None = None,
                 previews: bool = False) -> AsyncIterator[str]:  # fmt: skip
    """Every step from the store's progress log, queue moves, then the terminal event; then,
    while images wait for a reviewer, each decision as a `review` event. A client resuming
    after an event id first gets the steps it `missed` (from any API process's log). With
    `previews`, each new preview of an image as a `preview` event while the task runs.

    The events known together go out as one write (a snapshot's steps and its end)."""
    known = [sse("status", task_status(first).model_dump(mode="json"))]
    known += [progress_event(first.id, step) for step in missed or []]
    followed = Followed(first, missed[-1].id if missed else resume_after or 0, previews)
    if first.state.terminal:  # a late subscriber gets the terminal event at once
        known.append(terminal_event(first))
    yield "".join(known)
    if followed.done(first):
        return
    with watcher.follow(first.id, previews) as snapshots:
        while True:
            try:
                snapshot = await asyncio.wait_for(snapshots.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if snapshot is None:  # this server is stopping: the client follows elsewhere
                yield reconnect_event(first.id)
                return
            found = followed.events(snapshot)
            if found:
                yield "".join(found)
            if followed.done(snapshot.task) or await request.is_disconnected():
                return


@router.get(
    "/{task_id}/events",
    operation_id="streamTaskEvents",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream"}},
)
async def task_events(
    task_id: str,
    request: Request,
    who: PrincipalDep,
    services: ServicesDep,
    last_event_id: Annotated[
        int | None,
        Header(ge=0, le=2**62, description="Resume after this event (EventSource sends it)."),
    ] = None,
    previews: Annotated[
        bool,
        Query(
            description="Also send `preview` events while the task runs: a small image of each "
            "result as it forms ({task_id, index, step, total_steps, image: a data URL, width, "
            "height}), every few steps (the server's `preview_every_steps`; none when 0)."
        ),
    ] = False,
) -> StreamingResponse:
    """status, queued, progress per step (each with an `id:`), then one of completed / failed /
    canceled; for images that wait for a reviewer, the stream stays open and sends `review` per
    decision. Reconnecting with `Last-Event-ID` (on any API process) replays the steps after
    it first. `?previews=true` adds `preview` events."""
    first = await run_in_threadpool(services.generation.get, who, task_id)
    previews = previews and services.settings.preview_every_steps > 0
    if previews and not first.state.terminal:  # a running task's worker hears it at once
        await run_in_threadpool(services.store.want_previews, task_id)
    missed = None
    if last_event_id is not None:
        missed = await run_in_threadpool(services.store.progress_since, task_id, last_event_id)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    watcher: TaskWatcher = request.app.state.watcher
    streams: StreamSlots = request.app.state.streams
    slot = streams.take(who.key_id)  # 429 too_many_streams before the stream starts
    events = follow(request, watcher, first, last_event_id, missed, previews)
    return SlottedStream(slot, events, media_type="text/event-stream", headers=headers)
