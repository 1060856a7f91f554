"""Delivers due webhooks from the store: signed POSTs, retried with back-off until accepted.

Runs inside each API process (never the worker, which keeps the GPU busy); the store hands
each due delivery to one sender at a time, and nothing is lost across restarts because the
store, not memory, knows what is still owed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx
from fastapi.concurrency import run_in_threadpool

from huajia import __version__
from huajia.api.presenters import task_record
from huajia.jobs.model import Task
from huajia.jobs.store import TaskStore
from huajia.webhooks.signing import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

MAX_RETRY_S = 3600.0


class WebhookDispatcher:
    def __init__(self, store: TaskStore, secret: str, public_url: str, *, timeout_s: float,
                 max_attempts: int, retry_s: float, poll_s: float = 0.5) -> None:  # fmt: skip
        self._store = store
        self._secret = secret
        self._public_url = public_url.rstrip("/")
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._retry_s = retry_s
        self._poll_s = poll_s

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"WebhookDispatcher(public_url={self._public_url!r})"

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False) as client:
            while not stop.is_set():
                try:
                    sent = await self.deliver_due(client)
                except Exception:  # a database hiccup must not end deliveries for good
                    log.exception("webhook dispatch failed; trying again")
                    sent = 0
                if not sent:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._poll_s)

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        hold = self._timeout_s * 2 + 5
        due = await run_in_threadpool(self._store.claim_due_webhooks, hold, self._max_attempts)
        await asyncio.gather(*(self._deliver(client, task) for task in due))
        return len(due)

    async def _deliver(self, client: httpx.AsyncClient, task: Task) -> None:
        body = json.dumps(self.payload(task), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Huajia/{__version__}",
            "Huajia-Event": f"task.{task.state.value}",
            "Huajia-Delivery": f"{task.id}-{task.webhook_attempts + 1}",
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        error = None
        try:
            response = await client.post(task.webhook_url or "", content=body, headers=headers)
            if not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"
        await run_in_threadpool(self._store.record_webhook, task.id, error, self._retry_in(task))
        if error:
            log.warning("webhook for task %s failed (%s)", task.id, error)

    def _retry_in(self, task: Task) -> float | None:
        if task.webhook_attempts + 1 >= self._max_attempts:
            return None
        return float(min(MAX_RETRY_S, self._retry_s * 2**task.webhook_attempts))

    def payload(self, task: Task) -> dict[str, object]:
        record = task_record(task).model_dump(mode="json")
        for image in record["images"]:
            image["url"] = self._public_url + image["url"]
            if image["thumbnail_url"]:
                image["thumbnail_url"] = self._public_url + image["thumbnail_url"]
        return {"event": f"task.{task.state.value}", "task": record}
