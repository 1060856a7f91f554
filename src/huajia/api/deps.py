"""Dependencies that reach routes through Annotated aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from huajia.auth.keys import Principal, hash_key
from huajia.auth.policy import parse_credentials
from huajia.errors import Unauthorized
from huajia.generation.service import GenerationService
from huajia.jobs.store import TaskStore
from huajia.presets.catalog import PresetCatalog
from huajia.settings import Settings
from huajia.storage.base import BlobStore

LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "testclient"})


@dataclass
class Services:
    """Everything a request may need, built once by the composition root."""

    settings: Settings
    store: TaskStore
    blobs: BlobStore
    generation: GenerationService
    presets: PresetCatalog


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def current_principal(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller: its API key once any key exists; localhost only while none does."""
    secret = parse_credentials(authorization, x_api_key)
    store = services.store
    if not store.keys.list():
        # No keys yet: the service is open to this machine only, whatever a client sends
        # (OpenAI SDKs insist on sending some key).
        host = request.client.host if request.client else ""
        if host not in LOCAL_HOSTS:
            raise Unauthorized(
                "no API keys exist yet, so only localhost may call this server; "
                "create one with 'huajia keys create NAME --role editor'"
            )
        return Principal.local()
    if secret is None:
        raise Unauthorized(
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    key = store.keys.find_by_hash(hash_key(secret))
    if key is None or not key.active:
        raise Unauthorized("this API key is not valid (revoked or mistyped)")
    store.keys.touch(key.id)
    return Principal(key_id=key.id, name=key.name, role=key.role)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
