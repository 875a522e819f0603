"""Request headers reach a run's config only when [http] patterns name them, never credentials."""

from __future__ import annotations

import json

import msgspec

from langstar.runs.config import copied_headers
from langstar.settings import HttpSettings, Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client

HEADERS = {"X-Tenant-Id": "acme", "X-Tenant-Region": "eu", "X-Secret": "s", "X-Api-Key": "k"}


def test_patterns_choose_the_headers_and_credentials_never_pass() -> None:
    copied = copied_headers(
        {**HEADERS, "Authorization": "Bearer t"}, ["x-tenant-*", "x-api-key", "authorization"],
        ["x-tenant-region"],
    ).values  # fmt: skip
    assert copied == {"x-tenant-id": "acme"}
    assert copied_headers(HEADERS, [], []).values == {}


async def test_a_run_sees_the_headers_its_request_carried(
    settings: Settings, make_app: MakeApp
) -> None:
    http = HttpSettings(configurable_headers_include=["x-tenant-*"])
    graphs = {"reporter": "tests.support.graphs:reporter"}
    app = make_app(msgspec.structs.replace(settings, http=http, graphs=graphs))
    async with asgi_client(app) as client:
        body = {"assistant_id": "reporter", "input": {"messages": []}}
        answer = await client.post("/runs/wait", json=body, headers=HEADERS)
    seen = json.loads(answer.json()["messages"][-1]["content"])
    assert seen == {"x-tenant-id": "acme", "x-tenant-region": "eu"}
