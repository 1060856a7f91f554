"""Dependencies that reach routes through Annotated aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from huajia.auth.gate import FORWARDING_HEADERS, AuthGate, Caller
from huajia.auth.keys import Principal
from huajia.auth.policy import parse_credentials
from huajia.errors import Unauthorized
from huajia.generation.batches import BatchService
from huajia.generation.editing import EditingService
from huajia.generation.purge import Purger
from huajia.generation.reload import ModelReloads
from huajia.generation.review import ReviewService
from huajia.generation.service import GenerationService
from huajia.jobs.store import TaskStore
from huajia.presets.admin import PresetAdmin
from huajia.presets.lora_registry import LoraRegistry
from huajia.presets.registry import PresetRegistry
from huajia.settings import Settings
from huajia.storage.base import BlobStore


@dataclass
class Services:
    """Everything a request may need, built once by the composition root."""

    settings: Settings
    store: TaskStore
    blobs: BlobStore
    generation: GenerationService
    presets: PresetRegistry
    auth: AuthGate
    editing: EditingService
    review: ReviewService
    reloads: ModelReloads
    batches: BatchService
    purger: Purger
    preset_admin: PresetAdmin
    loras: LoraRegistry


async def get_services(request: Request) -> Services:
    """Async: a plain attribute read needs no trip through the thread pool."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

# Declared for the OpenAPI document (and its "Authorize" button); the headers themselves are
# read below, so a malformed Authorization header gets a clear 401 rather than being ignored.
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


async def current_principal(
    request: Request,
    services: ServicesDep,
    _bearer_doc: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    _key_doc: Annotated[str | None, Security(_api_key)],
) -> Principal:
    """The caller: the holder of a valid API key, or (open-local) a caller on this machine.
    A key remembered by the key cache answers on the event loop; anything that may read or
    write the database goes through the thread pool."""
    caller = _caller(request)
    known = services.auth.principal_at_once(caller)
    if known is not None:
        return known
    return await run_in_threadpool(services.auth.principal, caller)


def _caller(request: Request) -> Caller:
    headers = request.headers
    return Caller(
        peer=request.client.host if request.client else None,
        host_header=headers.get("host"),
        forwarded=any(name in headers for name in FORWARDING_HEADERS),
        secret=parse_credentials(headers.get("authorization"), headers.get("x-api-key")),
    )


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def optional_principal(
    request: Request,
    services: ServicesDep,
    _bearer_doc: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    _key_doc: Annotated[str | None, Security(_api_key)],
) -> Principal | None:
    """The caller if it proves who it is, else None (for routes anyone may call)."""
    try:
        return await current_principal(request, services, _bearer_doc, _key_doc)
    except Unauthorized:
        return None


OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]
