"""Tasks, image records and API keys.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    _create_tasks()
    _create_images()
    _create_api_keys()


def _create_tasks() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("request", DOCUMENT, nullable=False),
        sa.Column("progress_step", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("updated_at", STAMP, nullable=False),
        sa.Column("started_at", STAMP, nullable=True),
        sa.Column("finished_at", STAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("cache_key", sa.String(128), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires_at", STAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.UniqueConstraint("owner", "idempotency_key", name="uq_tasks_owner_idempotency_key"),
        sa.CheckConstraint(
            "state IN ('pending', 'processing', 'completed', 'failed', 'canceled')",
            name="ck_tasks_state",
        ),
        sa.CheckConstraint("priority IN ('high', 'normal', 'low')", name="ck_tasks_priority"),
    )
    op.create_index("ix_tasks_state_created_at", "tasks", ["state", "created_at"])
    op.create_index("ix_tasks_owner_created_at", "tasks", ["owner", "created_at"])
    op.create_index("ix_tasks_cache_key", "tasks", ["cache_key"])


def _create_images() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("task_id", sa.String(32), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("thumbnail_key", sa.String(512), nullable=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("favourite", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_images_task_id_tasks", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("task_id", "index", name="uq_images_task_id_index"),
    )
    op.create_index("ix_images_created_at", "images", ["created_at"])


def _create_api_keys() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(256), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("last_used_at", STAMP, nullable=True),
        sa.Column("revoked_at", STAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sa.CheckConstraint("role IN ('editor', 'admin')", name="ck_api_keys_role"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("images")
    op.drop_table("tasks")
