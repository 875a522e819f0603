"""Crons through the official SDK: the whole `client.crons` surface, and their fires.

Time comes from a clock the tests move, so a fire due in a minute is tested at once;
the background scheduler looks every few milliseconds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import psycopg
import pytest
from dishka import Provider
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import APIStatusError
from litestar import Litestar

from langstar import metrics
from langstar.app import container_of
from langstar.crons.scheduler import CronScheduler
from langstar.settings import CronSettings, HttpSettings, Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.auth import HeaderAuthProvider
from tests.support.clock import FakeClock, FakeClockProvider
from tests.support.fakes import RecordingChatModel
from tests.support.sdk import eventually, sdk_for

START = datetime(2026, 12, 5, 12, 0, 30, tzinfo=UTC)
HELLO = {"messages": [{"role": "user", "content": "good morning"}]}


@pytest.fixture(autouse=True)
def no_crons_left(migrated_url: str) -> Iterator[None]:
    """Each test starts and ends with no cron, as the other tests' apps share the database
    and would fire one left behind."""

    def clear() -> None:
        with psycopg.connect(migrated_url, autocommit=True) as conn:
            conn.execute("DELETE FROM crons")

    clear()
    yield
    clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def di_overrides(chat_model: RecordingChatModel, clock: FakeClock) -> list[Provider]:
    from tests.support.fakes import FakeModelProvider

    return [FakeModelProvider(chat_model), FakeClockProvider(clock)]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, crons=CronSettings(poll_seconds=0.02))


@pytest.fixture
async def sdk(app: Litestar) -> AsyncIterator[LangGraphClient]:
    async with asgi_client(app):
        yield sdk_for(app)


async def status_of(call: Any) -> int:
    with pytest.raises(APIStatusError) as raised:
        await call
    return raised.value.response.status_code


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


async def test_the_sdk_creates_reads_searches_changes_and_deletes_crons(
    sdk: LangGraphClient,
) -> None:
    thread = await sdk.threads.create()
    on_thread = await sdk.crons.create_for_thread(
        thread["thread_id"], "agent", schedule="*/5 * * * *", input=HELLO,
        metadata={"team": "a"},
    )  # fmt: skip
    stateless = await sdk.crons.create(
        "agent", schedule="0 9 * * 1-5", timezone="Europe/Paris", input=HELLO,
        end_time=START + timedelta(days=30), on_run_completed="keep",
    )  # fmt: skip
    assert on_thread["thread_id"] == thread["thread_id"]
    assert on_thread["on_run_completed"] is None
    assert at(on_thread["next_run_date"]) == START.replace(minute=5, second=0)
    assert on_thread["payload"]["config"]["configurable"]["cron_id"] == on_thread["cron_id"]
    assert on_thread["payload"]["input"] == HELLO
    assert stateless["thread_id"] is None
    assert stateless["on_run_completed"] == "keep"
    # 9:00 in Paris on Monday 7 December (winter time) is 8:00 UTC.
    assert at(stateless["next_run_date"]) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert stateless["timezone"] == "Europe/Paris"

    fetched = (await sdk.http.client.get(f"/runs/crons/{on_thread['cron_id']}")).json()
    assert fetched["cron_id"] == on_thread["cron_id"]
    assert await sdk.crons.count() == 2
    assert await sdk.crons.count(thread_id=thread["thread_id"]) == 1
    assert await sdk.crons.count(metadata={"team": "a"}) == 1
    found = await sdk.crons.search(assistant_id="agent", sort_by="next_run_date", sort_order="asc")
    assert [c["cron_id"] for c in found] == [on_thread["cron_id"], stateless["cron_id"]]
    only_ids = await sdk.crons.search(select=["cron_id"], limit=1)
    assert list(only_ids[0]) == ["cron_id"]

    changed = await sdk.crons.update(
        stateless["cron_id"], schedule="30 7 * * *", enabled=False, end_time=None,
        metadata={"team": "b"},
    )  # fmt: skip
    assert changed["schedule"] == "30 7 * * *"
    assert changed["enabled"] is False
    assert changed["end_time"] is None
    assert changed["metadata"] == {"team": "b"}
    assert at(changed["next_run_date"]) == datetime(2026, 12, 6, 6, 30, tzinfo=UTC)
    assert await sdk.crons.count(metadata={"team": "b"}) == 1
    disabled = await sdk.crons.search(enabled=False)
    assert [c["cron_id"] for c in disabled] == [stateless["cron_id"]]

    await sdk.crons.delete(on_thread["cron_id"])
    assert await status_of(sdk.crons.delete(on_thread["cron_id"])) == 404
    missing = await sdk.http.client.get(f"/runs/crons/{on_thread['cron_id']}")
    assert missing.status_code == 404
    assert await sdk.crons.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"schedule": "every day"}, 422, "schedule"),
        ({"schedule": "* * * * * *"}, 422, "schedule"),
        ({"timezone": "Mars/Olympus"}, 422, "timezone"),
        ({"assistant_id": "no-such-graph"}, 404, "no-such-graph"),
        ({"config": {"configurable": {"cron_id": "x"}}}, 422, "cron_id"),
        ({"config": {"configurable": {"secret": "x"}}}, 422, "secret"),
        ({"webhook": "http://10.0.0.1/hook"}, 422, "rule: private"),
    ],
)
async def test_a_cron_that_could_not_run_is_refused_when_it_is_made(
    app: Litestar, body: dict[str, Any], status: int, detail: str
) -> None:
    base = {"assistant_id": "agent", "schedule": "* * * * *", "input": HELLO}
    async with asgi_client(app) as client:
        answer = await client.post("/runs/crons", json={**base, **body})
        assert answer.status_code == status, answer.text
        assert detail in answer.text
        assert (await client.post("/runs/crons/count", json={})).json() == 0


async def test_thread_crons_need_a_thread_the_caller_has(sdk: LangGraphClient) -> None:
    missing = str(uuid.uuid4())
    assert (
        await status_of(sdk.crons.create_for_thread(missing, "agent", schedule="* * * * *")) == 404
    )
    thread = await sdk.threads.create()
    made = await sdk.http.client.post(
        f"/threads/{thread['thread_id']}/runs/crons",
        json={"assistant_id": "agent", "schedule": "* * * * *", "on_run_completed": "keep"},
    )
    assert made.status_code == 422
    assert "on_run_completed" in made.text
    cron = await sdk.crons.create_for_thread(thread["thread_id"], "agent", schedule="* * * * *")
    empty = await sdk.http.client.patch(f"/runs/crons/{cron['cron_id']}", json={})
    assert empty.status_code == 400
    bad = await sdk.http.client.patch(f"/runs/crons/{cron['cron_id']}", json={"schedule": "x"})
    assert bad.status_code == 422
    assert (await sdk.http.client.get("/runs/crons/not-a-uuid")).status_code == 422
    # Deleting the thread deletes its crons: nothing is left to fire on a missing thread.
    await sdk.threads.delete(thread["thread_id"])
    assert await sdk.crons.count() == 0


async def runs_on(sdk: LangGraphClient, thread_id: str, n: int) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]]:
        found = await sdk.runs.list(thread_id, limit=100)
        done = [r for r in found if r["status"] == "success"]
        return found if len(done) >= n else []

    found: list[dict[str, Any]] = await eventually(enough)
    assert len(found) == n, found
    return found


async def test_a_thread_cron_fires_on_schedule_once_per_window_and_no_backfill(
    sdk: LangGraphClient, clock: FakeClock, chat_model: RecordingChatModel
) -> None:
    thread = await sdk.threads.create()
    cron = await sdk.crons.create_for_thread(
        thread["thread_id"], "agent", schedule="* * * * *", input=HELLO, metadata={"from": "cron"}
    )
    await asyncio.sleep(0.2)  # many scheduler looks: nothing is due yet
    assert await sdk.runs.list(thread["thread_id"]) == []

    clock.advance(seconds=40)  # 12:01:10
    [run] = await runs_on(sdk, thread["thread_id"], 1)
    assert run["kwargs"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    assert run["metadata"]["from"] == "cron"
    state = await sdk.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"] == "echo: good morning"
    after = (await sdk.http.client.get(f"/runs/crons/{cron['cron_id']}")).json()
    assert at(after["next_run_date"]) == datetime(2026, 12, 5, 12, 2, tzinfo=UTC)

    # Ten windows missed (no server looked): one fire, then the schedule from now on.
    clock.advance(minutes=10)  # 12:11:10
    await runs_on(sdk, thread["thread_id"], 2)
    await asyncio.sleep(0.2)
    assert len(await sdk.runs.list(thread["thread_id"])) == 2
    after = (await sdk.http.client.get(f"/runs/crons/{cron['cron_id']}")).json()
    assert at(after["next_run_date"]) == datetime(2026, 12, 5, 12, 12, tzinfo=UTC)
    assert len(chat_model.prompts) == 2

    # Disabled, or past its end time, it does not fire.
    await sdk.crons.update(cron["cron_id"], enabled=False)
    clock.advance(minutes=1)
    await asyncio.sleep(0.2)
    await sdk.crons.update(cron["cron_id"], enabled=True, end_time=clock.now())
    clock.advance(minutes=1)
    await asyncio.sleep(0.2)
    assert len(await sdk.runs.list(thread["thread_id"])) == 2


@pytest.mark.parametrize("keep", [True, False])
async def test_a_stateless_cron_runs_on_a_new_thread_each_time(
    sdk: LangGraphClient, clock: FakeClock, chat_model: RecordingChatModel, keep: bool
) -> None:
    tag = {"cron_test": str(uuid.uuid4())}
    await sdk.crons.create(
        "agent", schedule="* * * * *", input=HELLO, metadata=tag,
        on_run_completed="keep" if keep else "delete",
    )  # fmt: skip
    for fire in (1, 2):
        clock.advance(minutes=1)
        assert await eventually(lambda n=fire: len(chat_model.prompts) >= n)
    if keep:
        threads = await eventually(lambda: _kept_threads(sdk, tag, 2))
        assert len(threads) == 2
        assert all(t["values"]["messages"][-1]["content"] == "echo: good morning" for t in threads)
    else:
        await asyncio.sleep(0.3)
        assert await eventually(lambda: _no_threads(sdk, tag))


async def _kept_threads(sdk: LangGraphClient, tag: dict[str, str], n: int) -> list[Any]:
    threads = await sdk.threads.search(metadata=tag, status="idle")
    return threads if len(threads) == n else []


async def _no_threads(sdk: LangGraphClient, tag: dict[str, str]) -> bool:
    return await sdk.threads.search(metadata=tag) == []


async def test_a_cron_is_its_owners_alone_and_runs_as_them(
    settings: Settings, make_app: MakeApp, clock: FakeClock
) -> None:
    app = make_app(settings, HeaderAuthProvider())
    async with asgi_client(app) as client:
        ada, bob = sdk_for(app, **{"x-user": "ada"}), sdk_for(app, **{"x-user": "bob"})
        thread = await ada.threads.create()
        cron = await ada.crons.create_for_thread(
            thread["thread_id"], "agent", schedule="* * * * *", input=HELLO
        )
        cron_path = f"/runs/crons/{cron['cron_id']}"
        assert (await client.get(cron_path, headers={"x-user": "bob"})).status_code == 404
        assert await status_of(bob.crons.update(cron["cron_id"], enabled=False)) == 404
        assert await status_of(bob.crons.delete(cron["cron_id"])) == 404
        assert await bob.crons.search() == []
        assert await bob.crons.count() == 0
        # Bob cannot put a cron on Ada's thread.
        assert await status_of(
            bob.crons.create_for_thread(thread["thread_id"], "agent", schedule="* * * * *")
        ) == 404  # fmt: skip
        assert (await client.get(cron_path)).status_code == 401

        clock.advance(minutes=1)
        [run] = await runs_on(ada, thread["thread_id"], 1)
        assert run["status"] == "success"
        assert (await ada.http.client.get(cron_path)).json()["enabled"] is True


async def test_info_says_crons_and_the_switch_removes_them(
    settings: Settings, make_app: MakeApp
) -> None:
    async with asgi_client(make_app()) as client:
        assert (await client.get("/info")).json()["flags"]["crons"] is True
    off = msgspec.structs.replace(settings, http=HttpSettings(disable_crons=True))
    async with asgi_client(make_app(off)) as client:
        assert (await client.get("/info")).json()["flags"]["crons"] is False
        answer = await client.post(
            "/runs/crons", json={"assistant_id": "agent", "schedule": "* * * * *"}
        )
        assert answer.status_code in (404, 405)


# Replicas


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    """The background scheduler looks once an hour: the tests call `tick` themselves."""
    return msgspec.structs.replace(settings, crons=CronSettings(poll_seconds=3600))


async def test_two_replicas_fire_each_due_cron_exactly_once(
    quiet_settings: Settings, make_app: MakeApp, clock: FakeClock, migrated_url: str
) -> None:
    first, second = make_app(quiet_settings), make_app(quiet_settings)
    async with asgi_client(first) as client, asgi_client(second):
        one = await container_of(first).get(CronScheduler)
        two = await container_of(second).get(CronScheduler)
        sdk = sdk_for(first)
        threads = [await sdk.threads.create() for _ in range(3)]
        for thread in threads:
            await sdk.crons.create_for_thread(
                thread["thread_id"], "agent", schedule="* * * * *", input=HELLO
            )
        for fire in range(1, 13):
            clock.advance(minutes=1)
            claimed = await asyncio.gather(one.tick(), two.tick(), one.tick(), two.tick())
            assert sum(claimed) == 3, claimed
            for thread in threads:
                await runs_on(sdk, thread["thread_id"], fire)
        assert (await client.get("/ok")).status_code == 200


async def test_a_replica_dying_mid_fire_leaves_the_cron_due_and_no_run(
    quiet_settings: Settings, make_app: MakeApp, clock: FakeClock, migrated_url: str
) -> None:
    app = make_app(quiet_settings)
    async with asgi_client(app):
        scheduler = await container_of(app).get(CronScheduler)
        sdk = sdk_for(app)
        thread = await sdk.threads.create()
        cron = await sdk.crons.create_for_thread(
            thread["thread_id"], "agent", schedule="* * * * *", input=HELLO
        )
        clock.advance(minutes=1)

        async def die(*args: object) -> None:
            raise psycopg.OperationalError("the server closed the connection unexpectedly")

        healthy = scheduler._advance
        scheduler._advance = die  # type: ignore[method-assign]
        with pytest.raises(psycopg.OperationalError):
            await scheduler.tick()
        scheduler._advance = healthy  # type: ignore[method-assign]
        # The run admitted in the dead fire went with its transaction.
        assert await sdk.runs.list(thread["thread_id"]) == []
        before = (await sdk.http.client.get(f"/runs/crons/{cron['cron_id']}")).json()
        assert at(before["next_run_date"]) <= clock.now()

        fired = metrics.CRON_FIRES.labels("started")._value.get()
        assert await scheduler.tick() == 1
        assert await scheduler.tick() == 0
        assert metrics.CRON_FIRES.labels("started")._value.get() == fired + 1
        await runs_on(sdk, thread["thread_id"], 1)
