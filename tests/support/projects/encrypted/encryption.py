"""At-rest encryption as LangGraph's custom-encryption docs write it: a key per tenant,
derived from a master key in the environment, the tenant taken from the caller.

The cipher (a keyed stream with an authentication tag) stands in for a KMS: what matters
is that a blob only opens under the key and the tenant it was sealed with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from langgraph_sdk import Encryption, EncryptionContext

encryption = Encryption()
TAG = 16


def _key(ctx: EncryptionContext) -> bytes:
    master = os.environ["DIARY_MASTER_KEY"].encode()
    return hashlib.sha256(master + b"/" + str(ctx.metadata.get("tenant")).encode()).digest()


def _stream(key: bytes, nonce: bytes, size: int) -> bytes:
    blocks = (
        hashlib.sha256(key + nonce + i.to_bytes(8, "big")).digest() for i in range(size // 32 + 1)
    )
    return b"".join(blocks)[:size]


@encryption.encrypt.blob
async def encrypt_blob(ctx: EncryptionContext, blob: bytes) -> bytes:
    key, nonce = _key(ctx), os.urandom(16)
    body = bytes(a ^ b for a, b in zip(blob, _stream(key, nonce, len(blob)), strict=True))
    return nonce + hmac.new(key, nonce + body, "sha256").digest()[:TAG] + body


@encryption.decrypt.blob
async def decrypt_blob(ctx: EncryptionContext, blob: bytes) -> bytes:
    key, nonce, tag, body = _key(ctx), blob[:16], blob[16 : 16 + TAG], blob[16 + TAG :]
    if not hmac.compare_digest(tag, hmac.new(key, nonce + body, "sha256").digest()[:TAG]):
        raise ValueError("authentication tag mismatch")
    return bytes(a ^ b for a, b in zip(body, _stream(key, nonce, len(body)), strict=True))


@encryption.context
async def tenant_context(user: Any, ctx: EncryptionContext) -> dict[str, Any]:
    """The caller's tenant, beside what the X-Encryption-Context header carried."""
    return {**ctx.metadata, "tenant": getattr(user, "tenant", None)}


# The same, with JSON handlers too, written as the SDK's docs write them: each value is
# sealed on its own behind a prefix, the keys are kept, and a few fields the project filters
# on stay readable.
with_json = Encryption()
with_json.encrypt.blob(encrypt_blob)
with_json.decrypt.blob(decrypt_blob)
with_json.context(tenant_context)
PREFIX = "enc:"
READABLE = {"owner", "tenant"}


@with_json.encrypt.json
async def encrypt_json(ctx: EncryptionContext, data: dict[str, Any]) -> dict[str, Any]:
    sealed = {}
    for key, value in data.items():
        if key in READABLE or value is None:
            sealed[key] = value
        else:
            blob = await encrypt_blob(ctx, json.dumps(value).encode())
            sealed[key] = PREFIX + base64.b64encode(blob).decode()
    return sealed


@with_json.decrypt.json
async def decrypt_json(ctx: EncryptionContext, data: dict[str, Any]) -> dict[str, Any]:
    opened = {}
    for key, value in data.items():
        if isinstance(value, str) and value.startswith(PREFIX):
            blob = base64.b64decode(value.removeprefix(PREFIX))
            opened[key] = json.loads(await decrypt_blob(ctx, blob))
        else:
            opened[key] = value
    return opened


# A JSON encryptor without its decryptor: what it sealed could never be read.
half_json = Encryption()
half_json.encrypt.json(encrypt_json)
