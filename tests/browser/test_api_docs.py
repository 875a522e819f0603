"""The API docs in a real Chromium against a real langstar process, with every host but the
server's cut off: the page must render the API's operations from langstar's own files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.support.console import chromium, console_env, console_server
from tests.support.server import ServerProcess

TIMEOUT = 30_000


@pytest.fixture(scope="module", params=["", "/my-api"], ids=["at-the-root", "under-a-prefix"])
def server(
    request: pytest.FixtureRequest, migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = console_env(
        migrated_url, LANGSTAR_HTTP__MOUNT_PREFIX=request.param, LANGSTAR_LOG_LEVEL="info"
    )
    with console_server(env, tmp_path_factory.mktemp("docs")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def docs_url(server: ServerProcess) -> str:
    """The docs URL the start-up log names, on the server's own address."""
    named = re.search(r"API docs: (\S+)", server.read_log())
    assert named is not None, server.read_log()
    return server.url + urlsplit(named.group(1)).path


def offline_page(browser: Browser, server: ServerProcess, elsewhere: list[str]) -> Page:
    """A tab that reaches only the server: any other request is cut off and noted."""
    context = browser.new_context()
    ours = urlsplit(server.url).netloc

    def only_the_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    return context.new_page()


def test_the_docs_render_the_operations_without_the_internet(
    browser: Browser, server: ServerProcess, tmp_path: Path
) -> None:
    elsewhere: list[str] = []
    errors: list[str] = []
    page = offline_page(browser, server, elsewhere)
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A script or style the page's policy refused is reported here.
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    response = page.goto(docs_url(server))
    assert response is not None
    assert response.ok
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert elsewhere == []
    search = page.locator(".opblock", has_text="/threads/search")
    expect(search.first).to_be_visible(timeout=TIMEOUT)
    assert page.locator(".opblock").count() > 20
    # The Swagger UI stylesheet applied: an operation's method is a coloured badge.
    method = search.first.locator(".opblock-summary-method")
    assert method.evaluate("node => getComputedStyle(node).backgroundColor") != "rgba(0, 0, 0, 0)"
    page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
    page.context.close()
    assert elsewhere == []
    assert errors == []


def test_try_it_out_calls_the_api_under_its_prefix(browser: Browser, server: ServerProcess) -> None:
    elsewhere: list[str] = []
    page = offline_page(browser, server, elsewhere)
    docs = docs_url(server)
    prefix = urlsplit(docs).path.removesuffix("/docs")
    page.goto(docs)
    info = page.locator(".opblock", has=page.locator(f"[data-path='{prefix}/info']"))
    info.locator(".opblock-summary").click()
    info.get_by_role("button", name="Try it out").click()
    info.get_by_role("button", name="Execute").click()
    expect(info.locator(".request-url")).to_contain_text(f"{server.url}{prefix}/info")
    expect(
        info.locator(".live-responses-table td.response-col_status:not(.col_header)")
    ).to_have_text("200", timeout=TIMEOUT)
    expect(info.locator(".live-responses-table")).to_contain_text("langgraph_py_version")
    page.context.close()
    assert elsewhere == []
