"""Pages on other origins may call the API, as on LangGraph's server, unless settings say no."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from langstar.settings import HttpSettings, Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client

PAGE = "https://ui.example.com"
PREFLIGHT = {
    "Origin": PAGE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, x-api-key",
}


async def test_any_origin_may_call_and_read_the_run_id_and_pagination(
    client: httpx.AsyncClient,
) -> None:
    preflight = await client.options("/threads/search", headers=PREFLIGHT)
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] in ("*", PAGE)
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()

    thread = (await client.post("/threads", json={}, headers={"Origin": PAGE})).json()
    run = await client.post(
        f"/threads/{thread['thread_id']}/runs",
        json={"assistant_id": "agent", "input": {"messages": []}},
        headers={"Origin": PAGE},
    )
    assert run.headers["access-control-allow-origin"] in ("*", PAGE)
    exposed = {h.strip().lower() for h in run.headers["access-control-expose-headers"].split(",")}
    assert {"content-location", "location", "x-pagination-total", "x-pagination-next"} <= exposed
    assert run.headers["content-location"].endswith(run.json()["run_id"])


async def test_a_private_network_preflight_is_answered(client: httpx.AsyncClient) -> None:
    asked = {**PREFLIGHT, "Access-Control-Request-Private-Network": "true"}
    preflight = await client.options("/threads", headers=asked)
    assert preflight.headers["access-control-allow-private-network"] == "true"
    plain = await client.options("/threads", headers=PREFLIGHT)
    assert "access-control-allow-private-network" not in plain.headers


@pytest.mark.parametrize(
    ("http", "allowed"),
    [
        (HttpSettings(cors_enabled=False), False),
        (HttpSettings(cors_allow_origins=["https://other.example.com"]), False),
        (HttpSettings(cors_allow_origins=["https://other.example.com", PAGE]), True),
        (
            HttpSettings(
                cors_allow_origins=[], cors_allow_origin_regex=r"https://.*\.example\.com"
            ),
            True,
        ),
    ],
)
async def test_cors_follows_the_http_settings(
    settings: Settings, make_app: MakeApp, http: HttpSettings, allowed: bool
) -> None:
    async with asgi_client(make_app(msgspec.structs.replace(settings, http=http))) as client:
        response = await client.post("/threads", json={}, headers={"Origin": PAGE})
    assert response.status_code == 200
    assert (response.headers.get("access-control-allow-origin") == PAGE) is allowed
