"""Webhook delivery against real receivers on 127.0.0.1 and the real SQLite store: a slow
receiver is cut at the deadline and holds up nobody, every failure is one counted attempt, and
what the submitter sees of a failure says nothing about the network behind it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from huajia.api.app import describe_task
from huajia.jobs import TaskStore, open_store
from huajia.jobs.model import Task
from huajia.outbound import OutboundPolicy, check_webhook_target
from huajia.webhooks.dispatcher import WebhookDispatcher
from tests.jobs.helpers import a_task, run_to_completion
from tests.outbound.receivers import closed_port, receiving

LOCAL = OutboundPolicy(allow_http=True, allowed_hosts=("127.0.0.1",))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TaskStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'huajia.db'}")
    yield opened
    opened.close()


def dispatcher(store: TaskStore, policy: OutboundPolicy = LOCAL, *, timeout_s: float = 3.0,
               retry_s: float = 60.0, concurrency: int = 8,
               transport: httpx.AsyncBaseTransport | None = None) -> WebhookDispatcher:  # fmt: skip
    return WebhookDispatcher(
        store, "whsec-test", "http://127.0.0.1:8000", describe=describe_task, policy=policy,
        timeout_s=timeout_s,
        max_attempts=3, retry_s=retry_s, concurrency=concurrency, poll_s=0.05,
        transport=transport,
    )  # fmt: skip


@asynccontextmanager
async def running(dispatcher: WebhookDispatcher) -> AsyncIterator[None]:
    stop = asyncio.Event()
    loop = asyncio.create_task(dispatcher.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(loop, 5)


async def until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` held (fails the test after `timeout`)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "condition not reached in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def finished(store: TaskStore, url: str) -> Task:
    return run_to_completion(store, a_task(webhook_url=url))


def test_a_dripping_receiver_is_cut_at_the_deadline_and_delays_no_other(store: TaskStore) -> None:
    async def scenario() -> None:
        with receiving(drip_s=2.0) as slow, receiving() as fast:
            async with running(dispatcher(store, timeout_s=3.0)):
                dripping = finished(store, slow.url())
                await until(slow.arrived.is_set, 5)
                started = time.monotonic()
                prompt = finished(store, fast.url())
                assert await until(lambda: bool(fast.requests), 5) < 2.0, "not held up"
                assert store.get(dripping.id).webhook_attempts == 0, "still dripping"
                await until(lambda: store.get(prompt.id).webhook_delivered_at is not None, 2)
                await until(lambda: store.get(dripping.id).webhook_attempts == 1, 6)
                assert 1.5 < time.monotonic() - started < 6, "cut at the 3 s deadline"
            cut = store.get(dripping.id)
            assert cut.webhook_error == "receiver too slow"
            assert cut.webhook_delivered_at is None

    asyncio.run(scenario())


def test_no_more_deliveries_are_in_flight_than_the_concurrency(store: TaskStore) -> None:
    async def scenario() -> None:
        with receiving(drip_s=2.0) as slow:
            tasks = [finished(store, slow.url()) for _ in range(3)]
            async with running(dispatcher(store, concurrency=2)):
                await until(lambda: len(slow.requests) == 2, 5)
                await asyncio.sleep(0.5)
                assert len(slow.requests) == 2
            assert all(store.get(task.id).webhook_delivered_at is None for task in tasks)

    asyncio.run(scenario())


def test_a_url_httpx_cannot_even_parse_ends_after_max_attempts(store: TaskStore) -> None:
    async def scenario() -> None:
        task = finished(store, "http://127.0.0.1/" + "a" * 65_536)
        async with running(dispatcher(store, retry_s=0.01)):
            await until(lambda: store.get(task.id).webhook_attempts == 3, 5)
            await asyncio.sleep(0.3)
        given_up = store.get(task.id)
        assert given_up.webhook_attempts == 3, "never retried forever"
        assert given_up.webhook_error == "receiver address not allowed"

    asyncio.run(scenario())


def test_any_exception_is_one_failed_attempt_and_stays_in_the_log(
    store: TaskStore, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("boom at 10.0.0.7:6379")

    async def scenario() -> None:
        task = finished(store, "https://93.184.215.14/hook")
        broken = dispatcher(store, transport=httpx.MockTransport(explode), retry_s=0.01)
        async with running(broken):
            await until(lambda: store.get(task.id).webhook_attempts == 3, 5)
        assert store.get(task.id).webhook_error == "receiver unreachable"

    with caplog.at_level(logging.WARNING, logger="huajia.webhooks.dispatcher"):
        asyncio.run(scenario())
    assert "RuntimeError: boom at 10.0.0.7:6379" in caplog.text, "details for the operator"


def test_the_reason_shown_to_the_submitter_is_generic(store: TaskStore) -> None:
    async def scenario() -> dict[str, str | None]:
        with receiving(status=503) as failing:
            urls = {
                "closed": f"http://127.0.0.1:{closed_port()}/hook",
                "failing": failing.url(),
                "inside": "http://10.0.0.7:6379/",  # refused before any connection is tried
                "metadata": "http://169.254.169.254/latest/meta-data/",
            }
            tasks = {name: finished(store, url) for name, url in urls.items()}
            async with running(dispatcher(store)):
                await until(
                    lambda: all(store.get(t.id).webhook_attempts for t in tasks.values()), 5
                )
        return {name: store.get(task.id).webhook_error for name, task in tasks.items()}

    errors = asyncio.run(scenario())
    assert errors == {
        "closed": "receiver unreachable",
        "failing": "receiver answered HTTP 503",
        "inside": "receiver address not allowed",
        "metadata": "receiver address not allowed",
    }


def test_a_refused_delivery_connects_to_nothing_when_dns_rebinds(store: TaskStore) -> None:
    answers = iter([["93.184.215.14"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers, ["127.0.0.1"])

    policy = OutboundPolicy(allow_http=True, resolver=rebinding)

    async def scenario() -> None:
        with receiving() as local:
            url = local.url("rebind.example.com")
            check_webhook_target(url, policy)
            task = finished(store, url)
            async with running(dispatcher(store, policy)):
                await until(lambda: store.get(task.id).webhook_attempts == 1, 5)
            assert local.connections == 0
            assert store.get(task.id).webhook_error == "receiver address not allowed"

    asyncio.run(scenario())
