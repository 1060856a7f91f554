"""Publishing review on images, blobs owed a deletion, and an outbox for review webhooks.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(
            sa.Column("review_state", sa.String(16), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("reviewed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
        batch.create_check_constraint(
            "ck_images_review_state",
            "review_state IN ('none', 'pending_review', 'approved', 'rejected')",
        )
    op.create_index("ix_images_key", "images", ["key"])
    op.create_index("ix_images_review_state_created_at", "images", ["review_state", "created_at"])
    op.create_table(
        "blob_deletions",
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_blob_deletions"),
    )
    op.create_index("ix_blob_deletions_not_before", "blob_deletions", ["not_before"])
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(32), nullable=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_webhook_outbox_task_id_tasks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_outbox"),
    )
    op.create_index(
        "ix_webhook_outbox_delivered_at_next_at", "webhook_outbox", ["delivered_at", "next_at"]
    )
    op.create_index("ix_webhook_outbox_task_id", "webhook_outbox", ["task_id"])


def downgrade() -> None:
    op.drop_table("webhook_outbox")
    op.drop_table("blob_deletions")
    op.drop_index("ix_images_review_state_created_at", table_name="images")
    op.drop_index("ix_images_key", table_name="images")
    with op.batch_alter_table("images") as batch:
        batch.drop_constraint("ck_images_review_state", type_="check")
        for column in ("review_reason", "reviewed_at", "reviewed_by", "review_state"):
            batch.drop_column(column)
