"""The console at /ui, in a real Chromium against a real langstar process."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from langstar.auth.keys import create_key
from tests.support.console import chromium, console_env, console_server
from tests.support.server import ServerProcess

TIMEOUT = 30_000
WIDE, NARROW = 1400, 390


@pytest.fixture(scope="module")
def server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with console_server(console_env(migrated_url), tmp_path_factory.mktemp("console")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@contextmanager
def watched(browser: Browser, width: int) -> Iterator[Page]:
    """A fresh tab (own storage); any script error or policy violation fails the test."""
    context = browser.new_context(viewport={"width": width, "height": 860})
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


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with watched(browser, WIDE) as page:
        yield page


@pytest.fixture(params=[WIDE, NARROW], ids=lambda width: f"{width}px")
def sized(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """The same checks on a wide screen and on a phone."""
    with watched(browser, request.param) as page:
        yield page


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
    expect(page).to_have_url(re.compile(r"#/threads/[0-9a-f-]{36}$"), timeout=TIMEOUT)
    return page.url.rsplit("/", 1)[-1]


def show_threads(page: Page) -> None:
    """On a narrow screen the thread list is a drawer: open it."""
    toggle = page.get_by_role("button", name="Threads", exact=True)
    if toggle.is_visible():
        toggle.click()
    expect(page.locator("#threads")).to_be_visible()


def replied(page: Page, said: str) -> None:
    expect(page.locator("#messages .msg.ai .body").last).to_have_text(
        f"Noted. You said: {said}", timeout=TIMEOUT
    )


def test_a_reply_streams_in_token_by_token(page: Page, server: ServerProcess) -> None:
    open_console(page, server.url, "agent")
    said = "Tell the graph that the console streams every token"
    say(page, said)
    reply = page.locator("#messages .msg.ai .body").last
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = reply.text_content() if reply.count() else None
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if text and text.endswith(said):
            break
        time.sleep(0.02)
    final = f"Noted. You said: {said}"
    assert seen[-1] == final
    # Seen part way: more than nothing, less than the whole reply.
    assert any("" < text < final and final.startswith(text) for text in seen[:-1]), seen
    expect(page.locator("#runs .status-success")).to_have_count(1, timeout=TIMEOUT)
    thread = thread_of(page)
    expect(page.locator("#threads button[aria-current=true]")).to_contain_text(said[:30])
    expect(page.locator("#state")).to_contain_text(said)
    state = httpx.get(f"{server.url}/threads/{thread}/state", timeout=10).json()
    assert [m["content"] for m in state["values"]["messages"]] == [said, final]
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
    expect(page.locator("#messages .msg.ai .body").last).to_have_text(
        "approved: yes", timeout=TIMEOUT
    )
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
    # The new reply is one of two, and the first is a click away.
    switcher = page.locator("#messages .msg.ai .branches")
    expect(switcher).to_contain_text("2 / 2", timeout=TIMEOUT)
    switcher.get_by_role("button", name="Previous branch").click()
    expect(page.locator("#messages .msg.ai .branches")).to_contain_text("1 / 2")
    # A reply can be asked for again from the reply itself.
    page.locator("#messages .msg.ai").get_by_role("button", name="Run again", exact=True).click()
    expect(page.locator("#runs .status-success")).to_have_count(3, timeout=TIMEOUT)
    expect(page.locator("#messages .msg.ai .branches")).to_contain_text("3 / 3")
    page.locator("#messages .msg.ai").get_by_role("button", name="Previous branch").click()
    expect(page.locator("#messages .msg.ai .branches")).to_contain_text("2 / 3")
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
    expect(page.locator("#messages .msg.ai .body").last).to_have_text(
        "Here is what I found on otters."
    )


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
    # Accepted: the form goes away, leaving a way to change the key.
    expect(page.locator("#auth")).to_be_hidden()
    expect(page.get_by_role("button", name="Change key")).to_be_visible()
    assert sent == [None, key + "wrong", key]
    say(page, "with a key")
    expect(page.locator("#messages .msg.ai .body").last).to_have_text(
        "Noted. You said: with a key", timeout=TIMEOUT
    )
    # Only the key's own threads are listed; another user's is not found by its id either.
    expect(page.locator("#threads li")).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator("#threads li")).to_contain_text("with a key")
    page.get_by_label("Search threads").fill(hidden.json()["thread_id"])
    expect(page.locator("#threads li")).to_have_count(0, timeout=TIMEOUT)
    page.get_by_label("Search threads").fill("")
    # Kept for this tab only, unless asked to remember it.
    assert page.evaluate("sessionStorage.getItem('langstar.apiKey')") == key
    assert page.evaluate("localStorage.getItem('langstar.apiKey')") is None
    other_tab = context.new_page()
    other_tab.goto(f"{locked.url}/ui")
    expect(other_tab.locator("#notice")).to_contain_text("Not authorized", timeout=TIMEOUT)
    page.get_by_role("button", name="Change key").click()
    page.get_by_label("API key").fill(key)
    page.get_by_label("remember").check()
    page.get_by_role("button", name="Use key").click()
    expect(notice).to_have_text("Using your API key.", timeout=TIMEOUT)
    expect(page.locator("#auth")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('langstar.apiKey')") == key
    assert page.evaluate("sessionStorage.getItem('langstar.apiKey')") is None
    # A key the server stops accepting brings the form back.
    page.evaluate("localStorage.setItem('langstar.apiKey', 'revoked')")
    page.reload()
    expect(notice).to_contain_text("Not authorized", timeout=TIMEOUT)
    expect(page.locator("#auth")).to_be_visible()
    context.close()


def test_the_console_works_under_a_mount_prefix(
    page: Page, migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = console_env(migrated_url, LANGSTAR_HTTP__MOUNT_PREFIX="/my-api")
    with console_server(env, tmp_path_factory.mktemp("prefixed")) as prefixed:
        page.goto(f"{prefixed.url}/my-api/ui/")
        assert page.url == f"{prefixed.url}/my-api/ui"
        say(page, "under a prefix")
        expect(page.locator("#messages .msg.ai .body").last).to_have_text(
            "Noted. You said: under a prefix", timeout=TIMEOUT
        )
        expect(page.locator("#runs .status-success")).to_have_count(1, timeout=TIMEOUT)


def test_threads_show_their_first_message_and_last_activity_and_are_found_by_text(
    sized: Page, server: ServerProcess
) -> None:
    page = sized
    open_console(page, server.url, "agent")
    word = uuid.uuid4().hex[:10]
    said = f"Where the {word} otters sleep when the river floods in spring and autumn"
    say(page, said)
    replied(page, said)
    thread = thread_of(page)
    show_threads(page)
    item = page.locator("#threads li").first
    expect(item).to_contain_text("Where the", timeout=TIMEOUT)
    expect(item).to_contain_text(re.compile(r"just now|\d+ (s|min) ago"))
    expect(item.get_by_role("button")).to_have_attribute("data-id", thread)
    expect(page.locator("#thread-title")).to_contain_text("Where the")
    # Words inside the messages find it; the search ignores case.
    page.get_by_label("Search threads").fill(f"{word.upper()} OTTERS")
    expect(page.locator("#threads li")).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator("#threads li button")).to_have_attribute("data-id", thread)
    page.get_by_label("Search threads").fill(f"{word} no such words")
    expect(page.locator("#threads li")).to_have_count(0, timeout=TIMEOUT)


def test_the_address_names_the_open_thread_so_reload_and_back_reopen_it(
    sized: Page, server: ServerProcess
) -> None:
    page = sized
    open_console(page, server.url, "agent")
    say(page, "remember this thread")
    replied(page, "remember this thread")
    first = thread_of(page)
    page.reload()
    replied(page, "remember this thread")
    assert thread_of(page) == first
    show_threads(page)
    page.get_by_role("button", name="New thread", exact=True).click()
    expect(page.locator("#messages .msg")).to_have_count(0, timeout=TIMEOUT)
    second = thread_of(page)
    assert second != first
    page.go_back()
    replied(page, "remember this thread")
    assert thread_of(page) == first
    page.go_forward()
    expect(page.locator("#messages .msg")).to_have_count(0, timeout=TIMEOUT)
    assert thread_of(page) == second


def test_editing_a_message_makes_a_branch_and_the_switcher_moves_between_them(
    sized: Page, server: ServerProcess
) -> None:
    page = sized
    open_console(page, server.url, "agent")
    say(page, "first try")
    replied(page, "first try")
    say(page, "and then")
    replied(page, "and then")
    asked = page.locator("#messages .msg.human").last
    asked.get_by_role("button", name="Edit").click()
    page.get_by_label("Edit message").fill("second try")
    page.get_by_role("button", name="Save and run").click()
    replied(page, "second try")
    switcher = page.locator("#messages .msg.human").last.locator(".branches")
    expect(switcher).to_contain_text("2 / 2")
    expect(page.locator("#messages .msg")).to_have_count(4)
    switcher.get_by_role("button", name="Previous branch").click()
    replied(page, "and then")
    expect(page.locator("#messages .msg.human").last).to_contain_text("and then")
    expect(page.locator("#messages .msg.human").last.locator(".branches")).to_contain_text("1 / 2")
    page.locator("#messages .msg.human").last.get_by_role("button", name="Next branch").click()
    replied(page, "second try")
    # The history is a tree: no list shows one step twice.
    for steps in page.locator("#history ol, #history").all():
        shown = steps.locator(":scope > li > .row > .step").all_text_contents()
        assert len(shown) == len(set(shown)), shown
    expect(page.locator("#history ol.branch")).to_have_count(2)
    # A message sent on the older branch continues that branch.
    page.locator("#messages .msg.human").last.get_by_role("button", name="Previous branch").click()
    replied(page, "and then")
    say(page, "third")
    replied(page, "third")
    texts = page.locator("#messages .msg.human .body").all_text_contents()
    assert texts == ["first try", "and then", "third"]


def test_at_phone_width_nothing_scrolls_sideways_and_the_header_shows(
    browser: Browser, server: ServerProcess
) -> None:
    with watched(browser, NARROW) as page:
        open_console(page, server.url, "agent")
        say(page, "a long message " * 12)
        expect(page.locator("#messages .msg.ai")).to_have_count(1, timeout=TIMEOUT)
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW
        header = page.locator("header h1").bounding_box()
        assert header is not None
        assert header["x"] >= 0
        assert header["x"] + header["width"] <= NARROW
        assert header["y"] >= 0
        expect(page.locator("#threads")).to_be_hidden()
        show_threads(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW


def test_the_assistants_graph_is_drawn(page: Page, server: ServerProcess) -> None:
    open_console(page, server.url, "agent")
    graph = page.locator("#graph svg")
    for node in ("__start__", "remember", "respond", "__end__"):
        expect(graph.locator("g.node", has_text=node)).to_have_count(1, timeout=TIMEOUT)
    expect(graph.locator("path.edge")).to_have_count(3)


def test_a_run_can_be_stopped_part_way(page: Page, server: ServerProcess) -> None:
    open_console(page, server.url, "agent")
    say(page, "please answer at length " * 8)
    expect(page.locator("#messages .msg.ai")).to_have_count(1, timeout=TIMEOUT)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#runs .status-interrupted")).to_have_count(1, timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()


def test_a_thread_reopens_with_the_assistant_it_was_started_with(
    page: Page, server: ServerProcess
) -> None:
    open_console(page, server.url, "tools")
    say(page, "beavers")
    expect(page.locator("#messages .msg.tool")).to_have_count(1, timeout=TIMEOUT)
    thread = thread_of(page)
    tools = page.get_by_label("Assistant").input_value()
    page.goto(f"{server.url}/ui#/threads/{thread}")
    expect(page.locator("#messages .msg.tool")).to_have_count(1, timeout=TIMEOUT)
    expect(page.get_by_label("Assistant")).to_have_value(tools)
    expect(page).to_have_url(re.compile(r"\?assistant=tools#/threads/"))
    expect(page.locator("#graph g.node", has_text="look_up")).to_have_count(1)


def test_a_reply_still_streaming_stays_in_its_own_thread(page: Page, server: ServerProcess) -> None:
    open_console(page, server.url, "agent")
    say(page, "keep talking for a while " * 8)
    expect(page.locator("#messages .msg.ai")).to_have_count(1, timeout=TIMEOUT)
    first = thread_of(page)
    page.get_by_role("button", name="New thread", exact=True).click()
    expect(page).not_to_have_url(re.compile(first))
    page.wait_for_timeout(1000)
    assert page.locator("#messages .msg").count() == 0
    page.go_back()
    expect(page.locator("#messages .msg.ai .body")).to_have_text(
        "Noted. You said: " + ("keep talking for a while " * 8).strip(), timeout=TIMEOUT
    )


def test_a_thread_can_be_given_a_title(page: Page, server: ServerProcess) -> None:
    open_console(page, server.url, "agent")
    say(page, "notes for the trip")
    replied(page, "notes for the trip")
    thread = thread_of(page)
    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Thread title").fill("Lisbon in May")
    page.get_by_role("button", name="Save title").click()
    expect(page.locator("#thread-title")).to_have_text("Lisbon in May", timeout=TIMEOUT)
    expect(page.locator(f"#threads button[data-id='{thread}']")).to_contain_text("Lisbon in May")
    page.reload()
    expect(page.locator("#thread-title")).to_have_text("Lisbon in May", timeout=TIMEOUT)
    page.get_by_label("Search threads").fill("lisbon in may")
    expect(page.locator("#threads li button")).to_have_attribute("data-id", thread)
    got = httpx.get(f"{server.url}/threads/{thread}", timeout=10).json()
    assert got["metadata"]["title"] == "Lisbon in May"
