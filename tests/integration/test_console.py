"""The console's files at /ui: public, with a strict CSP, under the prefix, and switchable."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from langstar.auth.keys import create_key
from langstar.project import apply_project
from langstar.settings import AuthSettings, HttpSettings, Settings, load_settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client


async def test_the_page_and_its_files_carry_a_strict_policy(
    settings: Settings, make_app: MakeApp
) -> None:
    async with asgi_client(make_app(settings)) as client:
        page = await client.get("/ui")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe" not in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        # No inline script: every script is a file of the console's own.
        assert '<script type="module" src="ui/console.js"></script>' in page.text
        assert "<script>" not in page.text
        for name, media in (("console.js", "text/javascript"), ("api.js", "text/javascript"),
                            ("branches.js", "text/javascript"), ("graph.js", "text/javascript"),
                            ("console.css", "text/css")):  # fmt: skip
            served = await client.get(f"/ui/{name}")
            assert served.status_code == 200, name
            assert served.headers["content-type"].startswith(media)
            assert served.headers["content-security-policy"] == policy
        slash = await client.get("/ui/", follow_redirects=False)
        assert slash.status_code == 308
        assert slash.headers["location"] == "../ui"


@pytest.mark.parametrize(
    "path", ["/ui/nothing.js", "/ui/__init__.py", "/ui/..%2Fcontrollers.py", "/ui/.hidden.js"]
)
async def test_only_the_console_files_are_served(
    settings: Settings, make_app: MakeApp, path: str
) -> None:
    async with asgi_client(make_app(settings)) as client:
        assert (await client.get(path)).status_code == 404


async def test_the_page_needs_no_key_but_the_api_does(
    settings: Settings, make_app: MakeApp, migrated_url: str
) -> None:
    _, key = await create_key(migrated_url, "carol")
    locked = msgspec.structs.replace(settings, auth=AuthSettings(mode="api_key"))
    async with asgi_client(make_app(locked)) as client:
        assert (await client.get("/ui")).status_code == 200
        assert (await client.get("/ui/console.js")).status_code == 200
        assert (await client.post("/assistants/search", json={})).status_code == 401
        found = await client.post("/assistants/search", json={}, headers={"x-api-key": key})
        assert found.status_code == 200


async def test_the_console_follows_the_mount_prefix(settings: Settings, make_app: MakeApp) -> None:
    prefixed = msgspec.structs.replace(settings, http=HttpSettings(mount_prefix="/my-api"))
    async with asgi_client(make_app(prefixed)) as client:
        assert (await client.get("/ui")).status_code == 404
        assert (await client.get("/my-api/ui")).status_code == 200
        assert (await client.get("/my-api/ui/console.js")).status_code == 200
        moved = await client.get("/my-api/ui/", follow_redirects=True)
        assert str(moved.url).endswith("/my-api/ui")


async def test_disable_ui_leaves_the_console_out(settings: Settings, make_app: MakeApp) -> None:
    off = msgspec.structs.replace(settings, http=HttpSettings(disable_ui=True))
    async with asgi_client(make_app(off)) as client:
        for path in ("/ui", "/ui/console.js", "/ui/index.html"):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.post("/threads", json={})).status_code == 200


def test_disable_ui_is_set_by_the_environment_and_by_langgraph_json(tmp_path: Path) -> None:
    assert load_settings(env={"LANGSTAR_HTTP__DISABLE_UI": "true"}).http.disable_ui
    assert not load_settings(env={}).http.disable_ui
    project = tmp_path / "langgraph.json"
    project.write_text(json.dumps({"graphs": {"agent": "langstar.agents.chat:graph"},
                                   "http": {"disable_ui": True}}))  # fmt: skip
    assert apply_project(Settings(graphs_from=str(project))).http.disable_ui
