"""Take the docs' picture of the console: `uv run python -m tests.support.screenshot`.

It runs langstar on $DATABASE_URL (or on an embedded PostgreSQL in a temporary folder),
has a short conversation in the console in Chromium, and writes docs/console.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect

from langstar.db import migrations
from langstar.db.embedded import EmbeddedPostgres
from tests.support.console import REPO, chromium, console_env, console_server
from tests.support.settings import settings_for

OUT = REPO / "docs" / "console.png"


def take(url: str, work: Path) -> None:
    env = console_env(url, LANGSTAR_MODEL__OFFLINE_TOKEN_DELAY_SECONDS="0")
    with console_server(env, work) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{server.url}/ui?assistant=agent")
        page.wait_for_selector("#assistant option", state="attached")
        for turn, said in enumerate(("My name is Ada and I write graphs.", "What is my name?")):
            page.get_by_label("Message").fill(said)
            page.get_by_role("button", name="Send").click()
            expect(page.locator("#runs .status-success")).to_have_count(turn + 1, timeout=30_000)
        page.wait_for_timeout(300)
        OUT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT))


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
    print(f"wrote {OUT.relative_to(REPO)} ({OUT.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
