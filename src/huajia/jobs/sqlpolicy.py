"""Policy rules and rate windows on SQLAlchemy (SQLite and PostgreSQL).

A rate window is one row per key: (key, minute, used). Each request adds one with a single
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, which restarts the count when the minute
changed; the database serialises the upserts, so several API processes share one count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from huajia.jobs.database import transaction
from huajia.jobs.notify import POLICY
from huajia.jobs.policy_store import GLOBAL_POLICY, PolicyStore, StoredPolicy
from huajia.jobs.tables import policies, rate_windows
from huajia.policy.rules import PolicyRules
from huajia.text import STORED

WINDOW_S = 60


class SqlPolicyStore(PolicyStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime],
                 announce: Callable[[str, str], None] | None = None) -> None:  # fmt: skip
        self.engine = engine
        self.clock = clock
        self._announce = announce or (lambda topic, key: None)  # rules changed, once committed

    def get(self, key_id: str = GLOBAL_POLICY) -> StoredPolicy | None:
        with transaction(self.engine, write=False) as connection:
            row = connection.execute(
                select(policies).where(policies.c.key_id == key_id)
            ).one_or_none()
        return _stored(row) if row is not None else None

    def put(self, rules: PolicyRules, actor: str, key_id: str = GLOBAL_POLICY) -> StoredPolicy:
        values = {
            "key_id": key_id, "rules": rules.model_dump(mode="json"), "version": 1,
            "updated_at": self.clock(), "updated_by": actor,
        }  # fmt: skip
        upsert = self._insert(policies).values(values)
        upsert = upsert.on_conflict_do_update(
            index_elements=[policies.c.key_id],
            set_={
                "rules": upsert.excluded.rules, "version": policies.c.version + 1,
                "updated_at": upsert.excluded.updated_at, "updated_by": upsert.excluded.updated_by,
            },
        ).returning(*policies.c)  # fmt: skip
        with transaction(self.engine, write=True) as connection:
            stored = _stored(connection.execute(upsert).one())
        self._announce(POLICY, key_id)
        return stored

    def delete(self, key_id: str) -> bool:
        with transaction(self.engine, write=True) as connection:
            removed = connection.execute(delete(policies).where(policies.c.key_id == key_id))
        self._announce(POLICY, key_id)
        return bool(removed.rowcount)

    def rules_for(self, key_id: str) -> tuple[PolicyRules, PolicyRules | None]:
        query = select(policies).where(policies.c.key_id.in_([GLOBAL_POLICY, key_id]))
        with transaction(self.engine, write=False) as connection:
            found = {row.key_id: _stored(row).rules for row in connection.execute(query)}
        return found.get(GLOBAL_POLICY, PolicyRules()), found.get(key_id)

    def request_wait(self, key_id: str, per_minute: int, now: datetime | None = None
                     ) -> float | None:  # fmt: skip
        moment = (now or self.clock()).timestamp()
        minute = int(moment // WINDOW_S)
        query = select(rate_windows.c.used).where(
            rate_windows.c.key_id == key_id, rate_windows.c.minute == minute
        )
        with transaction(self.engine, write=False) as connection:
            used = connection.execute(query).scalar_one_or_none() or 0
        if used < per_minute:
            return None
        return (minute + 1) * WINDOW_S - moment

    def take_request(self, key_id: str, per_minute: int, now: datetime | None = None
                     ) -> float | None:  # fmt: skip
        moment = (now or self.clock()).timestamp()
        minute = int(moment // WINDOW_S)
        upsert = self._insert(rate_windows).values(key_id=key_id, minute=minute, used=1)
        same_minute = rate_windows.c.minute == upsert.excluded.minute
        upsert = upsert.on_conflict_do_update(
            index_elements=[rate_windows.c.key_id],
            set_={
                "used": case((same_minute, rate_windows.c.used + 1), else_=1),
                "minute": upsert.excluded.minute,
            },
        ).returning(rate_windows.c.used)
        with transaction(self.engine, write=True) as connection:
            used = int(connection.execute(upsert).scalar_one())
        if used <= per_minute:
            return None
        return (minute + 1) * WINDOW_S - moment

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)


def _stored(row: Any) -> StoredPolicy:
    rules = PolicyRules.model_validate(row.rules, context=STORED)  # as saved, even if old
    return StoredPolicy(
        key_id=row.key_id, rules=rules, version=row.version, updated_at=row.updated_at,
        updated_by=row.updated_by,
    )  # fmt: skip
