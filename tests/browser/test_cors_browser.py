"""A page on another origin, in a real Chromium, streams a run from langstar through CORS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import CHROMIUM_ARGS, chromium_path, static_site
from tests.support.server import ServerProcess

# JSON bodies make every call a non-simple request, so the browser sends a preflight.
PAGE = """<!doctype html>
<meta charset="utf-8"><title>another origin</title>
<script type="module">
const api = new URLSearchParams(location.search).get("api");
const json = {"Content-Type": "application/json"};
const out = {};
try {
  const created = await fetch(`${api}/threads`, {method: "POST", headers: json, body: "{}"});
  out.thread = (await created.json()).thread_id;
  const run = await fetch(`${api}/threads/${out.thread}/runs/stream`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({
      assistant_id: "agent",
      input: {messages: [{role: "user", content: "My name is Ada."}]},
      stream_mode: ["messages-tuple"],
    }),
  });
  out.status = run.status;
  out.runPath = run.headers.get("Content-Location");
  const reader = run.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  out.reads = 0;
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    out.reads += 1;
    text += decoder.decode(value, {stream: true});
  }
  const frames = text.split("\\r\\n\\r\\n").filter(f => f.startsWith("event: "));
  out.events = frames.map(f => f.split("\\r\\n")[0].slice(7));
  out.reply = frames
    .filter(f => f.startsWith("event: messages\\r\\n"))
    .map(f => JSON.parse(f.split("\\r\\ndata: ")[1])[0].content)
    .join("");
} catch (error) {
  out.error = String(error);
}
window.result = out;
</script>
"""


@pytest.fixture(scope="module")
def server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = ServerProcess({"DATABASE_URL": migrated_url}, tmp_path_factory.mktemp("cors"))
    process.start()
    yield process.url
    process.stop()


def test_a_page_on_another_origin_streams_a_run_and_reads_its_id(
    server: str, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text(PAGE)
    with static_site(tmp_path) as site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{site}/index.html?api={server}")
            page.wait_for_function("window.result !== undefined", timeout=60_000)
            result = page.evaluate("window.result")
        finally:
            browser.close()
    assert "error" not in result, result
    assert result["status"] == 200
    assert result["events"][0] == "metadata"
    assert "Ada" in result["reply"]
    found = re.fullmatch(rf"/threads/{result['thread']}/runs/([0-9a-f-]{{36}})", result["runPath"])
    assert found is not None, result["runPath"]
    run = httpx.get(server + result["runPath"], timeout=10).json()
    assert run["run_id"] == found[1]
    assert run["status"] == "success"
