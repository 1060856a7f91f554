"""The app factory: routes, error mapping, CORS and the web pages on one FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from huajia import __version__
from huajia.api.deps import Services
from huajia.api.errors import install_error_handlers
from huajia.api.hosts import AllowedHosts, HostCheck
from huajia.api.limits import BodyLimitMiddleware, BodyLimits
from huajia.api.presenters import task_record
from huajia.api.request_log import RequestLog
from huajia.api.routes import (
    admin,
    audit,
    batches,
    edits,
    events,
    generate,
    image_detail,
    images,
    loras,
    me,
    meta,
    openai,
    openai_edits,
    openai_models,
    policy,
    presets,
    review,
    tasks,
)
from huajia.api.streams import StreamSlots
from huajia.api.watch import TaskWatcher
from huajia.jobs.model import Task
from huajia.settings import Settings
from huajia.web.routes import web_router
from huajia.web.tinymce import tinymce_router
from huajia.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger(__name__)

BATCH_CHECK_SECONDS = 2.0

DESCRIPTION = """Huajia (画架) generates images with the Z-Image model on your own GPU.

Submit with `POST /api/v1/generate`, follow `GET /api/v1/tasks/{id}/events` (Server-Sent
Events) or poll `/status`, then fetch `/result`. `POST /v1/images/generations` speaks the
OpenAI Images API. Send an API key as `Authorization: Bearer <key>` or `X-API-Key`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work of an API process: the SSE task watcher, webhook deliveries."""
    services: Services = app.state.services
    app.state.loop = asyncio.get_running_loop()  # for what other threads hand to the loop
    stop = asyncio.Event()
    running = [
        asyncio.create_task(app.state.watcher.run(stop), name="watcher"),
        asyncio.create_task(_purge_regularly(services, stop), name="purge"),
    ]
    if services.settings.webhooks_enabled:
        running.append(asyncio.create_task(_announce_batches(services, stop), name="batches"))
    dispatcher = _webhook_dispatcher(services)
    if dispatcher is not None:
        running.append(asyncio.create_task(dispatcher.run(stop), name="webhooks"))
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*running)


async def _purge_regularly(services: Services, stop: asyncio.Event) -> None:
    """Retention and owed blob deletions, at start and then every purge interval."""
    every = services.settings.purge_interval_seconds
    while not stop.is_set():
        try:
            await run_in_threadpool(services.purger.expire)
        except Exception:  # a database or bucket hiccup: the next round finishes the job
            log.exception("purging expired tasks failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def _announce_batches(services: Services, stop: asyncio.Event) -> None:
    """Queue `batch.completed` for batches whose last row has ended (every few seconds)."""
    while not stop.is_set():
        try:
            await run_in_threadpool(services.batches.announce_finished)
        except Exception:  # a database hiccup: the next round announces it
            log.exception("announcing finished batches failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), BATCH_CHECK_SECONDS)


def _webhook_dispatcher(services: Services) -> WebhookDispatcher | None:
    settings = services.settings
    if not settings.webhooks_enabled:
        return None
    return WebhookDispatcher.from_settings(services.store, settings, describe_task)


def describe_task(task: Task) -> dict[str, Any]:
    """A task as a webhook carries it: the record `GET /api/v1/tasks/{id}` answers."""
    return task_record(task).model_dump(mode="json")


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        lifespan=lifespan,
        title="Huajia",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "generate", "description": "Submit generation tasks"},
            {"name": "tasks", "description": "Follow, fetch and cancel tasks"},
            {"name": "images", "description": "Image files and the gallery"},
            {"name": "openai", "description": "OpenAI-compatible Images API"},
            {"name": "service", "description": "Models, presets, health and metrics"},
        ],
    )
    app.state.services = services
    app.state.watcher = TaskWatcher(
        services.store, services.store.notifier, services.settings.watch_fallback_seconds
    )
    app.state.streams = StreamSlots(services.settings.max_streams_per_key)
    install_error_handlers(app)
    if services.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=services.settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "X-API-Key",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "Last-Event-ID",
            ],
            expose_headers=["Retry-After", "Location", "X-Request-ID"],
        )
    _check_hosts_and_proxies(app, services.settings)
    routers = (
        generate, tasks, events, images, edits, review, meta, openai, openai_edits,
        openai_models, audit, policy, presets, loras, admin, batches, image_detail, me,
    )  # fmt: skip
    for module in routers:
        app.include_router(module.router)
    _include_web(app, services)
    # add_middleware puts each layer outside those added before it. Request ids and the access
    # log wrap everything the app does (host refusals included); a body's size is checked
    # outermost, before anything at all touches the body.
    app.add_middleware(RequestLog)
    _limit_bodies(app, services.settings)
    return app


def _limit_bodies(app: FastAPI, settings: Settings) -> None:
    """Body size limits and the deadline for a stalled body, as the outermost layer."""
    app.add_middleware(
        BodyLimitMiddleware,
        limits=BodyLimits.from_settings(settings),
        stall_timeout_s=settings.header_timeout_seconds,
    )


def _check_hosts_and_proxies(app: FastAPI, settings: Settings) -> None:
    """Host header check; X-Forwarded-For/-Proto believed only from `trusted_proxies`."""
    app.state.allowed_hosts = AllowedHosts.from_settings(settings)
    app.add_middleware(HostCheck, allowed=app.state.allowed_hosts)
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)


def _include_web(app: FastAPI, services: Services) -> None:
    """The built-in web app, the embeddable panel and the demo pages."""
    app.include_router(web_router(services.settings.ckeditor_dist()))
    app.include_router(tinymce_router(services.settings.tinymce_dist()))
