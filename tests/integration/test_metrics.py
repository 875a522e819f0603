"""`/metrics`: Prometheus text that counts requests, runs and what the server holds."""

from __future__ import annotations

import httpx
import msgspec
from litestar import Litestar
from prometheus_client.parser import text_string_to_metric_families

from langstar.settings import HttpSettings, Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.auth import HeaderAuthProvider
from tests.support.graphs import TEST_GRAPHS

HELLO = {"messages": [{"role": "user", "content": "hello"}]}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    answer = await client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_a_finished_run_is_counted_with_its_request_and_timing(
    settings: Settings, make_app: MakeApp
) -> None:
    app = make_app(msgspec.structs.replace(settings, graphs=TEST_GRAPHS))
    async with asgi_client(app) as client:
        before = await scrape(client)
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        path = f"/threads/{thread}/runs/wait"
        assert (await client.post(path, json={"assistant_id": "agent", "input": HELLO})).is_success
        failed = await client.post(path, json={"assistant_id": "failing", "input": HELLO})
        assert "__error__" in failed.json()
        after = await scrape(client)
    runs = "langstar_runs_total"
    assert value(after, runs, status="success") - value(before, runs, status="success") == 1
    assert value(after, runs, status="error") - value(before, runs, status="error") == 1
    took = "langstar_run_duration_seconds_count"
    assert value(after, took) - value(before, took) == 2
    waited = "langstar_run_queue_wait_seconds_count"
    assert value(after, waited) - value(before, waited) == 2
    route = {"method": "POST", "path": "/threads/{thread_id}/runs/wait", "status_code": "200",
             "app_name": "langstar"}  # fmt: skip
    assert value(after, "langstar_requests_total", **route) >= 2
    assert value(after, "langstar_request_duration_seconds_count", **route) >= 2
    # Gauges of what is held now: the run is over, the pool is open.
    assert value(after, "langstar_runs_in_flight", status="running") == 0
    assert value(after, "langstar_db_pool_size") >= 1
    assert ("langstar_streams_open", ()) in after
    # Each thread's own path is not a label of its own.
    assert not any(thread in str(labels) for _, labels in after)


async def test_metrics_are_outside_authentication_unless_a_token_is_set(
    settings: Settings, make_app: MakeApp
) -> None:
    async with asgi_client(make_app(settings, HeaderAuthProvider())) as client:
        assert (await client.get("/threads/search")).status_code in (401, 405)
        await scrape(client)
    closed = msgspec.structs.replace(settings, http=HttpSettings(metrics_token="s3cret"))
    async with asgi_client(make_app(closed)) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"authorization": "Bearer guess"})
        assert wrong.status_code == 401
        await scrape(client, authorization="Bearer s3cret")


async def test_metrics_stay_at_the_root_and_go_with_the_meta_routes(
    settings: Settings, make_app: MakeApp
) -> None:
    prefixed = msgspec.structs.replace(settings, http=HttpSettings(mount_prefix="/api"))
    async with asgi_client(make_app(prefixed)) as client:
        await scrape(client)
    off = msgspec.structs.replace(settings, http=HttpSettings(disable_meta=True))
    async with asgi_client(make_app(off)) as client:
        assert (await client.get("/metrics")).status_code == 404


async def test_the_readings_of_a_stopped_app_are_not_reported(app: Litestar) -> None:
    from langstar import metrics

    live = len(metrics._held.readers)
    async with asgi_client(app) as client:
        held = await scrape(client)
        assert value(held, "langstar_db_pool_size") >= 1
        assert len(metrics._held.readers) == live + 1
    assert len(metrics._held.readers) == live
