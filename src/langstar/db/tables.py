"""langstar's own tables as SQLAlchemy metadata, the target of Alembic's autogenerate.

A test compares it with a database migrated to head, so it cannot drift from the revisions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

# The statuses `langstar.lifecycle` moves threads and runs through (a test ties the two).
THREAD_STATUSES = ("idle", "busy", "interrupted", "error")
RUN_STATUSES = ("pending", "running", "success", "error", "timeout", "interrupted")
TTL_STRATEGIES = ("delete", "keep_latest")


def _listed(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


threads = Table(
    "threads",
    metadata,
    Column("thread_id", UUID(as_uuid=True), primary_key=True),
    Column("owner", Text, nullable=False),
    Column("graph_id", Text, nullable=True),
    Column("status", Text, nullable=False, server_default=text("'idle'")),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("config", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("values", JSONB, nullable=True),
    Column("interrupts", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("error", JSONB, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("state_updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("ttl_minutes", Float, nullable=True),
    Column("ttl_strategy", Text, nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    CheckConstraint(f"status IN {_listed(THREAD_STATUSES)}", name="ck_threads_status"),
    CheckConstraint(
        f"ttl_strategy IS NULL OR ttl_strategy IN {_listed(TTL_STRATEGIES)}",
        name="ck_threads_ttl_strategy",
    ),
    Index("ix_threads_expires_at", "expires_at", postgresql_where=text("expires_at IS NOT NULL")),
    Index("ix_threads_owner_created_at", "owner", "created_at"),
    Index(
        "ix_threads_metadata",
        "metadata",
        postgresql_using="gin",
        postgresql_ops={"metadata": "jsonb_path_ops"},
    ),
)


def _assistant_body() -> list[Column[object]]:
    return [
        Column("graph_id", Text, nullable=False),
        Column("name", Text, nullable=False),
        Column("description", Text, nullable=True),
        Column("config", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("context", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


assistants = Table(
    "assistants",
    metadata,
    Column("assistant_id", UUID(as_uuid=True), primary_key=True),
    Column("owner", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
    *_assistant_body(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_assistants_owner_graph", "owner", "graph_id"),
)

assistant_versions = Table(
    "assistant_versions",
    metadata,
    Column(
        "assistant_id",
        UUID(as_uuid=True),
        ForeignKey("assistants.assistant_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    *_assistant_body(),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", UUID(as_uuid=True), primary_key=True),
    Column(
        "thread_id",
        UUID(as_uuid=True),
        ForeignKey("threads.thread_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("assistant_id", UUID(as_uuid=True), nullable=False),
    Column("graph_id", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("kwargs", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("multitask_strategy", Text, nullable=False),
    Column("error", JSONB, nullable=True),
    Column("cancel_action", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("worker", Text, nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("user_id", Text, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("attempt", Integer, nullable=False, server_default=text("1")),
    Column("identity", JSONB, nullable=True),
    Index(
        "ix_runs_queued",
        "created_at",
        postgresql_where=text("status = 'pending' AND worker IS NULL"),
    ),
    Index(
        "ix_runs_inflight_lease",
        "lease_expires_at",
        postgresql_where=text("status IN ('pending', 'running')"),
    ),
    CheckConstraint(f"status IN {_listed(RUN_STATUSES)}", name="ck_runs_status"),
    CheckConstraint(
        "cancel_action IS NULL OR cancel_action IN ('interrupt', 'rollback')",
        name="ck_runs_cancel_action",
    ),
    Index("ix_runs_thread_created_at", "thread_id", "created_at"),
    Index(
        "ix_runs_inflight_owner",
        "owner",
        "thread_id",
        postgresql_where=text("status IN ('pending', 'running')"),
    ),
    Index(
        "ix_runs_inflight_user",
        "user_id",
        postgresql_where=text("status IN ('pending', 'running')"),
    ),
    Index(
        "ux_runs_one_running_per_thread",
        "thread_id",
        unique=True,
        postgresql_where=text("status = 'running'"),
    ),
)

run_events = Table(
    "run_events",
    metadata,
    Column(
        "run_id",
        UUID(as_uuid=True),
        ForeignKey("runs.run_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("event", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

thread_events = Table(
    "thread_events",
    metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "thread_id",
        UUID(as_uuid=True),
        ForeignKey("threads.thread_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "run_id",
        UUID(as_uuid=True),
        ForeignKey("runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_thread_events_thread_seq", "thread_id", "seq"),
    Index("ix_thread_events_run", "run_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("name", Text, nullable=False, server_default=text("''")),
    Column("prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

crons = Table(
    "crons",
    metadata,
    Column("cron_id", UUID(as_uuid=True), primary_key=True),
    Column(
        "assistant_id",
        UUID(as_uuid=True),
        ForeignKey("assistants.assistant_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "thread_id",
        UUID(as_uuid=True),
        ForeignKey("threads.thread_id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("owner", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("identity", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("schedule", Text, nullable=False),
    Column("timezone", Text, nullable=False, server_default=text("'UTC'")),
    Column("end_time", DateTime(timezone=True), nullable=True),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("next_run_date", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("on_run_completed", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "on_run_completed IS NULL OR on_run_completed IN ('delete', 'keep')",
        name="ck_crons_on_run_completed",
    ),
    Index("ix_crons_due", "next_run_date", postgresql_where=text("enabled")),
    Index("ix_crons_owner_created", "owner", "created_at"),
    Index("ix_crons_thread", "thread_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", UUID(as_uuid=True), primary_key=True),
    Column("run_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("owner", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("given_up_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("delivered_at IS NULL AND given_up_at IS NULL"),
    ),
)

# LangGraph's checkpointer and store own these; their revisions replay the library's DDL.
LANGGRAPH_TABLES = frozenset(
    {
        "checkpoint_migrations",
        "checkpoints",
        "checkpoint_blobs",
        "checkpoint_writes",
        "store_migrations",
        "store",
        "vector_migrations",
        "store_vectors",
    }
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate's filter: LangGraph's tables are versioned by replaying its own
    migration lists, not by comparing them with this metadata."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", None)
    return table_name not in LANGGRAPH_TABLES
