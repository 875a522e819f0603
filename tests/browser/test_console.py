"""The console at /ui, in a real Chromium against a real langstar process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from langstar.auth.keys import create_key
from tests.support.console import chromium, console_env, console_server
from tests.support.server import ServerProcess

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with console_server(console_env(migrated_url), tmp_path_factory.mktemp("console")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (own storage); any script error or policy violation fails the test."""
    context = browser.new_context()
    page = context.new_page()
    complaints: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if message.type == "error" and "401" not in message.text:
            complaints.append(message.text)

    page.on("console", listen)
    page.on("pageerror", lambda error: complaints.append(str(error)))
    yield page
    context.close()
    assert complaints == []


def open_console(page: Page, url: str, assistant: str) -> None:
    response = page.goto(f"{url}/ui?assistant={assistant}")
    assert response is not None
    assert response.ok
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "unsafe" not in policy
    expect(page.get_by_label("Assistant")).to_have_value(
        page.get_by_label("Assistant").locator("option", has_text=assistant).get_attribute("value")
        or "",
        timeout=TIMEOUT,
    )


def say(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def thread_of(page: Page) -> str:
    title = page.locator("#thread-title").text_content() or ""
    return title.removeprefix("Thread ").strip()


def test_a_reply_streams_in_token_by_token(page: Page, server: ServerProcess) -> None:
    open_console(page, server.url, "agent")
    said = "Tell the graph that the console streams every token"
    say(page, said)
    reply = page.locator("#messages .msg.ai").last
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = reply.text_content() if reply.count() else None
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if text and text.endswith(said):
            break
        time.sleep(0.02)
    final = f"aiNoted. You said: {said}"
    assert seen[-1] == final
    # Seen part way: more than nothing, less than the whole reply.
    assert any("ai" < text < final and final.startswith(text) for text in seen[:-1]), seen
    expect(page.locator("#runs .status-success")).to_have_count(1, timeout=TIMEOUT)
    thread = thread_of(page)
    expect(page.locator("#threads button[aria-current=true]")).to_contain_text(thread[:8])
    expect(page.locator("#state")).to_contain_text(said)
    state = httpx.get(f"{server.url}/threads/{thread}/state", timeout=10).json()
    assert [m["content"] for m in state["values"]["messages"]] == [said, final[2:]]
    # The thread is found again by searching for its id.
    page.get_by_label("Search threads").fill(thread)
    expect(page.locator("#threads li")).to_have_count(1, timeout=TIMEOUT)
    page.get_by_label("Search threads").fill("no-such-thread")
    expect(page.locator("#threads li")).to_have_count(0, timeout=TIMEOUT)


def test_an_interrupt_is_shown_and_answered(page: Page, server: ServerProcess) -> None:
    open_console(page, server.url, "hitl")
    say(page, "deploy to production")
    expect(page.locator("#interrupt")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#interrupt-value")).to_contain_text('"question": "approve?"')
    expect(page.locator("#runs tbody tr")).to_have_count(1, timeout=TIMEOUT)
    page.get_by_label("Answer").fill("yes")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#messages .msg.ai").last).to_have_text("aiapproved: yes", timeout=TIMEOUT)
    expect(page.locator("#interrupt")).to_be_hidden()
    expect(page.locator("#runs tbody tr")).to_have_count(2, timeout=TIMEOUT)
    state = httpx.get(f"{server.url}/threads/{thread_of(page)}/state", timeout=10).json()
    assert state["interrupts"] == []
    assert state["values"]["messages"][-1]["content"] == "approved: yes"


def test_a_run_again_from_an_earlier_checkpoint_forks_the_thread(
    page: Page, server: ServerProcess
) -> None:
    open_console(page, server.url, "agent")
    say(page, "first words")
    expect(page.locator("#runs .status-success")).to_have_count(1, timeout=TIMEOUT)
    thread = thread_of(page)
    history = httpx.post(
        f"{server.url}/threads/{thread}/history", json={"limit": 20}, timeout=10
    ).json()
    before_reply = next(c for c in history if c["next"] == ["respond"])
    step = before_reply["metadata"]["step"]
    row = page.locator(f"#history li:has(span:text-is('step {step}'))")
    row.get_by_role("button", name="Run again from here").click()
    expect(page.locator("#runs .status-success")).to_have_count(2, timeout=TIMEOUT)
    state = httpx.get(f"{server.url}/threads/{thread}/state", timeout=10).json()
    # The new reply grew from the chosen checkpoint, not from the end of the thread.
    after = httpx.post(
        f"{server.url}/threads/{thread}/history", json={"limit": 20}, timeout=10
    ).json()
    parents = {c["checkpoint"]["checkpoint_id"]: c["parent_checkpoint"] for c in after}
    line, at = [], state["checkpoint"]["checkpoint_id"]
    while at is not None:
        line.append(at)
        parent = parents.get(at)
        at = parent["checkpoint_id"] if parent else None
    assert before_reply["checkpoint"]["checkpoint_id"] in line
    assert history[0]["checkpoint"]["checkpoint_id"] not in line
    assert [m["content"] for m in state["values"]["messages"]] == [
        "first words",
        "Noted. You said: first words",
    ]
    assert len(after) > len(history)


def test_a_failed_run_shows_its_error(page: Page, server: ServerProcess) -> None:
    open_console(page, server.url, "failing")
    say(page, "anything")
    expect(page.locator("#run-error")).to_contain_text("this graph always fails", timeout=TIMEOUT)
    expect(page.locator("#runs .status-error")).to_have_count(1, timeout=TIMEOUT)


def test_tool_calls_and_their_results_are_shown(page: Page, server: ServerProcess) -> None:
    open_console(page, server.url, "tools")
    say(page, "otters")
    call = page.locator("#messages .msg.ai .call")
    expect(call).to_have_text('calls look_up({"query":"otters"})', timeout=TIMEOUT)
    expect(page.locator("#messages .msg.tool")).to_have_text(
        "tool result: look_upfound 3 pages on otters"
    )
    expect(page.locator("#messages .msg.ai").last).to_have_text("aiHere is what I found on otters.")


@pytest.fixture(scope="module")
def locked(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = console_env(migrated_url, LANGSTAR_AUTH__MODE="api_key")
    with console_server(env, tmp_path_factory.mktemp("locked")) as server:
        yield server


def test_with_api_keys_the_page_asks_for_one_and_sends_it(
    browser: Browser, locked: ServerProcess, migrated_url: str
) -> None:
    # Playwright's own event loop runs in this thread: make the key in another.
    with ThreadPoolExecutor(1) as pool:
        _, key = pool.submit(asyncio.run, create_key(migrated_url, "dana")).result()
        _, theirs = pool.submit(asyncio.run, create_key(migrated_url, "erin")).result()
    hidden = httpx.post(f"{locked.url}/threads", json={}, headers={"x-api-key": theirs}, timeout=10)
    assert hidden.status_code == 200
    context = browser.new_context()
    page = context.new_page()
    sent: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.headers.get("x-api-key"))
            if "/assistants/search" in request.url
            else None
        ),
    )
    page.goto(f"{locked.url}/ui")
    notice = page.locator("#notice")
    expect(notice).to_contain_text("Not authorized", timeout=TIMEOUT)
    expect(notice).to_contain_text("Missing credentials")
    page.get_by_label("API key").fill(key + "wrong")
    page.get_by_role("button", name="Use key").click()
    expect(notice).to_contain_text("Invalid", timeout=TIMEOUT)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use key").click()
    expect(notice).to_have_text("Using your API key.", timeout=TIMEOUT)
    assert sent == [None, key + "wrong", key]
    say(page, "with a key")
    expect(page.locator("#messages .msg.ai").last).to_have_text(
        "aiNoted. You said: with a key", timeout=TIMEOUT
    )
    # Only the key's own threads are listed; another user's is not found by its id either.
    expect(page.locator("#threads li")).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator("#threads li")).to_contain_text(thread_of(page)[:8])
    page.get_by_label("Search threads").fill(hidden.json()["thread_id"])
    expect(page.locator("#threads li")).to_have_count(0, timeout=TIMEOUT)
    page.get_by_label("Search threads").fill("")
    # Kept for this tab only, unless asked to remember it.
    assert page.evaluate("sessionStorage.getItem('langstar.apiKey')") == key
    assert page.evaluate("localStorage.getItem('langstar.apiKey')") is None
    other_tab = context.new_page()
    other_tab.goto(f"{locked.url}/ui")
    expect(other_tab.locator("#notice")).to_contain_text("Not authorized", timeout=TIMEOUT)
    page.get_by_label("remember").check()
    page.get_by_role("button", name="Use key").click()
    expect(notice).to_have_text("Using your API key.", timeout=TIMEOUT)
    assert page.evaluate("localStorage.getItem('langstar.apiKey')") == key
    assert page.evaluate("sessionStorage.getItem('langstar.apiKey')") is None
    context.close()


def test_the_console_works_under_a_mount_prefix(
    page: Page, migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = console_env(migrated_url, LANGSTAR_HTTP__MOUNT_PREFIX="/my-api")
    with console_server(env, tmp_path_factory.mktemp("prefixed")) as prefixed:
        page.goto(f"{prefixed.url}/my-api/ui/")
        assert page.url == f"{prefixed.url}/my-api/ui"
        say(page, "under a prefix")
        expect(page.locator("#messages .msg.ai").last).to_have_text(
            "aiNoted. You said: under a prefix", timeout=TIMEOUT
        )
        expect(page.locator("#runs .status-success")).to_have_count(1, timeout=TIMEOUT)
