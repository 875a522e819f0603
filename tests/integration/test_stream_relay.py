"""Run events relayed between processes through PostgreSQL notifications.

Two apps on one database stand for two server processes: each has its own container, so
its own event bus, executor, listening connection and relay, and only the database in
common.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from langstar.db.notifications import PAYLOAD_LIMIT, Notifications
from langstar.protocol import service as protocol_service
from langstar.settings import Settings
from langstar.streaming.events import EventBus, RunEvent
from langstar.streaming.relay import Outgoing, StreamRelay, pack, unpack_events
from tests.support.apps import Serving
from tests.support.graphs import TEST_GRAPHS, reply_of
from tests.support.postgres import PostgresForTests
from tests.support.sse import parse

TALKER = {**TEST_GRAPHS, "talker": "tests.support.graphs:talker"}
RUN = uuid.uuid4()
THREAD = uuid.uuid4()


def events(count: int) -> list[RunEvent]:
    """Small events, and every seventh one far larger than a notification, in two alphabets."""
    made = []
    for seq in range(1, count + 1):
        text = f"token {seq} é"
        if seq % 7 == 0:
            text = ("ünïcödé 漢字 " * 2000) + str(seq)  # about 36 kB, multi-byte characters
        made.append(RunEvent(seq, f"messages|ns:{seq}", msgspec.json.encode([text, {"n": seq}])))
    return made


def test_packing_keeps_each_notification_under_the_limit_and_each_event_whole() -> None:
    sent = events(50)
    payloads = pack("origin", [Outgoing("E", THREAD, RUN, item) for item in sent])
    assert all(len(p.encode()) <= PAYLOAD_LIMIT for p in payloads)
    assert len(payloads) < len(sent)  # small events share notifications
    assert len(set(payloads)) == len(payloads)  # PostgreSQL would drop a repeated one
    received: list[RunEvent] = []
    pieces = b""
    for payload in payloads:
        head, _, body = payload.encode().partition(b"\n")
        kind, *_, total, start, _seq = head.split(b" ")
        if kind == b"F":
            assert len(pieces) == int(start)
            pieces += body
            if len(pieces) == int(total):
                received += unpack_events(pieces)
                pieces = b""
        else:
            received += unpack_events(body)
    assert received == sent


@pytest.fixture
async def two_relays(settings: Settings) -> AsyncIterator[tuple[StreamRelay, StreamRelay]]:
    """The relays of two processes, each with its own connections and bus."""
    opened: list[tuple[Notifications, StreamRelay]] = []
    for _ in range(2):
        notifications = Notifications(settings.database.url)
        relay = StreamRelay(notifications, EventBus(10))
        notifications.open()
        relay.open()
        await asyncio.wait_for(notifications.ready.wait(), 10)
        opened.append((notifications, relay))
    yield opened[0][1], opened[1][1]
    for notifications, relay in opened:
        await relay.aclose()
        await notifications.aclose()


async def test_relayed_events_arrive_complete_and_in_order(
    two_relays: tuple[StreamRelay, StreamRelay],
) -> None:
    executing, following = two_relays
    sent = events(400)
    executing.offer(RUN, THREAD, sent[0])  # nobody follows yet: not relayed
    feed = following.follow_run(RUN)
    deadline = time.monotonic() + 10
    while not executing.followers(("run", RUN)):  # the announcement arrives
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    for item in sent[1:]:
        executing.offer(RUN, THREAD, item)
        if item.seq % 50 == 0:
            await asyncio.sleep(0)  # let some go while the rest are still being published
    executing.ended(RUN, THREAD)
    received: list[RunEvent] = []
    while not feed.ended:
        received += await feed.take(patience=10)
    feed.close()
    assert received == sent[1:]


async def test_nothing_is_relayed_while_nobody_follows(
    two_relays: tuple[StreamRelay, StreamRelay],
) -> None:
    executing, following = two_relays
    feed = following.follow_run(RUN)
    feed.close()  # followed, then left before anything was published
    other = uuid.uuid4()
    for item in events(20):
        executing.offer(other, THREAD, item)
    executing.ended(other, THREAD)
    assert executing._outbox == {}


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_a_lost_end_notification_does_not_hang_a_follower(
    settings: Settings, serving: Serving, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run's end is never relayed: the follower learns it from the run's row.
    monkeypatch.setattr(StreamRelay, "ended", lambda self, run_id, thread_id: None)
    changed = msgspec.structs.replace(settings, graphs=TALKER)
    async with serving(changed) as on_a, serving(changed) as on_b:
        thread = (await on_a.post("/threads", json={})).json()["thread_id"]
        run = (
            await on_a.post(
                f"/threads/{thread}/runs",
                json={
                    "assistant_id": "talker",
                    "input": say("hi"),
                    "stream_mode": ["messages-tuple"],
                    "context": {"tokens": 20, "delay": 0.1},
                },
            )
        ).json()["run_id"]
        joined = asyncio.create_task(on_b.get(f"/threads/{thread}/runs/{run}/stream"))
        done = (await on_a.get(f"/threads/{thread}/runs/{run}/join")).json()
        ended_at = time.monotonic()
        response = await asyncio.wait_for(joined, 15)
        took = time.monotonic() - ended_at
    assert done["messages"][-1]["content"] == reply_of(20)
    tokens = [e.data[0]["content"] for e in parse(response.text) if e.event == "messages"]
    assert tokens  # relayed as they came
    assert reply_of(20).endswith("".join(tokens))  # in order, none missing since the join
    assert took < 5  # the row's end was noticed within its check and grace


async def test_a_protocol_reader_is_woken_by_a_write_of_another_process(
    settings: Settings, serving: Serving, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reader would look for new events only every 8 s: only a notification wakes it sooner.
    monkeypatch.setattr(protocol_service, "POLL_SECONDS", 8.0)
    runs = msgspec.structs.replace(settings.runs, heartbeat_seconds=8.0)
    limits = msgspec.structs.replace(settings.limits, max_stream_seconds=2)
    changed = msgspec.structs.replace(settings, graphs=TALKER, runs=runs, limits=limits)
    async with serving(changed) as on_a, serving(changed) as on_b:
        thread = str(uuid.uuid4())
        # The in-process transport answers once the stream is cut, at its first event
        # after 2 s (the run's talk lasts 3 s): read it aside.
        began = time.monotonic()
        reading = asyncio.create_task(
            on_b.post(f"/threads/{thread}/stream/events", json={"channels": ["messages"]})
        )
        await asyncio.sleep(0.5)  # subscribed, and announced
        started = await on_a.post(
            f"/threads/{thread}/commands",
            json={
                "id": 1,
                "method": "run.start",
                "params": {"assistant_id": "talker", "input": say("hi")},
            },
        )
        assert started.json()["type"] == "success", started.text
        response = await reading
        took = time.monotonic() - began
    assert [e for e in parse(response.text) if e.event == "messages"], response.text
    assert took < 6  # woken as the events were written, not by the 8 s poll


async def test_the_relay_works_again_after_postgres_restarts(
    postgres: PostgresForTests, two_relays: tuple[StreamRelay, StreamRelay]
) -> None:
    if postgres.embedded is None:
        pytest.skip("restarting PostgreSQL needs the embedded server")
    executing, following = two_relays
    feed = following.follow_run(RUN)
    postgres.embedded.restart()  # both processes' connections are now dead
    executing._interest.clear()  # and what was announced before is forgotten
    got: list[RunEvent] = []
    async with asyncio.timeout(20):
        # Listening again, the follower says what it follows; sending again, the relay
        # gets it there.
        while not got:
            if executing.followers(("run", RUN)):
                executing.offer(RUN, THREAD, RunEvent(1, "values", b"{}"))
            got = await feed.take(patience=0.2)
    feed.close()
    assert got[0] == RunEvent(1, "values", b"{}")
