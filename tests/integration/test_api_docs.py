"""The API docs: every documented URL answers, under `mount_prefix` too, and the page's
scripts, styles and icon are langstar's own, so the page works without the internet."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import msgspec
import pytest

from langstar.custom_routes import with_custom_routes
from langstar.settings import AuthSettings, HttpSettings, Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client

# The URLs the README and the start-up log name, under the API's prefix.
DOCS_URLS = ["/docs", "/docs/swagger", "/swagger", "/openapi.json"]
# Every src= and href= in the page, quoted either way.
LINKED = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""")

prefixes = pytest.mark.parametrize("prefix", ["", "/my-api"])


def with_prefix(settings: Settings, prefix: str) -> Settings:
    return msgspec.structs.replace(settings, http=HttpSettings(mount_prefix=prefix))


async def page_links(client: httpx.AsyncClient, url: str) -> list[str]:
    page = await client.get(url)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    return LINKED.findall(page.text)


@prefixes
async def test_every_documented_docs_url_answers(
    settings: Settings, make_app: MakeApp, prefix: str
) -> None:
    async with asgi_client(make_app(with_prefix(settings, prefix))) as client:
        for url in DOCS_URLS:
            answer = await client.get(prefix + url, follow_redirects=True)
            assert answer.status_code == 200, (url, answer.status_code)
            assert answer.url.path.startswith(prefix + "/")


@prefixes
async def test_the_docs_page_loads_only_files_langstar_serves(
    settings: Settings, make_app: MakeApp, prefix: str
) -> None:
    async with asgi_client(make_app(with_prefix(settings, prefix))) as client:
        for page in ("/docs", "/docs/swagger"):
            links = await page_links(client, prefix + page)
            assert links, "the page names no script, style or icon"
            assert not [link for link in links if not link.startswith(f"{prefix}/docs/")]
            for link in links:
                asset = await client.get(link)
                assert asset.status_code == 200, link
                assert len(asset.content) > 100, link


@prefixes
async def test_the_docs_page_lets_the_browser_load_from_langstar_only(
    settings: Settings, make_app: MakeApp, prefix: str
) -> None:
    async with asgi_client(make_app(with_prefix(settings, prefix))) as client:
        for page in ("/docs", "/docs/swagger"):
            policy = (await client.get(prefix + page)).headers["content-security-policy"]
            assert "default-src 'self'" in policy
            assert "unsafe" not in policy
            assert not {"*", "http:", "https:"} & set(policy.replace(";", " ").split())
            assert "http" not in policy


async def test_the_docs_need_no_credentials_under_a_prefix(
    settings: Settings, make_app: MakeApp
) -> None:
    keyed = msgspec.structs.replace(
        with_prefix(settings, "/my-api"), auth=AuthSettings(mode="api_key")
    )
    async with asgi_client(make_app(keyed)) as client:
        assert (await client.post("/my-api/threads", json={})).status_code == 401
        for link in ["/my-api/docs", *await page_links(client, "/my-api/docs")]:
            assert (await client.get(link)).status_code == 200, link


async def test_the_docs_page_shows_the_projects_own_routes_safely(
    make_app: MakeApp, tmp_path: Path
) -> None:
    (tmp_path / "routes.py").write_text(
        "from fastapi import FastAPI\n"
        "app = FastAPI()\n"
        "@app.get('/hello', summary='Say hello from the project', description='</script>')\n"
        "def hello() -> dict[str, str]:\n"
        "    return {'hello': 'world'}\n"
    )
    api = make_app()
    with_custom_routes(api, f"{tmp_path / 'routes.py'}:app", authenticate=False)
    async with asgi_client(api) as client:
        page = (await client.get("/docs")).text
    assert "Say hello from the project" in page
    # Inlined in the page's script, a description cannot end that script early.
    assert page.count("</script>") == page.count("<script")
