"""The queue's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

The migrations under `huajia/migrations` create exactly these; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from huajia.jobs.model import REVIEW_STATES, Priority, Role, TaskState


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite stores it as naive UTC text that sorts correctly."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the task store; use UTC-aware datetimes")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(column: str, values: Any) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_WAITING = text("state = 'pending'")
# Partial indexes over the waiting rows only: claim order, per model, per batch, per owner.
_QUEUE_ORDER = ("queue_class", "queue_turn", "created_at", "id")
QUEUE_INDEXES = [
    Index(f"ix_tasks_queue{suffix}", *columns, sqlite_where=_WAITING, postgresql_where=_WAITING)
    for suffix, columns in [
        ("", _QUEUE_ORDER),
        ("_model", ("model", *_QUEUE_ORDER)),
        ("_batch", ("batch_key", *_QUEUE_ORDER)),
        ("_owner", ("owner", "queue_class", "queue_turn")),
    ]
]

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("state", String(16), nullable=False),
    Column("request", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("model", String(200)),  # the model the request names: claims filter on it
    # The model revision (weights) it was submitted under: only a worker holding it claims it.
    Column("model_revision", Integer),
    Column("progress_step", Integer, nullable=False, default=0),
    Column("progress_total", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("run_seconds", Float),  # claim to finish of the attempt that finished it
    # Tasks with equal batch keys (model, size, steps, guidance, LoRAs) may share a GPU batch.
    Column("batch_key", String(64)),
    Column("image_count", Integer, nullable=False, server_default="1"),
    # Signed webhook for the task's end: delivered by the API processes, retried with back-off.
    Column("webhook_url", String(2000)),
    Column("webhook_attempts", Integer, nullable=False, server_default="0"),
    Column("webhook_next_at", UtcDateTime),
    Column("webhook_delivered_at", UtcDateTime),
    Column("webhook_error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("idempotency_key", String(255)),
    Column("cache_key", String(128)),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    # An event stream asked for live previews: the worker's next renewal hears it.
    Column("previews_wanted", Boolean, nullable=False, server_default=false()),
    Column("lease_owner", String(128)),
    Column("lease_expires_at", UtcDateTime),
    # The claim order (see jobs/queue.py): priority rank, then the owner's turn, fixed at queueing.
    Column("queue_class", Integer, nullable=False, server_default="0"),
    Column("queue_turn", Integer, nullable=False, server_default="0"),
    UniqueConstraint("owner", "idempotency_key"),
    CheckConstraint(_one_of("state", TaskState), name="state"),
    CheckConstraint(_one_of("priority", Priority), name="priority"),
    Index(None, "state", "created_at"),
    Index(None, "owner", "created_at"),
    Index(None, "cache_key"),
    Index(None, "state", "batch_key"),
    Index(None, "owner", "started_at"),
    Index(None, "webhook_next_at"),
    Index(None, "state", "model"),
    Index(None, "state", "model_revision"),
    *QUEUE_INDEXES,
)

images = Table(
    "images",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("task_id", String(32), ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("index", Integer, nullable=False),
    Column("key", String(512), nullable=False),
    Column("thumbnail_key", String(512)),
    Column("format", String(16), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("favourite", Boolean, nullable=False, default=False),
    # Lineage: the image an edit started from (kept when the parent is deleted, as NULL).
    Column("parent_id", String(32), ForeignKey("images.id", ondelete="SET NULL")),
    Column("origin", String(16), nullable=False, server_default="generated"),
    # Publishing review: bytes of an image that is not (yet) approved live under a held key
    # that /generated-images never serves; the decision moves them.
    Column("review_state", String(16), nullable=False, server_default="none"),
    Column("reviewed_by", String(64)),
    Column("reviewed_at", UtcDateTime),
    Column("review_reason", Text),
    UniqueConstraint("task_id", "index"),
    CheckConstraint(_one_of("review_state", REVIEW_STATES), name="review_state"),
    Index(None, "created_at"),
    Index(None, "parent_id"),
    Index(None, "key"),
    Index(None, "review_state", "created_at"),
)

# Blobs to delete, written in the transaction that stops referencing them (or, with a
# `not_before`, before bytes are copied that a crash could orphan). A purge deletes the bytes,
# then the row, so a purge killed midway finishes on the next run.
blob_deletions = Table(
    "blob_deletions",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("not_before", UtcDateTime, nullable=False),
    Index(None, "not_before"),
)

# Webhook events that are not a task's end (an image approved or rejected): one row per
# delivery, retried with back-off like the task webhooks.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The task it is about (none for a batch's end); its deletion drops what is still owed.
    Column("task_id", String(32), ForeignKey("tasks.id", ondelete="CASCADE")),
    Column("event", String(64), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("payload", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
    Column("error", Text),
    Index(None, "delivered_at", "next_at"),
    Index(None, "task_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(256), nullable=False, unique=True),
    Column("prefix", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    CheckConstraint(_one_of("role", Role), name="role"),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("state", String(32), nullable=False),
    Column("engine", JSON, nullable=False),
    Column("models", JSON),  # every model it holds (null: only `model`, rows from before)
    Column("started_at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)

# One row per denoising step, appended by heartbeats and read by SSE followers, so every
# step reaches clients however fast the GPU is; old rows are pruned with expired leases.
task_progress = Table(
    "task_progress",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(32), ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "task_id", "id"),
    Index(None, "created_at"),
)

# The newest preview of each image of a running task, overwritten by each renewal that brings
# one and deleted when the task finishes or is deleted: only what followers still need.
task_previews = Table(
    "task_previews",
    metadata,
    Column("task_id", String(32), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("index", Integer, primary_key=True),
    Column("attempt", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("media_type", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Who did what: tasks submitted and canceled, keys created and revoked (never secrets).
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(64)),
    Column("detail", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Index(None, "at"),
    Index(None, "actor", "at"),
)

# Admin-edited policy: the global rules (key_id "*") and each key's overrides, as JSON.
policies = Table(
    "policies",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("rules", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# One rate-limit window per key: requests counted in the current minute (epoch minutes).
rate_windows = Table(
    "rate_windows",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("minute", BigInteger, nullable=False),
    Column("used", Integer, nullable=False),
)

# Style presets, versioned: every edit (and retiring) appends a row; the newest row per name
# is the preset. The TOML files only seed names not yet here.
style_presets = Table(
    "style_presets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("retired", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    UniqueConstraint("name", "version"),
)

# LoRA files registered at run time (or seeded from settings), checked against the model;
# `identity` is the file's content hash, so the result cache never mixes versions.
loras = Table(
    "loras",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("path", String(2000), nullable=False),
    Column("identity", String(80), nullable=False),
    Column("report", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("retired_at", UtcDateTime),
)

# What new work is served with: the model's files and the fine-tuned weights, one row per
# change (`huajia reload`); the newest that did not fail to load is current.
model_revisions = Table(
    "model_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(200), nullable=False),
    Column("model_id", String(200), nullable=False),
    Column("weights", String(2000)),
    Column("weights_id", String(300)),
    Column("source", String(16), nullable=False),  # settings | reload
    Column("actor", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("failed_at", UtcDateTime),
    Column("error", Text),
    Index(None, "model", "id"),
)

# Campaign batches: one row per sheet, one per line of it (its task, or why it has none).
batches = Table(
    "batches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("canceled_at", UtcDateTime),
    Column("warnings", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("webhook_url", String(2000)),  # told `batch.completed` once every row has ended
    Column("notified_at", UtcDateTime),
    Index(None, "owner", "created_at"),
)

batch_rows = Table(
    "batch_rows",
    metadata,
    Column("batch_id", String(32), ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("task_id", String(32), ForeignKey("tasks.id", ondelete="SET NULL")),
    Column("prompt", Text, nullable=False),
    Column("style", String(64)),
    Column("filename", String(100)),
    Column("alt", Text),
    Column("error", Text),
    Index(None, "task_id"),
)

# What the panel remembers for a key (last style, size, count, language, advanced settings),
# so it follows the editor to another browser or machine.
key_prefs = Table(
    "key_prefs",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("prefs", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
