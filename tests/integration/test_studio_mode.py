"""LangGraph Studio's way in, `x-auth-scheme: langsmith`, with a project's own Auth: a
development mode, off unless `auth.studio_mode` asks for it, in which a request from this
machine is Studio's user and the project's `StudioUser` branches run. With the mode off,
or the project's `disable_studio_auth`, the header changes nothing; from another address
it is refused."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from langstar.settings import AuthSettings, Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "studio"
STUDIO = {"x-auth-scheme": "langsmith"}
ALICE = {"authorization": "Bearer token-alice"}
ELSEWHERE = ("203.0.113.7", 40000)


def served(settings: Settings, tmp_path: Path, studio_mode: bool, **auth: Any) -> Settings:
    """Settings serving the studio project, its langgraph.json's `auth` given `auth` too."""
    folder = tmp_path / "studio"
    shutil.copytree(PROJECT, folder)
    config = json.loads((folder / "langgraph.json").read_text())
    config["auth"].update(auth)
    (folder / "langgraph.json").write_text(json.dumps(config))
    mode = msgspec.convert({"studio_mode": True} if studio_mode else {}, AuthSettings)
    return msgspec.structs.replace(settings, graphs_from=str(folder / "langgraph.json"), auth=mode)


@asynccontextmanager
async def clients(
    make_app: MakeApp, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A client on this machine (127.0.0.1), and one from another address."""
    app = make_app(settings)
    async with asgi_client(app) as here:
        transport = httpx.ASGITransport(app=app, client=ELSEWHERE)
        async with httpx.AsyncClient(transport=transport, base_url=str(here.base_url)) as there:
            yield here, there


async def test_the_studio_header_changes_nothing_unless_studio_mode_is_on(
    settings: Settings, tmp_path: Path, make_app: MakeApp
) -> None:
    async with clients(make_app, served(settings, tmp_path, studio_mode=False)) as (here, _):
        refused = await here.post("/threads", json={}, headers=STUDIO)
        assert (refused.status_code, refused.json()["detail"]) == (401, "Invalid or missing token")
        assert (await here.post("/threads", json={}, headers=ALICE)).status_code == 200


async def test_in_studio_mode_this_machine_is_studios_user_in_the_projects_handlers(
    settings: Settings, tmp_path: Path, make_app: MakeApp
) -> None:
    async with clients(make_app, served(settings, tmp_path, studio_mode=True)) as (here, _):
        made = await here.post("/threads", json={"metadata": {"title": "t"}}, headers=STUDIO)
        assert made.status_code == 200, made.text
        studio = made.json()
        assert studio["metadata"] == {"title": "t", "made_in": "studio, as langgraph-studio-user"}
        alice = (await here.post("/threads", json={}, headers=ALICE)).json()
        assert alice["metadata"]["owner"] == "alice"
        # Studio's branch filters nothing; Alice still sees only what is hers.
        seen = await here.post("/threads/search", json={}, headers=STUDIO)
        assert {t["thread_id"] for t in seen.json()} >= {studio["thread_id"], alice["thread_id"]}
        hers = {t["thread_id"] for t in (await here.post("/threads/search", json={},
                                                         headers=ALICE)).json()}  # fmt: skip
        assert (alice["thread_id"] in hers, studio["thread_id"] in hers) == (True, False)
        run = {"assistant_id": "echo", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        answer = await here.post(f"/threads/{studio['thread_id']}/runs/wait", json=run,
                                 headers=STUDIO)  # fmt: skip
        said = answer.json()["messages"][-1]["content"]
        assert said == "langgraph-studio-user (langgraph-studio-user) said: hi"


async def test_in_studio_mode_the_header_from_another_address_is_refused(
    settings: Settings, tmp_path: Path, make_app: MakeApp
) -> None:
    async with clients(make_app, served(settings, tmp_path, studio_mode=True)) as (_, there):
        for headers in (STUDIO, {**STUDIO, **ALICE}, {**STUDIO, "x-forwarded-for": "127.0.0.1"}):
            refused = await there.post("/threads", json={}, headers=headers)
            assert refused.status_code == 401, headers
            assert "only from this machine" in refused.json()["detail"]
        assert (await there.post("/threads", json={}, headers=ALICE)).status_code == 200


async def test_a_projects_disable_studio_auth_wins_over_studio_mode(
    settings: Settings, tmp_path: Path, make_app: MakeApp
) -> None:
    disabled = served(settings, tmp_path, studio_mode=True, disable_studio_auth=True)
    async with clients(make_app, disabled) as (here, _):
        refused = await here.post("/threads", json={}, headers=STUDIO)
        assert (refused.status_code, refused.json()["detail"]) == (401, "Invalid or missing token")


async def test_studio_mode_without_a_projects_auth_says_it_does_nothing(
    settings: Settings, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    on = msgspec.structs.replace(settings.auth, studio_mode=True)  # mode "none"
    with caplog.at_level(logging.WARNING, logger="langstar.auth"):
        async with asgi_client(make_app(msgspec.structs.replace(settings, auth=on))) as client:
            assert (await client.post("/threads", json={}, headers=STUDIO)).status_code == 200
    assert "auth.studio_mode does nothing: auth.mode is 'none'" in caplog.text
