"""The claim order, as SQL both dialects run: priority class, then fair between owners.

Inside a class every owner's k-th waiting task ranks k, so one caller's fifty images
interleave with another caller's one instead of starving it. Among equal ranks the owner
served least recently goes first (this is what makes turns alternate when each task finishes
before the next claim, as with one GPU), then the older task. Queue positions use the very
same order.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, Subquery, case, func, or_, select

from huajia.jobs.model import Priority, TaskState
from huajia.jobs.tables import tasks

_PRIORITY_RANK = case({priority.value: priority.rank for priority in Priority},
                      value=tasks.c.priority, else_=len(Priority))  # fmt: skip


def _last_served_per_owner() -> Subquery:
    return (
        select(tasks.c.owner, func.max(tasks.c.started_at).label("last_served"))
        .where(tasks.c.started_at.is_not(None))
        .group_by(tasks.c.owner)
        .subquery("served")
    )


def _ranked_pending(model: str | None, revision: int | None = None) -> Subquery:
    """Pending tasks with their sort keys: (priority, owner's turn, last served, age, id)."""
    served = _last_served_per_owner()
    owner_turn = func.row_number().over(
        partition_by=(tasks.c.owner, tasks.c.priority), order_by=(tasks.c.created_at, tasks.c.id)
    )
    query = (
        select(
            tasks.c.id,
            _PRIORITY_RANK.label("priority_rank"),
            owner_turn.label("owner_rank"),
            served.c.last_served,
            tasks.c.created_at,
        )
        .select_from(tasks.outerjoin(served, served.c.owner == tasks.c.owner))
        .where(tasks.c.state == TaskState.PENDING.value)
    )
    if model is not None:
        query = query.where(tasks.c.model == model)
    if revision is not None:  # tasks pinned to another revision wait for a worker holding it
        query = query.where(
            or_(tasks.c.model_revision == revision, tasks.c.model_revision.is_(None))
        )
    return query.subquery("ranked")


def _order(ranked: Subquery) -> tuple[Any, ...]:
    return (
        ranked.c.priority_rank,
        ranked.c.owner_rank,
        ranked.c.last_served.nulls_first(),
        ranked.c.created_at,
        ranked.c.id,
    )


def next_to_claim(model: str | None = None, revision: int | None = None) -> Select[str]:
    """The id of the next task, row-locked, skipping rows other claimers hold (PostgreSQL)."""
    ranked = _ranked_pending(model, revision)
    return (
        select(tasks.c.id)
        .join(ranked, ranked.c.id == tasks.c.id)
        .where(tasks.c.state == TaskState.PENDING.value)
        .order_by(*_order(ranked))
        .limit(1)
        .with_for_update(skip_locked=True, of=tasks)
    )


def compatible_pending(first_id: str, batch_key: str, limit: int) -> Select[Any]:
    """(id, image_count) of pending tasks that may join `first_id`'s batch, in claim order."""
    ranked = _ranked_pending(None)
    return (
        select(tasks.c.id, tasks.c.image_count)
        .join(ranked, ranked.c.id == tasks.c.id)
        .where(
            tasks.c.state == TaskState.PENDING.value,
            tasks.c.batch_key == batch_key,
            tasks.c.id != first_id,
        )
        .order_by(*_order(ranked))
        .limit(limit)
        .with_for_update(skip_locked=True, of=tasks)
    )


def positions(task_ids: Collection[str]) -> Select[str, int]:
    """(id, 1-based place in the claim order) for those of the ids still pending."""
    ranked = _ranked_pending(None)
    place = func.row_number().over(order_by=_order(ranked)).label("position")
    numbered = select(ranked.c.id, place).subquery("numbered")
    return select(numbered.c.id, numbered.c.position).where(numbered.c.id.in_(list(task_ids)))
