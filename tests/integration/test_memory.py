"""The built-in agent remembers what a user says about themselves, across threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgspec

from langstar.app import create_app
from langstar.models.offline import FACTS_HEADER
from langstar.settings import ModelSettings
from tests.conftest import settings_for
from tests.support.asgi import asgi_client
from tests.support.fakes import FakeModelProvider, RecordingChatModel


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
    migrated_database: str, tmp_path: Path
) -> None:
    model = RecordingChatModel()
    app = create_app(settings_for(migrated_database, tmp_path), FakeModelProvider(model))
    async with asgi_client(app) as client:
        await run(client, "Hi! My name is Ada and I write compilers.", user="ada")
        await run(client, "What do you know about me?", user="ada")
        await run(client, "What do you know about me?", user="bob")
    ada_prompt, bob_prompt = model.prompts[1][0].text, model.prompts[2][0].text
    assert FACTS_HEADER in ada_prompt
    assert "My name is Ada and I write compilers." in ada_prompt
    assert "Ada" not in bob_prompt


async def test_the_offline_agent_answers_from_memory(
    migrated_database: str, tmp_path: Path
) -> None:
    settings = settings_for(migrated_database, tmp_path)
    assert settings.model == ModelSettings()  # the real offline model, not a fake
    app = create_app(msgspec.structs.replace(settings, model=ModelSettings(provider="offline")))
    async with asgi_client(app) as client:
        await run(client, "My favourite language is OCaml.")
        answer = await run(client, "Which language is my favourite?")
    assert "OCaml" in answer
