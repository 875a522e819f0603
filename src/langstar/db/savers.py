"""A Postgres checkpointer that is not serialised behind one lock per process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, Literal, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_TYPES
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from langstar.db.encryption import BlobEncryption
from langstar.db.fencing import FENCE_SQL, current_fence
from langstar.db.json_encryption import JsonCipher
from langstar.db.serializer import AesReader, CheckpointCipher, CheckpointSerializer, aes_key
from langstar.settings import DatabaseSettings

T = TypeVar("T")
# Set while a delta history is read: the rows to build it from, decrypted first.
_STAGED: ContextVar[list[dict[str, Any]] | None] = ContextVar("langstar_staged", default=None)

# A checkpoint with its blobs and pending writes: the columns LangGraph's saver reads.
# LangGraph's own query joins the checkpoint's channel versions to the thread's blobs,
# and PostgreSQL, guessing a hundred versions, hashes every blob of the thread: a thread
# of a thousand checkpoints read a thousand blobs for its latest state. Here each version
# looks up its one blob (`limit 1` keeps the lookup a lookup), whatever the thread's length.
SELECT_CHECKPOINT_SQL = """
select
    thread_id,
    checkpoint,
    checkpoint_ns,
    checkpoint_id,
    parent_checkpoint_id,
    metadata,
    (
        select array_agg(array[bl.channel::bytea, bl.type::bytea, bl.blob])
        from jsonb_each_text(checkpoint -> 'channel_versions') as versions (channel, version)
        cross join lateral (
            select b.channel, b.type, b.blob
            from checkpoint_blobs b
            where b.thread_id = checkpoints.thread_id
                and b.checkpoint_ns = checkpoints.checkpoint_ns
                and b.channel = versions.channel
                and b.version = versions.version
            limit 1
        ) as bl
    ) as channel_values,
    (
        select array_agg(array[
            cw.task_id::text::bytea, cw.channel::bytea, cw.type::bytea, cw.blob,
            convert_to(cw.task_path, 'UTF8'), cw.idx::text::bytea
        ])
        from checkpoint_writes cw
        where cw.thread_id = checkpoints.thread_id
            and cw.checkpoint_ns = checkpoints.checkpoint_ns
            and cw.checkpoint_id = checkpoints.checkpoint_id
    ) as pending_writes
from checkpoints """

# Serialising a value costs about as much as the thread hand-off that would move it off
# the event loop, until a value holds many items (a long message list). Up to this many
# items in one call, values are serialised on the loop; beyond it, in a worker thread.
INLINE_ITEMS = 64


def _items(values: Iterable[Any]) -> int:
    """A rough serialisation cost: one per value, plus the length of each container."""
    return sum(len(v) if isinstance(v, list | dict | set | tuple) else 1 for v in values)


async def _dump(items: int, dump: Callable[..., T], *args: Any) -> T:
    if items <= INLINE_ITEMS:
        return dump(*args)
    return await asyncio.to_thread(dump, *args)


def _metadata(config: RunnableConfig, metadata: CheckpointMetadata) -> dict[str, Any]:
    """What LangGraph keeps of a checkpoint's metadata, and the thread's id where the
    config's metadata names it (runs and updates; not LangGraph's own forks), which
    LangGraph leaves out and LangGraph's server keeps (clients filter history by it)."""
    kept: dict[str, Any] = dict(get_serializable_checkpoint_metadata(config, metadata))
    named = (config.get("metadata") or {}).get("thread_id")
    if named is not None:
        kept["thread_id"] = named
    return kept


def _primitive(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _split_values(
    checkpoint: Checkpoint, new_versions: ChannelVersions, *, encrypted: bool
) -> tuple[dict[str, Any], dict[str, Any], ChannelVersions]:
    """The values kept inline in the checkpoint's row, those kept as blobs, and the blob
    versions to write.

    Primitive values live inline, as LangGraph's saver keeps them, but the row is JSONB,
    never encrypted: with a key every value is a blob. A primitive that an unchanged channel
    kept inline before the key was set has no blob yet, so it gets one at its version (a
    blob already there is left as it is).
    """
    inline: dict[str, Any] = {}
    blobs: dict[str, Any] = {}
    for channel, value in checkpoint["channel_values"].items():
        if isinstance(value, _DeltaSnapshot):
            blobs[channel] = value
            inline[channel] = True  # marks the blob as a snapshot, not a plain value
        elif _primitive(value) and not encrypted:
            inline[channel] = value
        else:
            blobs[channel] = value
    versions = {k: v for k, v in new_versions.items() if k in blobs}
    if encrypted:
        known = checkpoint["channel_versions"]
        carried = {k: known[k] for k, v in blobs.items() if k in known and _primitive(v)}
        versions = {**carried, **versions}
    return inline, blobs, versions


class PooledPostgresSaver(AsyncPostgresSaver):
    """`AsyncPostgresSaver` that checks out a pooled connection per call.

    The stock saver holds one `asyncio.Lock` around every cursor, even over a pool, so one
    shared instance runs a single checkpoint statement at a time for the whole server. A
    pooled connection is never handed to two callers at once, so the lock buys nothing here.

    The stock saver also serialises every checkpoint and write, and deserialises every
    checkpoint's pending writes, in a worker thread. For a small checkpoint the hand-off
    between threads costs more than the work, so small ones are handled on the event loop
    and only large ones go to a thread. The rows written are the stock saver's;
    `tests/integration/test_savers.py` holds the two to that.

    It reads a checkpoint's blobs one lookup per channel (`SELECT_CHECKPOINT_SQL`).

    With a project's `Encryption` (`blobs`), its blob handlers encrypt every value and write
    once serialised, and decrypt them before they are read.
    """

    conn: AsyncConnectionPool[AsyncConnection[DictRow]]
    SELECT_SQL = SELECT_CHECKPOINT_SQL

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[DictRow]],
        serde: SerializerProtocol | None = None,
        blobs: BlobEncryption | None = None,
        cipher: JsonCipher | None = None,
    ) -> None:
        super().__init__(pool, serde=serde)
        self.blobs = blobs if blobs is not None and blobs.enabled else None
        self.cipher = cipher or JsonCipher()  # the project's JSON handlers, for the metadata

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        async with self.conn.connection() as conn:
            if pipeline and self.supports_pipeline:
                async with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            elif pipeline:
                async with (
                    conn.transaction(),
                    conn.cursor(binary=True, row_factory=dict_row) as cur,
                ):
                    yield cur
            else:
                async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint: primitive channel values inline (unless encrypted), the others
        as blobs."""
        configurable = config["configurable"]
        thread_id = configurable["thread_id"]
        namespace = configurable["checkpoint_ns"]
        encrypted = isinstance(self.serde, EncryptedSerializer) or self.blobs is not None
        inline, blobs, versions = _split_values(checkpoint, new_versions, encrypted=encrypted)
        rows = (
            await _dump(
                _items(blobs[k] for k in versions),
                self._dump_blobs,
                thread_id,
                namespace,
                blobs,
                versions,
            )
            if versions
            else []
        )
        if self.blobs is not None:
            rows = [(*row[:4], *await self.blobs.encrypt(row[4], row[5])) for row in rows]
        kept = await self.cipher.seal("checkpoint", "metadata", _metadata(config, metadata))
        fence = current_fence()
        async with self._cursor(pipeline=True) as cur:
            if fence is not None:  # in the write's transaction: a lost run writes nothing
                await cur.execute(FENCE_SQL, fence)
            if rows:
                await cur.executemany(self.UPSERT_CHECKPOINT_BLOBS_SQL, rows)
            await cur.execute(
                self.UPSERT_CHECKPOINTS_SQL,
                (
                    thread_id,
                    namespace,
                    checkpoint["id"],
                    configurable.get("checkpoint_id"),
                    Jsonb({**checkpoint, "channel_values": inline}),
                    Jsonb(kept),
                ),
            )
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": namespace,
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Save a task's writes; special channels overwrite, the others are added once."""
        special = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        query = self.UPSERT_CHECKPOINT_WRITES_SQL if special else self.INSERT_CHECKPOINT_WRITES_SQL
        configurable = config["configurable"]
        rows = await _dump(
            _items(value for _, value in writes),
            self._dump_writes,
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        if self.blobs is not None:
            sealed = [(*row[:7], *await self.blobs.encrypt(row[7], row[8])) for row in rows]
            rows = sealed  # type: ignore[assignment]  # a write's blob is never None
        fence = current_fence()
        async with self._cursor(pipeline=True) as cur:
            if fence is not None:
                await cur.execute(FENCE_SQL, fence)
            await cur.executemany(query, rows)

    async def _load_checkpoint_tuple(self, value: DictRow) -> CheckpointTuple:
        if self.blobs is not None:
            value = await self._decrypted(value)
        if value.get("metadata"):
            metadata = await self.cipher.open("checkpoint", "metadata", value["metadata"])
            value = {**value, "metadata": metadata}
        if len(value["pending_writes"] or ()) > INLINE_ITEMS:
            return await super()._load_checkpoint_tuple(value)
        # The synchronous saver builds the same tuple without the thread hand-off.
        return PostgresSaver._load_checkpoint_tuple(self, value)  # type: ignore[arg-type]

    async def _decrypted(self, value: DictRow) -> DictRow:
        """The row with its blobs and writes decrypted by the project's blob handlers."""
        assert self.blobs is not None
        blobs, writes = [], []
        for channel, kind, blob in value["channel_values"] or ():
            kind, blob = await self.blobs.decrypt(bytes(kind).decode(), blob)
            blobs.append([channel, kind.encode(), blob])
        for task, channel, kind, blob, *rest in value["pending_writes"] or ():
            kind, blob = await self.blobs.decrypt(bytes(kind).decode(), blob)
            writes.append([task, channel, kind.encode(), blob, *rest])
        return {**value, "channel_values": blobs or None, "pending_writes": writes or None}

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """LangGraph's delta history, its writes and seed blobs decrypted before use."""
        if self.blobs is None:
            return await super().aget_delta_channel_history(config=config, channels=channels)
        staged: list[dict[str, Any]] = []
        token = _STAGED.set(staged)
        try:
            found = await super().aget_delta_channel_history(config=config, channels=channels)
        finally:
            _STAGED.reset(token)
        if not staged:
            return found
        (built,) = staged
        rows = []
        for row in built["stage2_rows"]:
            kind, blob = await self.blobs.decrypt(row.get("type") or "", row.get("blob"))
            rows.append({**row, "type": kind, "blob": blob})
        built["stage2_rows"] = rows
        return super()._build_delta_channels_writes_history(**built)

    def _build_delta_channels_writes_history(self, **kwargs: Any) -> dict[str, DeltaChannelHistory]:
        staged = _STAGED.get()
        if staged is None:
            return super()._build_delta_channels_writes_history(**kwargs)
        staged.append(kwargs)  # built once decrypted, by aget_delta_channel_history
        return {}


def checkpoint_serializer(
    settings: DatabaseSettings,
    env: Mapping[str, str] | None = None,
    *,
    own_encryption: bool = False,
) -> SerializerProtocol:
    """How checkpoints are written and read back: strict by default, encrypted when
    `LANGGRAPH_AES_KEY` is set (values written before it was set still read as they are).
    With the project's own blob encryption (`own_encryption`), the key only reads.

    A checkpoint may name any Python type, which would be imported and called when it is
    loaded; strict mode only builds LangGraph's safe types (messages, documents, dates,
    ...), the types the graphs' state schemas declare, and `checkpoint_allowed_types`.
    A value msgpack cannot encode is stored pickled, and read back only with
    `checkpoint_pickle_fallback`: unpickling runs any code the stored bytes name.
    """
    allowed: list[tuple[str, ...]] | Literal[True] = True
    if settings.strict_checkpoint_types:
        extra = [tuple(name.rsplit(".", 1)) for name in settings.checkpoint_allowed_types]
        allowed = [*SAFE_MSGPACK_TYPES, *extra]
    serde = CheckpointSerializer(
        allowed_msgpack_modules=allowed, read_pickles=settings.checkpoint_pickle_fallback
    )
    key = aes_key(env)
    if key is None:
        return serde
    if own_encryption:
        return AesReader(CheckpointCipher(key), serde)
    return EncryptedSerializer(CheckpointCipher(key), serde)
