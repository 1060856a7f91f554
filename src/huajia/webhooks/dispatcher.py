"""Delivers due webhooks from the store: signed POSTs, retried with back-off until accepted.

Runs inside each API process (never the worker, which keeps the GPU busy); the store hands
each due delivery to one sender at a time, and nothing is lost across restarts because the
store, not memory, knows what is still owed.

A receiver chosen by whoever submitted the task is not trusted: every delivery is its own
asyncio task with a deadline from connect to answer, at most `concurrency` are in flight, a slot
is claimed only when free (a slow receiver never holds up another), the address is checked
again at connection time (`huajia.outbound`), and any failure counts as an attempt. What the
submitter sees of a failure is a fixed phrase; the details go to the server log only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from fastapi.concurrency import run_in_threadpool

from huajia import __version__
from huajia.errors import ConfigurationError, HostNotLookedUp, UrlRefused
from huajia.jobs.model import Task
from huajia.jobs.outbox import OutboxEvent
from huajia.jobs.store import TaskStore
from huajia.outbound import OutboundPolicy, check_url, guarded_client
from huajia.settings import Settings
from huajia.webhooks.signing import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

# A task as JSON, the way the API shows it (`api.presenters.task_record`): handed in by the API
# process that runs the dispatcher, so this layer imports nothing from the API's.
DescribeTask = Callable[[Task], dict[str, Any]]

MAX_RETRY_S = 3600.0
NOT_ALLOWED = "receiver address not allowed"
TOO_SLOW = "receiver too slow"
UNREACHABLE = "receiver unreachable"


class WebhookDispatcher:
    def __init__(self, store: TaskStore, secret: str, public_url: str, *, describe: DescribeTask,
                 policy: OutboundPolicy, timeout_s: float, max_attempts: int, retry_s: float,
                 concurrency: int = 8, poll_s: float = 0.5,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        self._store = store
        self._describe = describe
        self._secret = secret
        self._public_url = public_url.rstrip("/")
        self._policy = policy
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._retry_s = retry_s
        self._concurrency = concurrency
        self._poll_s = poll_s
        self._transport = transport  # tests stand in for the network; None: the guarded one
        self._in_flight: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, store: TaskStore, settings: Settings, describe: DescribeTask
                      ) -> WebhookDispatcher:  # fmt: skip
        """The dispatcher the webhook_* settings describe (webhook_secret must be set)."""
        if settings.webhook_secret is None:
            raise ConfigurationError("webhooks need HUAJIA_WEBHOOK_SECRET")
        return cls(
            store,
            settings.webhook_secret.get_secret_value(),
            settings.base_url(),
            describe=describe,
            policy=OutboundPolicy.for_webhooks(settings),
            timeout_s=settings.webhook_timeout_seconds,
            max_attempts=settings.webhook_max_attempts,
            retry_s=settings.webhook_retry_seconds,
            concurrency=settings.webhook_concurrency,
        )

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"WebhookDispatcher(public_url={self._public_url!r})"

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`; deliveries still in flight then are dropped, and sent again
        once their claim expires."""
        async with guarded_client(self._policy, self._timeout_s, self._transport) as client:
            try:
                while not stop.is_set():
                    if not await self._start_due(client):
                        await self._pause(stop)
            finally:
                for delivery in self._in_flight:
                    delivery.cancel()
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _start_due(self, client: httpx.AsyncClient) -> int:
        """Claim as many due deliveries as there are free slots, each started on its own."""
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        # The claim outlives the deadline, so no other sender takes a delivery still running.
        hold = self._timeout_s * 2 + 5
        try:
            due = await run_in_threadpool(
                self._store.claim_due_webhooks, hold, self._max_attempts, free
            )
            events = await run_in_threadpool(
                self._store.outbox.claim_due, hold, self._max_attempts, free - len(due)
            ) if free > len(due) else []  # fmt: skip
        except Exception:  # a database hiccup must not end deliveries for good
            log.exception("claiming due webhooks failed; trying again")
            return 0
        for task in due:
            self._start(self._deliver(client, task), f"webhook-{task.id}")
        for event in events:
            self._start(self._deliver_event(client, event), f"webhook-event-{event.id}")
        return len(due) + len(events)

    def _start(self, work: Coroutine[Any, Any, None], name: str) -> None:
        delivery = asyncio.create_task(work, name=name)
        self._in_flight.add(delivery)
        delivery.add_done_callback(self._in_flight.discard)

    async def _pause(self, stop: asyncio.Event) -> None:
        """Wait for `stop`, a freed slot or the next poll, whichever comes first."""
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait(
                {stopped, *self._in_flight},
                timeout=self._poll_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopped.cancel()

    async def _deliver(self, client: httpx.AsyncClient, task: Task) -> None:
        event = f"task.{task.state.value}"
        delivery = f"{task.id}-{task.webhook_attempts + 1}"
        error = await self._attempt(client, task.id, task.webhook_url or "", event, delivery,
                                    self.payload(task))  # fmt: skip
        try:
            await run_in_threadpool(
                self._store.record_webhook, task.id, error, self._retry_after(task.webhook_attempts)
            )
        except Exception:  # the claim expires and the delivery is tried again
            log.exception("recording the webhook outcome of task %s failed", task.id)

    async def _deliver_event(self, client: httpx.AsyncClient, event: OutboxEvent) -> None:
        payload = self._absolute(event.payload)
        delivery = f"{event.task_id or 'batch'}-{event.event}-{event.id}-{event.attempts + 1}"
        error = await self._attempt(client, event.task_id, event.url, event.event, delivery,
                                    payload)  # fmt: skip
        retry = self._retry_after(event.attempts)
        try:
            await run_in_threadpool(self._store.outbox.record, event.id, error, retry)
        except Exception:  # the claim expires and the delivery is tried again
            log.exception("recording the outcome of webhook event %s failed", event.id)

    def _absolute(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Relative links in an event (an image's URLs, a batch's zip) made absolute."""
        absolute = dict(payload)
        for part, fields in (("image", ("url", "thumbnail_url")), ("batch", ("zip_url",))):
            if not isinstance(payload.get(part), dict):
                continue
            inner = dict(payload[part])
            for field in fields:
                if inner.get(field):
                    inner[field] = self._public_url + inner[field]
            absolute[part] = inner
        return absolute

    async def _attempt(self, client: httpx.AsyncClient, task_id: str | None, url: str, event: str,
                       delivery: str, payload: dict[str, Any]) -> str | None:  # fmt: skip
        """None if the receiver accepted, else the reason the submitter is shown."""
        try:
            check_url(url, self._policy, label="webhook_url")
            async with asyncio.timeout(self._timeout_s):
                status = await self._post(client, url, event, delivery, payload)
        except HostNotLookedUp as unresolved:  # a slow DNS server: tried again later
            return self._failed(task_id, UNREACHABLE, unresolved)
        except UrlRefused as refused:
            return self._failed(task_id, NOT_ALLOWED, refused)
        except (TimeoutError, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as slow:
            return self._failed(task_id, TOO_SLOW, slow)
        except Exception as failure:  # whatever a receiver or its URL provokes is one attempt
            return self._failed(task_id, UNREACHABLE, failure)
        if 200 <= status < 300:
            return None
        return self._failed(task_id, f"receiver answered HTTP {status}", None)

    async def _post(self, client: httpx.AsyncClient, url: str, event: str, delivery: str,
                    payload: dict[str, Any]) -> int:  # fmt: skip
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Huajia/{__version__}",
            "Huajia-Event": event,
            "Huajia-Delivery": delivery,
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        # Only the status counts: the body is never read, so a receiver cannot make us store it.
        async with client.stream("POST", url, content=body, headers=headers) as response:
            return response.status_code

    def _failed(self, task_id: str | None, reason: str, cause: BaseException | None) -> str:
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else "-"
        log.warning("webhook for task %s failed: %s (%s)", task_id, reason, detail)
        return reason

    def _retry_after(self, attempts: int) -> float | None:
        if attempts + 1 >= self._max_attempts:
            return None
        return float(min(MAX_RETRY_S, self._retry_s * 2**attempts))

    def payload(self, task: Task) -> dict[str, object]:
        record = self._describe(task)
        for image in record["images"]:
            for field in ("url", "thumbnail_url", "preview_url"):
                if image.get(field):
                    image[field] = self._public_url + image[field]
        return {"event": f"task.{task.state.value}", "task": record}
