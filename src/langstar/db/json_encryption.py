"""A project's JSON handlers (`@encryption.encrypt.json`, `@encryption.decrypt.json`) over
the JSON langstar keeps: thread metadata, config, values and interrupts; run metadata and
kwargs; assistant metadata, config and context; cron metadata and payload; store values;
checkpoint metadata.

As on LangGraph's server, the handlers must keep the keys and change only the values, so
that PostgreSQL can still merge and filter the documents; langstar's own keys (ids, system
fields it reads in SQL) are never handed to them; each sealed document carries the
encryption context it was sealed under in `__encryption_context__`, which is handed back
to the decrypt handler whoever reads it later; a document without it is plaintext (written
before the handlers were set) and reads as it is. Nested parts the server merges on their
own (a run's `config` and its `configurable`) are sealed on their own, each with its
marker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langgraph_sdk import Encryption, EncryptionContext
from langgraph_sdk.encryption.types import DecryptResult

from langstar.errors import JsonEncryptionError

MARKER = "__encryption_context__"
BLOB_MARKER = "__blob_encryption_context__"

# Keys never handed to the handlers, wherever they are: identifiers and the fields
# LangGraph and langstar read to run a graph or route a request.
NEVER: frozenset[str] = frozenset(
    {"thread_id", "run_id", "assistant_id", "graph_id", "checkpoint_id", "task_id", "cron_id",
     "checkpoint_ns", "__pregel_checkpointer", "__pregel_resuming", "__pregel_durability",
     "__pregel_stream", "__pregel_task_id", "__pregel_checkpoint_ns", "__after_seconds__",
     "__request_start_time_ms__", MARKER, BLOB_MARKER, "langgraph_version",
     "langgraph_api_version", "langgraph_plan", "langgraph_host", "langgraph_api_url",
     "langgraph_request_id", "langgraph_auth_user_id", "langgraph_auth_permissions"}
)  # fmt: skip
# What a run's kwargs say about how it is executed and delivered: read by langstar.
_RUN_KWARGS_PLAIN = (
    "stream_mode", "subgraphs", "resumable", "interrupt_before", "interrupt_after",
    "durability", "after_seconds", "temporary", "protocol", "webhook", "feedback_keys",
    "on_completion", "on_disconnect", "traceparent", "multitask_strategy",
    "checkpoint_during", "stream_subgraphs",
)  # fmt: skip
# Keys kept plaintext only at one place, written `model.field...key`.
NEVER_AT: frozenset[str] = frozenset(
    {
        *(f"run.kwargs.{key}" for key in _RUN_KWARGS_PLAIN),
        "run.kwargs.config.recursion_limit",
        "run.kwargs.config.max_concurrency",
        "run.kwargs.config.configurable.ttl",
        "checkpoint.metadata.source",
        "checkpoint.metadata.step",
        "checkpoint.metadata.parents",
        "checkpoint.metadata.run_attempt",
        "checkpoint.metadata.counters_since_delta_snapshot",
    }
)
# Parts sealed on their own, each with its marker: (model, field) -> its parts.
NESTED: dict[tuple[str, str], tuple[str, ...]] = {
    ("run", "kwargs"): ("input", "config", "context", "command"),
    ("run", "config"): ("configurable", "metadata"),
    ("cron", "payload"): ("metadata", "context", "input", "config"),
    ("cron", "config"): ("configurable", "metadata"),
    ("assistant", "config"): ("configurable",),
    ("thread", "config"): ("configurable",),
}


class JsonCipher:
    """Seals and opens JSON documents with the project's JSON handlers."""

    def __init__(
        self,
        encryption: Encryption | None = None,
        context: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self._context = context  # the encryption context of what is written now
        self._encrypt = None if encryption is None else encryption._json_encryptor
        self._decrypt = None if encryption is None else encryption._json_decryptor

    @property
    def sealing(self) -> bool:
        """Whether what is written now is sealed."""
        return self._encrypt is not None

    async def seal(self, model: str, field: str, data: Any, path: str | None = None) -> Any:
        """`data` sealed for storage as `model`'s `field` (a dict; anything else, and an
        empty dict, is stored as it is)."""
        if not isinstance(data, Mapping) or not data or self._encrypt is None:
            return data
        if MARKER in data:
            raise JsonEncryptionError(f"{model} {field} is sealed already: not sealed again")
        where = path or model
        here = f"{where}.{field}"
        parts = {
            k: data[k] for k in NESTED.get((model, field), ()) if isinstance(data.get(k), dict)
        }
        kept = {k: v for k, v in data.items() if k in NEVER or f"{here}.{k}" in NEVER_AT}
        given = {k: v for k, v in data.items() if k not in kept and k not in parts}
        context = self._context()
        sealed: dict[str, Any] = {}
        if given:
            sealed = await self._encrypted(model, field, given, context)
            sealed[MARKER] = context
        for key, part in parts.items():
            sealed[key] = await self.seal(model, key, part, path=here) if part else part
        return {**sealed, **kept}

    async def _encrypted(
        self, model: str, field: str, data: dict[str, Any], context: dict[str, Any]
    ) -> dict[str, Any]:
        assert self._encrypt is not None
        try:
            sealed = await self._encrypt(EncryptionContext(model, context, field), data)
        except Exception as exc:
            raise JsonEncryptionError(
                f"the project's @encryption.encrypt.json failed on {model} {field}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(sealed, dict):
            raise JsonEncryptionError(
                f"the project's @encryption.encrypt.json returned {type(sealed).__name__} for "
                f"{model} {field}, not a dict: encrypt each value and keep the keys"
            )
        if sealed.keys() != data.keys():
            added, removed = (
                sorted(sealed.keys() - data.keys()),
                sorted(data.keys() - sealed.keys()),
            )
            raise JsonEncryptionError(
                f"the project's @encryption.encrypt.json changed the keys of {model} {field} "
                f"(added {added}, removed {removed}): it must keep every key and change only "
                "values, so that the server can still merge and filter them"
            )
        return dict(sealed)

    async def open(self, model: str, field: str, data: Any) -> Any:
        """`data` as it was before `seal`; plaintext reads as it is."""
        if not isinstance(data, dict):
            return data
        opened = await self._opened(model, field, data)
        for key in NESTED.get((model, field), ()):
            if isinstance(opened.get(key), dict):
                opened[key] = await self.open(model, key, opened[key])
        return opened

    async def _opened(self, model: str, field: str, data: dict[str, Any]) -> dict[str, Any]:
        if MARKER not in data:
            if BLOB_MARKER not in data:
                return data
            return {k: v for k, v in data.items() if k != BLOB_MARKER}
        plain = {k: v for k, v in data.items() if k not in (MARKER, BLOB_MARKER)}
        if self._decrypt is None:
            raise JsonEncryptionError(f"{model} {field} is sealed: {NO_DECRYPTOR}")
        context = data[MARKER] if isinstance(data[MARKER], dict) else {}
        try:
            found = await self._decrypt(EncryptionContext(model, context, field), plain)
        except Exception as exc:
            raise JsonEncryptionError(
                f"{model} {field} does not decrypt with the project's @encryption.decrypt.json "
                f"({type(exc).__name__}: {exc}): it was written under another key or context, "
                "or altered"
            ) from exc
        if isinstance(found, DecryptResult):
            found = found.plaintext
        if not isinstance(found, dict):
            raise JsonEncryptionError(
                f"the project's @encryption.decrypt.json returned {type(found).__name__} for "
                f"{model} {field}, not a dict"
            )
        return {k: v for k, v in found.items() if k not in (MARKER, BLOB_MARKER)}

    async def seal_fields(
        self, model: str, obj: Mapping[str, Any], fields: Iterable[str]
    ) -> dict[str, Any]:
        """A copy of `obj` with each of `fields` sealed."""
        sealed = dict(obj)
        for field in fields:
            if field in sealed:
                sealed[field] = await self.seal(model, field, sealed[field])
        return sealed

    async def open_fields(
        self, model: str, row: dict[str, Any], fields: Iterable[str]
    ) -> dict[str, Any]:
        """`row` (changed in place, and returned) with each of `fields` opened."""
        for field in fields:
            if row.get(field):
                row[field] = await self.open(model, field, row[field])
        return row


NO_DECRYPTOR = (
    "the project's langgraph_sdk.Encryption has no @encryption.decrypt.json, or none is "
    "configured (langgraph.json encryption.path)"
)

THREAD_FIELDS = ("metadata", "config", "values", "interrupts")
RUN_FIELDS = ("metadata", "kwargs")
ASSISTANT_FIELDS = ("metadata", "config", "context")
CRON_FIELDS = ("metadata", "payload")
