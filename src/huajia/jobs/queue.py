"""The claim order, kept as an indexed key on each row: (priority class, turn, age, id).

A task's turn is fixed when it is queued, so claims, batch mates and queue positions read
one partial index over the pending rows instead of ranking the whole queue each time:

- an owner with nothing waiting or running joins the round being served now: the lowest
  turn among the waiting and running tasks of its class (0 when the class is idle);
- an owner with work waiting or running takes the turn after its last one.

So inside a class every owner's k-th waiting task sits k turns on, and one caller's fifty
images interleave with another caller's one instead of starving it. Turns never shift when a
task is claimed, which is what makes them alternate when each task finishes before the next
claim (one GPU): the owner just served already holds the next turn, a newcomer joins the
current one. Requeued tasks keep their turn and so go back to the front.

Every query names the pending state as a literal, so that SQLite and PostgreSQL (also with
generic prepared plans) can prove the partial indexes apply.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)

from huajia.jobs.model import Holding, Priority, TaskState
from huajia.jobs.tables import tasks

IS_PENDING: ColumnElement[bool] = tasks.c.state == literal_column(f"'{TaskState.PENDING.value}'")
IS_RUNNING: ColumnElement[bool] = tasks.c.state == literal_column(f"'{TaskState.PROCESSING.value}'")
ORDER = (tasks.c.queue_class, tasks.c.queue_turn, tasks.c.created_at, tasks.c.id)
# A claim's LIMIT written into its SQL, not bound: PostgreSQL plans a prepared statement once
# (its generic plan) only when that plan is no costlier than the custom ones, and with a bound
# LIMIT it guesses a tenth of the queue is wanted and would sort it: the claim was planned
# again at every call.
ONE = literal_column("1", Integer)
STATE_INDEX = "ix_tasks_state_created_at"  # tables.py: Index(None, "state", "created_at")


def _fair_key_probes() -> Select[Any]:
    """The turns a new task's key is made of, for bound `klass` and `owner`."""
    in_class = tasks.c.queue_class == bindparam("klass", type_=tasks.c.queue_class.type)
    mine = tasks.c.owner == bindparam("owner", type_=tasks.c.owner.type)
    lowest_waiting = select(func.min(tasks.c.queue_turn)).where(IS_PENDING, in_class)
    # Few tasks run at once: they are found by state (SQLite would otherwise walk every task
    # the owner ever queued, by the owner index, to find the one or two running).
    lowest_running = _by_state(select(func.min(tasks.c.queue_turn)).where(IS_RUNNING, in_class))
    my_waiting = select(func.max(tasks.c.queue_turn)).where(IS_PENDING, in_class, mine)
    my_running = _by_state(select(func.max(tasks.c.queue_turn)).where(IS_RUNNING, in_class, mine))
    return select(
        lowest_waiting.scalar_subquery(),
        lowest_running.scalar_subquery(),
        my_waiting.scalar_subquery(),
        my_running.scalar_subquery(),
    )


def fair_key(connection: Connection, owner: str, priority: Priority) -> dict[str, int]:
    """The (queue_class, queue_turn) of a task the owner queues now: a few index probes."""
    klass = priority.rank
    row = connection.execute(_FAIR_KEY, {"klass": klass, "owner": owner}).one()
    served_now = min((turn for turn in row[:2] if turn is not None), default=0)
    mine_last = max((turn for turn in row[2:] if turn is not None), default=None)
    turn = served_now if mine_last is None else max(mine_last + 1, served_now)
    return {"queue_class": klass, "queue_turn": turn}


def _revision_filter(revision: int | None) -> list[ColumnElement[bool]]:
    if revision is None:
        return []
    # Tasks pinned to another revision wait for a worker holding it.
    return [or_(tasks.c.model_revision == revision, tasks.c.model_revision.is_(None))]


def _holdings_filter(holdings: Sequence[Holding]) -> ColumnElement[bool]:
    """Tasks of any held model, each at the revision held of it."""
    return or_(
        *(and_(tasks.c.model == held.model, *_revision_filter(held.revision)) for held in holdings)
    )


@functools.lru_cache(maxsize=256)
def next_to_claim(model: str | None = None, revision: int | None = None,
                  holdings: tuple[Holding, ...] | None = None) -> Select[Any]:  # fmt: skip
    """The next task (id, batch_key, image_count, model), row-locked, skipping rows other
    claimers hold (PostgreSQL); of `holdings` when given, else of `model` at `revision` (any
    model when None). Built once per shape and kept: a claim then skips building the
    statement and its cache key, a good part of a claim's CPU in this process."""
    where = [IS_PENDING]
    if holdings is not None:
        where.append(_holdings_filter(holdings))
    else:
        where.extend(_revision_filter(revision))
        if model is not None:
            where.append(tasks.c.model == model)
    one_model = model if holdings is None else (holdings[0].model if len(holdings) == 1 else None)
    return _in_order(
        select(tasks.c.id, tasks.c.batch_key, tasks.c.image_count, tasks.c.model)
        .where(*where)
        .order_by(*ORDER)
        .limit(ONE)
        .with_for_update(skip_locked=True),
        "ix_tasks_queue_model" if one_model is not None else "ix_tasks_queue",
    )


def _by_state(query: Select[Any]) -> Select[Any]:
    return query.with_hint(tasks, f"INDEXED BY {STATE_INDEX}", dialect_name="sqlite")


def _in_order(query: Select[Any], index: str) -> Select[Any]:
    """`query` read through one of the claim order's indexes on SQLite too.

    PostgreSQL walks the index in order and stops at the first row that fits; SQLite's
    planner, without statistics, prefers an index on the state alone and then sorts (or
    counts) every pending task: a cost that grows with the queue.
    """
    return query.with_hint(tasks, f"INDEXED BY {index}", dialect_name="sqlite")


def compatible_pending(first_id: str, batch_key: str, limit: int, revision: int | None = None
                       ) -> Select[Any]:  # fmt: skip
    """(id, image_count) of pending tasks that may join `first_id`'s batch, in claim order."""
    return (
        select(tasks.c.id, tasks.c.image_count)
        .where(
            IS_PENDING,
            tasks.c.batch_key == batch_key,
            tasks.c.id != first_id,
            *_revision_filter(revision),
        )
        .order_by(*ORDER)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def any_pending(connection: Connection) -> bool:
    """Whether anything waits: one index probe, however deep the queue."""
    return connection.execute(select(tasks.c.id).where(IS_PENDING).limit(1)).first() is not None


def pending_at_least(connection: Connection, limit: int) -> int:
    """min(pending tasks, limit): a count that stops at `limit` rows of the index."""
    count: int = connection.execute(_PENDING_UP_TO, {"limit": limit}).scalar_one()
    return count


# Places are counted this far and no further: a task with more ahead of it has no place
# (None; "waiting" is all it says), so that reading one costs the same at any depth.
PLACES_COUNTED = 1000


def place(connection: Connection, key: Sequence[Any]) -> int | None:
    """The 1-based place of a pending task whose claim-order key (ORDER's columns) is `key`,
    if fewer than PLACES_COUNTED tasks are ahead of it: one count along the index."""
    bound = dict(zip(_KEY_NAMES, key, strict=True)) | {"room": PLACES_COUNTED}
    ahead: int = connection.execute(_AHEAD, bound).scalar_one()
    return ahead + 1 if ahead < PLACES_COUNTED else None


def positions(connection: Connection, task_ids: Collection[str]) -> dict[str, int]:
    """1-based places in the claim order of those ids still pending, for those with fewer
    than PLACES_COUNTED tasks ahead of them.

    The ids are sorted by their keys and the index is counted between consecutive keys, so
    all of them together read the index only as far as the deepest of them, and never past
    PLACES_COUNTED entries.
    """
    if not task_ids:
        return {}
    keyed = connection.execute(_KEYS_OF, {"ids": list(task_ids)}).all()
    places: dict[str, int] = {}
    ahead, previous = 0, None
    for key in keyed:
        # Entries still to count before giving up, between the previous key and this one.
        bound = dict(zip(_KEY_NAMES, key, strict=True)) | {"room": PLACES_COUNTED - ahead}
        if previous is None:
            ahead += connection.execute(_AHEAD, bound).scalar_one()
        else:
            since = dict(zip(_FROM_NAMES, previous, strict=True))
            ahead += connection.execute(_BETWEEN, bound | since).scalar_one()
        if ahead >= PLACES_COUNTED:
            break  # this one and every later one: too far back to count
        places[key.id] = ahead + 1
        previous = key
    return places


def _key_below(names: Sequence[str]) -> ColumnElement[bool]:
    """The claim-order key below the one bound as `names` (in ORDER's columns)."""
    bound = (bindparam(name, type_=column.type) for name, column in zip(names, ORDER, strict=True))
    return tuple_(*ORDER) < tuple_(*bound)


def _counted(*where: ColumnElement[bool]) -> Select[Any]:
    """How many pending tasks match `where`, counted along the index no further than `room`."""
    some = _in_order(select(tasks.c.id).where(IS_PENDING, *where), "ix_tasks_queue")
    return select(func.count()).select_from(some.limit(bindparam("room")).subquery("ahead"))


# Built once: a submit runs both (a new task's key, then its place).
_FAIR_KEY = _fair_key_probes()
_KEY_NAMES = ("key_class", "key_turn", "key_created", "key_id")
_FROM_NAMES = ("from_class", "from_turn", "from_created", "from_id")
_AHEAD = _counted(_key_below(_KEY_NAMES))
# Built once too: every read of a waiting task counts its place (a watcher re-reads them
# whenever the queue moves).
_KEYS_OF = (
    select(*ORDER)
    .where(IS_PENDING, tasks.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(*ORDER)
)
_BETWEEN = _counted(_key_below(_KEY_NAMES), ~_key_below(_FROM_NAMES))
# min(pending tasks, limit), counted along the index no further than `limit` rows.
_PENDING_UP_TO = select(func.count()).select_from(
    select(tasks.c.id).where(IS_PENDING).limit(bindparam("limit")).subquery("some")
)
