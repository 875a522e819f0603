"""The built-in agent remembers what a user says about themselves, across threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar

from langstar.models.offline import FACTS_HEADER
from langstar.settings import ModelSettings, Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.fakes import RecordingChatModel
from tests.support.settings import settings_for


@pytest.fixture
def settings(migrated_database: str, tmp_path: Path) -> Settings:
    """A database of each test's own, so no other test's memories reach these prompts."""
    return settings_for(migrated_database, tmp_path)


def say(text: str, user: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": text}]},
    }
    if user is not None:
        body["config"] = {"configurable": {"user_id": user}}
    return body


async def run(client: httpx.AsyncClient, text: str, user: str | None = None) -> str:
    thread = (await client.post("/threads", json={})).json()["thread_id"]
    response = await client.post(f"/threads/{thread}/runs/wait", json=say(text, user))
    assert response.status_code == 200, response.text
    return str(response.json()["messages"][-1]["content"])


async def test_a_fact_from_one_thread_reaches_the_prompt_in_another(
    app: Litestar, chat_model: RecordingChatModel
) -> None:
    async with asgi_client(app) as client:
        await run(client, "Hi! My name is Ada and I write compilers.", user="ada")
        await run(client, "What do you know about me?", user="ada")
        await run(client, "What do you know about me?", user="bob")
    ada_prompt, bob_prompt = chat_model.prompts[1][0].text, chat_model.prompts[2][0].text
    assert FACTS_HEADER in ada_prompt
    assert "My name is Ada and I write compilers." in ada_prompt
    assert "Ada" not in bob_prompt


@pytest.mark.parametrize("di_overrides", [[]], ids=["no-fake-model"])
async def test_the_offline_agent_answers_from_memory(settings: Settings, make_app: MakeApp) -> None:
    assert settings.model == ModelSettings()  # the real offline model, not a fake
    app = make_app(msgspec.structs.replace(settings, model=ModelSettings(provider="offline")))
    async with asgi_client(app) as client:
        await run(client, "My favourite language is OCaml.")
        answer = await run(client, "Which language is my favourite?")
    assert "OCaml" in answer
