"""Take the docs' pictures of the console: `uv run python -m tests.support.screenshot`.

It runs langstar on $DATABASE_URL (or on an embedded PostgreSQL in a temporary folder),
has a short conversation in the console in Chromium (three threads, one message edited
into a second branch), and writes docs/images/console-wide.png (1400 px) and
docs/images/console-narrow.png (390 px, a phone).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect

from langstar.db import migrations
from langstar.db.embedded import EmbeddedPostgres
from tests.support.console import REPO, chromium, console_env, console_server
from tests.support.settings import settings_for

IMAGES = REPO / "docs" / "images"
WIDE = IMAGES / "console-wide.png"
NARROW = IMAGES / "console-narrow.png"
TIMEOUT = 30_000


def say(page: Page, said: str) -> None:
    page.get_by_label("Message").fill(said)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#messages .msg.ai .body").last).to_contain_text(said, timeout=TIMEOUT)


def converse(page: Page) -> None:
    for first in ("Plan a weekend in Lisbon for two", "Summarise the quarterly report"):
        say(page, first)
        page.get_by_role("button", name="New thread", exact=True).click()
        expect(page.locator("#messages .msg")).to_have_count(0, timeout=TIMEOUT)
    say(page, "What is the capital of Australia")
    say(page, "And how many people live there")
    page.locator("#messages .msg.human").last.get_by_role("button", name="Edit").click()
    page.get_by_label("Edit message").fill("And what is its oldest building")
    page.get_by_role("button", name="Save and run").click()
    branches = page.locator("#messages .msg.human .branches")
    expect(branches).to_contain_text("2 / 2", timeout=TIMEOUT)


def take(url: str, work: Path) -> None:
    env = console_env(url, LANGSTAR_MODEL__OFFLINE_TOKEN_DELAY_SECONDS="0")
    with console_server(env, work) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 800})
        page.goto(f"{server.url}/ui?assistant=agent")
        page.wait_for_selector("#assistant option", state="attached")
        converse(page)
        page.wait_for_timeout(300)
        IMAGES.mkdir(exist_ok=True)
        page.screenshot(path=str(WIDE))
        phone = browser.new_page(viewport={"width": 390, "height": 780})
        phone.goto(page.url)
        expect(phone.locator("#messages .msg.human .branches")).to_contain_text("2 / 2")
        phone.wait_for_timeout(300)
        phone.screenshot(path=str(NARROW))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="langstar-shot-") as folder:
        work = Path(folder)
        url = os.environ.get("DATABASE_URL", "")
        embedded = None
        if not url:
            embedded = EmbeddedPostgres(work / "pg")
            url = embedded.start()
        try:
            migrations.upgrade(url, settings_for(url))
            take(url, work)
        finally:
            if embedded is not None:
                embedded.stop()
    for out in (WIDE, NARROW):
        print(f"wrote {out.relative_to(REPO)} ({out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
