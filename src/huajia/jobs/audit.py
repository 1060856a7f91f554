"""The audit trail's rows: append-only, newest first when read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from huajia.jobs.model import AuditEvent
from huajia.jobs.tables import audit_events

# Every submit appends one: the statement is built once.
_APPEND = insert(audit_events)


def append(connection: Connection, event: AuditEvent) -> None:
    values = {
        "at": event.at, "actor": event.actor, "actor_name": event.actor_name,
        "action": event.action, "target": event.target, "detail": event.detail,
    }  # fmt: skip
    connection.execute(_APPEND, values)


def page(connection: Connection, actor: str | None, action: str | None, limit: int,
         offset: int) -> tuple[list[AuditEvent], int]:  # fmt: skip
    conditions: list[Any] = []
    if actor is not None:
        conditions.append(audit_events.c.actor == actor)
    if action is not None:
        conditions.append(audit_events.c.action == action)
    total = connection.execute(
        select(func.count()).select_from(audit_events).where(*conditions)
    ).scalar_one()
    rows = connection.execute(
        select(audit_events)
        .where(*conditions)
        .order_by(audit_events.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [_event(row) for row in rows], int(total)


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        at=row.at, actor=row.actor, actor_name=row.actor_name, action=row.action,
        target=row.target, detail=dict(row.detail), id=row.id,
    )  # fmt: skip


def now_event(at: datetime, actor: str, actor_name: str, action: str, target: str | None,
              detail: dict[str, Any]) -> AuditEvent:  # fmt: skip
    return AuditEvent(at, actor, actor_name, action, target, detail)
