"""The durable task queue: domain model, the store interface and its SQL implementation."""

from __future__ import annotations

from huajia.jobs.sqlstore import SqlTaskStore, open_store
from huajia.jobs.store import ApiKeyStore, TaskStore

__all__ = ["ApiKeyStore", "SqlTaskStore", "TaskStore", "open_store"]
