"""API key records in the queue's database (only the hash of each secret is stored)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, exists, insert, select, update

from huajia.errors import InvalidRequest, NotFound
from huajia.jobs.database import transaction
from huajia.jobs.model import ApiKey, Role
from huajia.jobs.rows import api_key_from_row, new_id
from huajia.jobs.store import ApiKeyStore
from huajia.jobs.tables import api_keys


class SqlApiKeyStore(ApiKeyStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def create(self, name: str, role: Role | str, key_hash: str, prefix: str) -> ApiKey:
        if role not in {member.value for member in Role}:
            known = ", ".join(member.value for member in Role)
            raise InvalidRequest(f"unknown role {role!r}: use one of {known}")
        key_id = new_id()
        values = {
            "id": key_id,
            "name": name,
            "role": Role(role).value,
            "key_hash": key_hash,
            "prefix": prefix,
            "created_at": self.clock(),
        }
        with transaction(self.engine, write=True) as connection:
            connection.execute(insert(api_keys).values(values))
        return self._get(key_id)

    def list(self, include_revoked: bool = False) -> builtins.list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with transaction(self.engine, write=False) as connection:
            return [api_key_from_row(row) for row in connection.execute(query)]

    def find_by_hash(self, key_hash: str, include_revoked: bool = False) -> ApiKey | None:
        query = select(api_keys).where(api_keys.c.key_hash == key_hash)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with transaction(self.engine, write=False) as connection:
            row = connection.execute(query).one_or_none()
        return api_key_from_row(row) if row is not None else None

    def revoke(self, key_id: str) -> ApiKey:
        with transaction(self.engine, write=True) as connection:
            connection.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return self._get(key_id)

    def touch(self, key_id: str, when: datetime | None = None) -> None:
        with transaction(self.engine, write=True) as connection:
            connection.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(last_used_at=when or self.clock())
            )

    def ever_created(self) -> bool:
        with transaction(self.engine, write=False) as connection:
            return connection.execute(select(exists().select_from(api_keys))).scalar_one()

    def _get(self, key_id: str) -> ApiKey:
        with transaction(self.engine, write=False) as connection:
            row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).one_or_none()
        if row is None:
            raise NotFound(f"no API key {key_id}")
        return api_key_from_row(row)
