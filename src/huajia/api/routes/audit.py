"""GET /api/v1/audit: who did what, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.schemas import Text
from huajia.auth.policy import require_admin

router = APIRouter(prefix="/api/v1", tags=["service"], responses=ERROR_RESPONSES)


class AuditEventOut(BaseModel):
    at: datetime
    actor: str
    actor_name: str
    action: str
    target: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    total: int


@router.get("/audit", operation_id="listAuditEvents", response_model=AuditPage)
async def list_audit(
    who: PrincipalDep,
    services: ServicesDep,
    actor: Annotated[Text | None, Query(max_length=64)] = None,
    action: Annotated[Text | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    """Tasks submitted and canceled, keys created and revoked; newest first (admin keys)."""
    require_admin(who)
    events, total = await run_in_threadpool(
        services.store.audit_trail, actor, action, limit, offset
    )
    shown = [
        AuditEventOut(
            at=event.at,
            actor=event.actor,
            actor_name=event.actor_name,
            action=event.action,
            target=event.target,
            detail=event.detail,
        )
        for event in events
    ]
    return AuditPage(events=shown, total=total)
