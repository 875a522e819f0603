"""Assistants: graphs with their own config, versioned.

Locks: creates two new tables; nothing existing is touched.
Reversible: yes; downgrade drops both tables and every assistant made through the API
(the default assistant of each graph is recreated at the next start).
Recovery: runs in one transaction; if it stops, nothing was applied.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _body() -> list[sa.Column[object]]:
    jsonb = postgresql.JSONB(astext_type=sa.Text())
    return [
        sa.Column("graph_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("config", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("context", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("metadata", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "assistants",
        sa.Column("assistant_id", sa.UUID(), primary_key=True),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        *_body(),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index("ix_assistants_owner_graph", "assistants", ["owner", "graph_id"])
    op.create_table(
        "assistant_versions",
        sa.Column(
            "assistant_id",
            sa.UUID(),
            sa.ForeignKey("assistants.assistant_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer(), primary_key=True),
        *_body(),
    )


def downgrade() -> None:
    op.drop_table("assistant_versions")
    op.drop_index("ix_assistants_owner_graph", table_name="assistants")
    op.drop_table("assistants")
