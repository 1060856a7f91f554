"""A campaign batch as Server-Sent Events: the whole batch once, then a `row` event whenever a
row's task changes state (or a reviewer decides on its images), then `finished`.

A batch may hold hundreds of rows, so its follower does not subscribe to every task: once a
second it reads each row's state in one query (`BatchStore.row_states`) and loads only the
rows that changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from huajia.api.presenters import image_out
from huajia.api.routes.events import KEEPALIVE_SECONDS, sse
from huajia.api.watch import TaskWatcher
from huajia.generation.batches import BatchService, BatchView, LineState
from huajia.jobs.batch_store import RowState

TICK_SECONDS = 1.0


def batch_json(view: BatchView) -> dict[str, Any]:
    batch = view.batch
    return {
        "batch_id": batch.id,
        "name": batch.name,
        "created_at": batch.created_at,
        "canceled": batch.canceled_at is not None,
        "finished": view.finished,
        "counts": view.counts(),
        "warnings": batch.warnings,
        "rows": [line_json(line) for line in view.lines],
    }


def line_json(line: LineState) -> dict[str, Any]:
    images = sorted(line.task.images, key=lambda i: i.index) if line.task is not None else []
    return {
        "row": line.line.row,
        "prompt": line.line.prompt,
        "state": line.state,
        "task_id": line.line.task_id,
        "error": line.line.error,
        "filename": line.line.filename,
        "alt_text": line.line.alt,
        "images": [image_out(image).model_dump(mode="json") for image in images],
    }


def _fingerprints(view: BatchView) -> dict[int, RowState]:
    return {
        line.line.row: RowState(line.task.state, _awaiting(line))
        for line in view.lines
        if line.task is not None
    }


def _awaiting(line: LineState) -> int:
    images = line.task.images if line.task is not None else []
    return sum(image.review_state == "pending_review" for image in images)


def _counts(view: BatchView, known: dict[int, RowState]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for line in view.lines:
        if line.line.error is not None:
            state = "error"
        elif line.line.row in known:
            state = known[line.line.row].state.value
        else:
            state = "deleted"
        counted[state] = counted.get(state, 0) + 1
    return counted


def _finished(known: dict[int, RowState]) -> bool:
    return all(row.state.terminal for row in known.values())


async def follow_batch(
    request: Request, watcher: TaskWatcher, batches: BatchService, view: BatchView
) -> AsyncIterator[str]:
    batch_id = view.batch.id
    yield sse("batch", batch_json(view))
    known = _fingerprints(view)
    sent = time.monotonic()
    while not _finished(known):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watcher.closed.wait(), TICK_SECONDS)
        if watcher.closed.is_set():  # this server is stopping: follow on another
            data = {"batch_id": batch_id, "reason": "the server is restarting; reconnect"}
            yield "retry: 1000\n" + sse("reconnect", data)
            return
        if await request.is_disconnected():
            return
        now = await run_in_threadpool(batches.row_states, batch_id)
        changed = {row for row in known.keys() | now.keys() if known.get(row) != now.get(row)}
        if changed:
            lines = await run_in_threadpool(batches.lines, batch_id, changed)
            known = now
            counts = _counts(view, known)
            for line in lines:
                yield sse("row", {"batch_id": batch_id, **line_json(line), "counts": counts})
            sent = time.monotonic()
        elif time.monotonic() - sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            sent = time.monotonic()
    yield sse("finished", {"batch_id": batch_id, "counts": _counts(view, known)})
