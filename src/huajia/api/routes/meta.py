"""Models, presets, health, readiness and Prometheus metrics."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from huajia import __version__
from huajia.api.deps import OptionalPrincipalDep, PrincipalDep, Services, ServicesDep
from huajia.api.errors import ERROR_RESPONSES, PUBLIC_RESPONSES
from huajia.api.metrics import render_metrics
from huajia.api.model_state import has_loaded, holds, model_states
from huajia.api.schemas import Health, Readiness, Text
from huajia.auth.policy import require_admin
from huajia.engine.models import ModelSpec

router = APIRouter(tags=["service"])


@router.get("/api/v1/models", operation_id="listModels", responses=ERROR_RESPONSES)
def list_models(_who: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """The served models (the default first) with their defaults, limits and CMS size presets
    (scaled to each model), so a client can build its form for the model chosen; `available`:
    requests for it are accepted (a live worker holds it, or no worker is up yet and work
    waits); `loaded`: a ready worker has it on its device now."""
    generation = services.generation
    workers = services.store.live_workers()
    return {
        "default": generation.model.spec.name,
        "models": [
            {
                **_described(served.spec),
                "sizes": services.presets.sizes(served.spec.limits, served.spec.defaults),
                **_held_state(served.spec.name, workers),
            }
            for served in generation.models.values()
        ],
        "loras": sorted(generation.lora_ids()),
    }


def _held_state(name: str, workers: list[dict[str, Any]]) -> dict[str, bool]:
    available = not workers or any(holds(worker, name) for worker in workers)
    return {"available": available, "loaded": any(has_loaded(worker, name) for worker in workers)}


def _described(spec: ModelSpec) -> dict[str, Any]:
    defaults, limits = spec.defaults, spec.limits
    return {
        "name": spec.name,
        "description": spec.description,
        "random_weights": spec.is_random_weights,
        "uses_negative_prompt": spec.uses_negative_prompt,
        "defaults": {
            "steps": defaults.steps,
            "cfg_scale": defaults.guidance,
            "width": defaults.width,
            "height": defaults.height,
            "negative_prompt": defaults.negative_prompt,
        },
        "limits": {
            "min_size": limits.min_size,
            "max_size": limits.max_size,
            "size_multiple": limits.size_multiple,
            "max_steps": limits.max_steps,
            "min_guidance": limits.min_guidance,
            "max_guidance": limits.max_guidance,
            "max_images": limits.max_images,
            "max_prompt_tokens": limits.max_prompt_tokens,
        },
    }


@router.get("/api/v1/presets", operation_id="listPresets", responses=ERROR_RESPONSES)
def list_presets(
    _who: PrincipalDep,
    services: ServicesDep,
    include_retired: bool = False,
    model: Annotated[
        Text | None,
        Query(
            max_length=200,
            description="Scale the sizes to this served model (default: the default model).",
        ),
    ] = None,
) -> dict[str, Any]:
    """Style presets (current versions, from the database; retired ones only when asked) and
    CMS size presets (scaled to the served model named, else the default; 422
    `model_not_available` for one not served here)."""
    spec = services.generation.spec_for(model)
    return services.presets.describe(spec.limits, spec.defaults, include_retired)


# What an unauthenticated health check may say about a worker's engine: no file paths.
PUBLIC_ENGINE_FIELDS = frozenset(
    {"model", "family", "random_weights", "device", "dtype", "offload",
     "vram_used_bytes", "vram_total_bytes", "vram_source", "error_code", "revision",
     "reload_error", "resident", "models", "residency"}
)  # fmt: skip


def _shown(worker: dict[str, Any], full: bool) -> dict[str, Any]:
    """Never a file path; the worker id (host:pid:n) only in full, else an opaque label."""
    engine = worker.get("engine") or {}
    shown = {key: value for key, value in engine.items() if key in PUBLIC_ENGINE_FIELDS}
    label = worker.get("worker_id")
    if not full:
        label = hashlib.sha256(str(label).encode()).hexdigest()[:12]
    return {**worker, "worker_id": label, "engine": shown}


def _loaded(worker: dict[str, Any]) -> bool:
    return worker.get("state") in ("ready", "busy")


def health_of(services: Services, full: bool = False) -> Health:
    """The service's state; `full` (admins) names each worker's host and process."""
    stats = services.store.stats()
    live = services.store.live_workers()
    workers = [_shown(worker, full) for worker in live]
    loaded = [worker for worker in workers if _loaded(worker)]
    engine: dict[str, Any] = loaded[0].get("engine", {}) if loaded else {}
    draining = services.generation.draining
    served = list(services.generation.models)
    revisions = {name: revision_state(services, name) for name in served}
    default = revisions[services.generation.model.spec.name]
    return Health(
        status="draining" if draining else "ok" if loaded else "degraded",
        draining=draining,
        model_loaded=bool(loaded),
        model=services.generation.model.spec.name,
        device=engine.get("device"),
        vram_used_bytes=engine.get("vram_used_bytes"),
        vram_total_bytes=engine.get("vram_total_bytes"),
        queue_depth=int(stats["pending"]),
        active_tasks=int(stats["processing"]),
        workers=workers,
        auth_required=services.auth.keys_required(),
        version=__version__,
        c2pa="signing" if services.settings.c2pa_cert_file else "not configured",
        models=model_states(served, live, stats["pending_by_model"], revisions),
        model_revision=default["revision"],
        reload_error=default["reload_error"],
    )


def revision_state(services: Services, model: str) -> dict[str, Any]:
    """What new work for `model` is served with, and why its newest reload failed (if so)."""
    current = services.store.revisions.current(model)
    newest = services.store.revisions.newest(model)
    failed = newest is not None and newest.error is not None
    return {
        "revision": current.identity if current else None,
        "reload_error": newest.error if failed and newest else None,
    }


@router.get(
    "/api/v1/health",
    operation_id="health",
    response_model=Health,
    responses=PUBLIC_RESPONSES,
    # Added to the key schemes: anyone may ask; a key, when sent, shows admins more.
    openapi_extra={"security": [{}]},
)
async def health(services: ServicesDep, who: OptionalPrincipalDep) -> Health:
    """Always answers while the API runs; `model_loaded` says whether a worker is ready.

    Anyone may ask; admins also see which host and process each worker is.
    """
    full = who is not None and who.is_admin
    return await run_in_threadpool(health_of, services, full)


@router.get(
    "/api/v1/ready",
    operation_id="ready",
    response_model=Readiness,
    responses={
        **PUBLIC_RESPONSES,
        503: {
            "model": Readiness,
            "description": "No worker has loaded the model yet, or "
            "the server is stopping (draining)",
        },
    },
)
async def ready(services: ServicesDep) -> JSONResponse:
    """200 once a worker has loaded the model, 503 before and while stopping (load balancers
    move away from a draining server). Cheap enough to poll often: one small query."""
    draining = services.generation.draining
    workers = [] if draining else await run_in_threadpool(services.store.live_workers)
    is_ready = not draining and any(_loaded(worker) for worker in workers)
    model = services.generation.model.spec.name
    body = {"ready": is_ready, "model": model, "draining": draining}
    return JSONResponse(body, status_code=200 if is_ready else 503)


@router.get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics(who: PrincipalDep, services: ServicesDep) -> Response:
    """Prometheus metrics (an admin key once keys exist: `authorization` in the scrape config)."""
    require_admin(who)
    body, content_type = await run_in_threadpool(render_metrics, services.store)
    return Response(body, media_type=content_type)
