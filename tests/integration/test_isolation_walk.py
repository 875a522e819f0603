"""Two users, every route of the OpenAPI document: another user's ids answer 404, never data.

The walk reads the live OpenAPI document, so a route added later is walked too; a route
whose path names a thread, run, assistant or checkpoint must answer 404 to the user who
does not own it, and leave the owner's objects as they were.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from langstar.settings import AuthSettings, Settings
from tests.support.apps import Serving
from tests.support.auth import HeaderAuthProvider
from tests.support.graphs import TEST_GRAPHS

OWNED_PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "owned"
# Two ways users are kept apart: langstar's per-user ownership (an authenticator that
# trusts x-user), and a project's own langgraph_sdk.Auth (tokens, then owner filters).
AUTHS = {
    "ownership": ({"x-user": "alice"}, {"x-user": "bob"}),
    "project auth": (
        {"Authorization": "Bearer token-alice"},
        {"Authorization": "Bearer token-bob"},
    ),
}
OWNED = {"thread_id", "run_id", "assistant_id", "checkpoint_id", "cron_id"}
# Alice's run has a webhook, so that its delivery is there to be hidden from Bob.
WEBHOOK = "https://hooks.example.com/alice"
# Alice's cron fires on 1 January only: never while the walk runs.
YEARLY = {"assistant_id": "hitl", "schedule": "0 0 1 1 *", "input": {"messages": []}}
# A valid body for each route that takes one, so that only ownership can refuse it.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/threads/{thread_id}"): {"metadata": {"stolen": True}},
    ("POST", "/threads/{thread_id}/history"): {"limit": 5},
    ("POST", "/threads/{thread_id}/state"): {"values": {"messages": []}},
    ("POST", "/threads/{thread_id}/state/checkpoint"): {"checkpoint": {}},
    ("POST", "/threads/{thread_id}/runs"): {"assistant_id": "hitl"},
    ("POST", "/threads/{thread_id}/runs/stream"): {"assistant_id": "hitl"},
    ("POST", "/threads/{thread_id}/runs/wait"): {"assistant_id": "hitl"},
    ("POST", "/threads/{thread_id}/commands"): {
        "id": 1, "method": "run.start", "params": {"assistant_id": "hitl"}
    },
    ("POST", "/threads/{thread_id}/stream/events"): {"channels": ["values"]},
    ("PATCH", "/assistants/{assistant_id}"): {"name": "stolen"},
    ("POST", "/assistants/{assistant_id}/versions"): {},
    ("POST", "/assistants/{assistant_id}/latest"): {"version": 1},
    ("POST", "/threads/{thread_id}/runs/crons"): YEARLY,
    ("PATCH", "/runs/crons/{cron_id}"): {"enabled": False},
}  # fmt: skip


@pytest.fixture
def graphs_settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, graphs=TEST_GRAPHS)


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def alices_objects(client: httpx.AsyncClient, ALICE: dict[str, str]) -> dict[str, str]:  # noqa: N803
    thread = (await client.post("/threads", json={}, headers=ALICE)).json()["thread_id"]
    run = await client.post(
        f"/threads/{thread}/runs/wait",
        json={"assistant_id": "hitl", "input": say("secret"), "webhook": WEBHOOK},
        headers=ALICE,
    )
    assert run.status_code == 200
    run_id = run.headers["content-location"].rsplit("/", 1)[1]
    state = (await client.get(f"/threads/{thread}/state", headers=ALICE)).json()
    assistant = await client.post(
        "/assistants", json={"graph_id": "hitl", "name": "alice's"}, headers=ALICE
    )
    cron = await client.post(f"/threads/{thread}/runs/crons", json=YEARLY, headers=ALICE)
    assert cron.status_code == 200, cron.text
    return {
        "cron_id": cron.json()["cron_id"],
        "thread_id": thread,
        "run_id": run_id,
        "assistant_id": assistant.json()["assistant_id"],
        "checkpoint_id": state["checkpoint"]["checkpoint_id"],
        "namespace": "ask",
    }


@pytest.mark.parametrize("auth", list(AUTHS))
async def test_every_route_hides_one_users_objects_from_another(
    graphs_settings: Settings, serving: Serving, auth: str
) -> None:
    ALICE, BOB = AUTHS[auth]  # noqa: N806
    overrides = [HeaderAuthProvider()] if auth == "ownership" else []
    if auth == "project auth":
        project = AuthSettings(mode="project", project_auth=f"{OWNED_PROJECT / 'auth.py'}:auth")
        graphs_settings = msgspec.structs.replace(graphs_settings, auth=project)
    async with serving(graphs_settings, *overrides) as client:
        ids = await alices_objects(client, ALICE)
        document = (await client.get("/openapi.json")).json()
        walked, leaks = [], []
        for template, operations in document["paths"].items():
            names = set(re.findall(r"{(\w+)}", template))
            if not names & OWNED:
                continue
            path = template.format(**ids)
            for method in operations:
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                body = BODIES.get((method.upper(), template))
                walked.append(f"{method.upper()} {template}")
                request = client.request(method.upper(), path, json=body, headers=BOB)
                try:
                    response = await asyncio.wait_for(request, timeout=10)
                except TimeoutError:  # a stream was opened: it never ends
                    leaks.append(f"{method.upper()} {template}: a stream of Alice's thread")
                    continue
                # A 404 may repeat the id Bob sent; it must not carry Alice's content.
                if response.status_code != 404 or "secret" in response.text:
                    leaks.append(f"{method.upper()} {template}: {response.status_code}")
        assert not leaks, "\n".join(leaks)
        assert len(walked) >= 25, walked

        # Lists and searches show Bob nothing of Alice's.
        for path, body in (
            ("/threads/search", {}),
            ("/assistants/search", {"graph_id": "hitl"}),
            ("/store/items/search", {"namespace_prefix": []}),
            ("/store/namespaces", {}),
            ("/runs/crons/search", {}),
        ):
            seen = await client.post(path, json=body, headers=BOB)
            assert seen.status_code == 200
            assert ids["thread_id"] not in seen.text
            assert ids["assistant_id"] not in seen.text
            assert ids["cron_id"] not in seen.text
        assert (await client.post("/runs/crons/count", json={}, headers=BOB)).json() == 0
        counted = await client.post("/threads/count", json={}, headers=BOB)
        assert counted.json() == 0
        cancel = await client.post(
            "/runs/cancel",
            json={"thread_id": ids["thread_id"], "run_ids": [ids["run_id"]]},
            headers=BOB,
        )
        assert cancel.status_code == 404

        # Nothing Bob tried changed Alice's objects.
        thread = await client.get(f"/threads/{ids['thread_id']}", headers=ALICE)
        assert thread.status_code == 200
        assert "stolen" not in thread.json()["metadata"]
        assert thread.json()["status"] == "interrupted"
        run = await client.get(f"/threads/{ids['thread_id']}/runs/{ids['run_id']}", headers=ALICE)
        assert run.status_code == 200
        assistant = await client.get(f"/assistants/{ids['assistant_id']}", headers=ALICE)
        assert assistant.json()["name"] == "alice's"
        runs = (await client.get(f"/threads/{ids['thread_id']}/runs", headers=ALICE)).json()
        assert len(runs) == 1
        cron = await client.get(f"/runs/crons/{ids['cron_id']}", headers=ALICE)
        assert cron.json()["enabled"] is True
        delivery = await client.get(f"/runs/{ids['run_id']}/webhook", headers=ALICE)
        assert delivery.json()["url"] == WEBHOOK


async def test_with_a_projects_auth_the_run_cap_is_still_per_user(
    settings: Settings, serving: Serving
) -> None:
    """Objects share one owner then, but each user's runs are counted on their own."""
    project = AuthSettings(mode="project", project_auth=f"{OWNED_PROJECT / 'auth.py'}:auth")
    limits = msgspec.structs.replace(settings.limits, max_runs_per_user=1)
    capped = msgspec.structs.replace(settings, graphs=TEST_GRAPHS, auth=project, limits=limits)
    alice, bob = AUTHS["project auth"]
    slow = {"assistant_id": "slow", "input": {"messages": []}, "context": {"delay": 2}}
    async with serving(capped) as client:
        first = await client.post("/runs", json=slow, headers=alice)
        assert first.status_code == 200, first.text
        assert (await client.post("/runs", json=slow, headers=alice)).status_code == 429
        assert (await client.post("/runs", json=slow, headers=bob)).status_code == 200
