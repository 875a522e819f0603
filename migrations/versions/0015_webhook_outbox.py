"""Webhook deliveries: an outbox written with the run's end, and when each run started.

A run with a `webhook` gets its delivery row in the transaction that records how it
ended, with the payload as it was then; senders on any server claim due rows `FOR
UPDATE SKIP LOCKED` and retry with backoff. Deliveries outlive their run (a stateless
run's thread and runs are deleted when it ends), so no foreign key ties them.
`runs.started_at` is when a run began running, for the payload's `run_started_at`.

Locks: creates a new table; ADD COLUMN without a default on `runs` is metadata-only
(a brief ACCESS EXCLUSIVE lock).
Reversible: yes; downgrade drops the table, its undelivered webhooks and the column.
Recovery: runs in one transaction; if it stops, nothing was applied.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    now = sa.func.now()
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.UUID(), primary_key=True),
        sa.Column("run_id", sa.UUID(), nullable=False, unique=True),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=now, nullable=False
        ),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("given_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("delivered_at IS NULL AND given_up_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_column("runs", "started_at")
