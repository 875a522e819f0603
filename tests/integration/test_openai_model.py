"""`model.provider = "openai"` against a local OpenAI-compatible stub: no network."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from dishka import Provider
from langchain_core.messages import HumanMessage

from langstar.models.providers import build_chat_model
from langstar.settings import ModelSettings, Settings, SettingsError
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.openai_stub import openai_stub
from tests.support.settings import settings_for


@pytest.fixture
def di_overrides() -> list[Provider]:
    """No fake model here: the model under test is the one the settings configure."""
    return []


@pytest.fixture
def settings(migrated_database: str, tmp_path: Path) -> Settings:
    return settings_for(migrated_database, tmp_path)


async def test_streams_token_by_token_from_the_endpoint() -> None:
    with openai_stub("Hello from the stub model") as (url, stub):
        model = build_chat_model(
            ModelSettings(provider="openai", base_url=url, model="stub-7b"),
            env={"OPENAI_API_KEY": "sk-test"},
        )
        chunks = [chunk.content async for chunk in model.astream([HumanMessage("hi")])]
    assert [c for c in chunks if c] == ["Hello ", "from ", "the ", "stub ", "model"]
    request = stub.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "stub-7b"
    assert request["body"]["stream"] is True
    assert request["auth"] == "Bearer sk-test"


async def test_the_agent_runs_on_the_configured_endpoint(
    settings: Settings, make_app: MakeApp
) -> None:
    with openai_stub("Nice to meet you, Ada.") as (url, stub):
        model = ModelSettings(provider="openai", base_url=url, model="local-llm", max_retries=0)
        app = make_app(msgspec.structs.replace(settings, model=model))
        async with asgi_client(app) as client:
            thread = (await client.post("/threads", json={})).json()["thread_id"]
            body = {
                "assistant_id": "agent",
                "input": {"messages": [{"role": "user", "content": "My name is Ada."}]},
            }
            response = await client.post(f"/threads/{thread}/runs/wait", json=body)
            assert response.json()["messages"][-1]["content"] == "Nice to meet you, Ada."

            stub.fail_with = 500
            failed = await client.post(f"/threads/{thread}/runs/wait", json=body)
            assert failed.status_code == 200
            assert "500" in failed.json()["__error__"]["message"]
            assert (await client.get(f"/threads/{thread}")).json()["status"] == "error"
    prompt = stub.requests[0]["body"]["messages"]
    assert prompt[0]["role"] == "system"
    assert "My name is Ada." in prompt[0]["content"]


def test_openai_itself_needs_a_key() -> None:
    with pytest.raises(SettingsError, match="OPENAI_API_KEY"):
        build_chat_model(ModelSettings(provider="openai"), env={})
