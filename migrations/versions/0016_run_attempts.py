"""Runs handed from one server to another: each run's attempt, who it acts for, an index
on the runs waiting for any server to take them, and the function that fences a run's
checkpoint writes.

`runs.attempt` counts the times a run was started after its server died (a hand-off at
shutdown is not one); every write a run's executor makes is fenced by it, so a server that
lost its lease cannot write after another took the run over. `runs.identity` keeps whom
the run acts for (and the encryption context its checkpoints are written under), so any
server can resume it. A queued run is `pending` with no `worker`.

Locks: ADD COLUMN with a constant default is metadata-only (a brief ACCESS EXCLUSIVE
lock); the partial index is built CONCURRENTLY, outside the transaction.
Reversible: yes; downgrade drops the index and both columns.
Recovery: rerun `alembic upgrade head`; an INVALID index is rebuilt.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from langstar.db import ddl

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_runs_queued"
# Checked in the transaction of each checkpoint write of a run (langstar.db.fencing).
FENCE = """
CREATE OR REPLACE FUNCTION langstar_fence(fenced_run uuid, fenced_worker text,
                                          fenced_attempt int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM runs WHERE run_id = fenced_run AND worker = fenced_worker
                   AND attempt = fenced_attempt) THEN
        RAISE EXCEPTION 'run % was taken over by another server', fenced_run
            USING ERRCODE = 'LS001';
    END IF;
END $$
"""


def upgrade() -> None:
    op.add_column(
        "runs", sa.Column("attempt", sa.Integer(), server_default=sa.text("1"), nullable=False)
    )
    op.add_column("runs", sa.Column("identity", JSONB(), nullable=True))
    op.execute(FENCE)
    ddl.create_index_concurrently(
        INDEX,
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON runs (created_at) "
        "WHERE status = 'pending' AND worker IS NULL",
    )


def downgrade() -> None:
    ddl.drop_index_concurrently(INDEX)
    op.execute("DROP FUNCTION IF EXISTS langstar_fence(uuid, text, int)")
    op.drop_column("runs", "identity")
    op.drop_column("runs", "attempt")
