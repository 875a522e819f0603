"""Semantic store search through pgvector, with an OpenAI-compatible embeddings stub."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from langstar.db import migrations
from langstar.settings import Settings, StoreSettings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.openai_stub import openai_stub
from tests.support.settings import settings_for


@pytest.fixture
def settings(empty_database: str, tmp_path: Path) -> Settings:
    """An empty database, which the test migrates itself once embeddings are on."""
    return settings_for(empty_database, tmp_path)


async def test_query_ranks_items_by_meaning(
    empty_database: str, settings: Settings, make_app: MakeApp
) -> None:
    with openai_stub("unused") as (url, stub):
        store = StoreSettings(embedding_dims=32, embedding_base_url=url, embedding_model="emb")
        settings = msgspec.structs.replace(settings, store=store)
        await migrations.upgrade_async(empty_database, settings)
        app = make_app(settings)
        async with asgi_client(app) as client:
            for key, text in [
                ("pets", "my cat sleeps on the sofa"),
                ("food", "pasta with tomato sauce"),
                ("work", "the compiler emits machine code"),
            ]:
                body = {"namespace": ["notes"], "key": key, "value": {"text": text}}
                assert (await client.put("/store/items", json=body)).status_code == 204
            found = await client.post(
                "/store/items/search",
                json={
                    "namespace_prefix": ["notes"],
                    "query": "where does the cat sleep",
                    "limit": 3,
                },
            )
    items = found.json()["items"]
    assert items[0]["key"] == "pets"
    assert items[0]["score"] > items[1]["score"]
    assert any(r["path"].endswith("/embeddings") for r in stub.requests)
