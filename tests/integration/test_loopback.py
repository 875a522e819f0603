"""A graph that calls `get_client()` with no URL reaches its own server, in-process, acting
for the user whose run it is."""

from __future__ import annotations

import httpx
import msgspec

from langstar.identity import LOOPBACK_ROOT
from langstar.settings import Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.auth import HeaderAuthProvider
from tests.support.graphs import TEST_GRAPHS

CAROL, DAVE = {"x-user": "carol"}, {"x-user": "dave"}


async def test_a_graph_schedules_a_run_on_its_own_server_as_its_user(
    settings: Settings, make_app: MakeApp
) -> None:
    graphs = {**TEST_GRAPHS, "scheduler": "tests.support.graphs:scheduler"}
    app = make_app(msgspec.structs.replace(settings, graphs=graphs), HeaderAuthProvider())
    async with asgi_client(app) as client:
        body = {"assistant_id": "scheduler", "input": {"messages": []}}
        answer = await client.post("/runs/wait", json=body, headers=CAROL)
        assert answer.status_code == 200, answer.text
        thread, run = answer.json()["messages"][-1]["content"].split()

        made = await client.get(f"/threads/{thread}", headers=CAROL)
        assert made.status_code == 200
        assert made.json()["metadata"]["scheduled_by"] == "a graph"
        joined = await client.get(f"/threads/{thread}/runs/{run}/join", headers=CAROL)
        assert joined.json()["messages"][-1]["content"].endswith("later")
        assert (await client.get(f"/threads/{thread}", headers=DAVE)).status_code == 404
        # Without a run behind it, the in-process path lets nobody in.
        transport = httpx.ASGITransport(app=app, root_path=LOOPBACK_ROOT)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as outside:
            assert (await outside.get(f"/threads/{thread}")).status_code == 401
