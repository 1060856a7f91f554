"""Task store behaviour: API key records (ApiKeyStore).

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from huajia.errors import InvalidRequest, NotFound
from huajia.jobs import TaskStore
from huajia.jobs.model import Role


def test_api_keys_are_stored_by_hash_and_revocable(store: TaskStore) -> None:
    keys = store.keys
    editor = keys.create("CMS newsroom", Role.EDITOR, key_hash="h-editor", prefix="hj_ab12")
    admin = keys.create("ops", Role.ADMIN, key_hash="h-admin", prefix="hj_cd34")

    assert keys.find_by_hash("h-editor") == editor
    assert editor.role is Role.EDITOR
    assert editor.active
    assert editor.last_used_at is None
    assert keys.find_by_hash("unknown") is None
    assert [key.id for key in keys.list()] == [editor.id, admin.id]

    used_at = datetime(2025, 11, 25, 9, 30, tzinfo=UTC)
    keys.touch(editor.id, used_at)
    revoked = keys.revoke(editor.id)

    assert revoked.revoked_at is not None
    assert not revoked.active
    assert revoked.last_used_at == used_at
    assert keys.revoke(editor.id).revoked_at == revoked.revoked_at
    assert keys.find_by_hash("h-editor") is None
    assert keys.find_by_hash("h-editor", include_revoked=True) == revoked
    assert [key.id for key in keys.list()] == [admin.id]
    assert len(keys.list(include_revoked=True)) == 2
    with pytest.raises(NotFound):
        keys.revoke("0" * 32)
    with pytest.raises(InvalidRequest):
        keys.create("intern", "superuser", key_hash="h-3", prefix="hj_ef56")
