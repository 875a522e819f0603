"""A run's stream holds its events for replay only when it keeps them."""

from __future__ import annotations

import asyncio

from langstar.streaming.events import RunStream


async def take(batches: object, count: int) -> list[str]:
    """The data of the next `count` events, across as many batches as they come in."""
    got: list[str] = []
    while len(got) < count:
        batch = await anext(batches)  # type: ignore[call-overload]
        got += [item.data.decode() for item in batch or []]
    return got


async def test_a_stream_that_does_not_keep_drops_what_every_reader_has_taken() -> None:
    stream = RunStream(keep=False)
    await stream.publish("values", b"unread, dropped")  # nobody reads yet: not held
    assert stream.held == 0
    slow, fast = stream.read(0, idle=5), stream.read(0, idle=5)  # attached now
    for n in range(3):
        await stream.publish("values", str(n).encode())
    assert stream.held == 3
    assert await take(fast, 3) == ["0", "1", "2"]
    assert stream.held == 3  # `slow` has not taken them yet
    assert await take(slow, 3) == ["0", "1", "2"]
    assert stream.held == 0

    late = stream.read(None, idle=5)  # joins from now on
    await stream.publish("values", b"3")
    assert await take(late, 1) == ["3"]
    assert await take(fast, 1) == ["3"]
    assert stream.held == 1  # `slow` still holds "3"
    await slow.aclose()  # a reader that leaves lets go of it
    assert stream.held == 0
    await stream.close()
    assert [b async for b in fast] == []
    assert [b async for b in late] == []


async def test_a_stream_that_keeps_replays_everything_to_a_late_reader() -> None:
    stream = RunStream()
    first = stream.read(0, idle=5)
    for n in range(3):
        await stream.publish("values", str(n).encode())
    assert await take(first, 3) == ["0", "1", "2"]
    await stream.close()
    assert stream.held == 3
    replay = [item async for batch in stream.read(1) for item in batch or []]
    assert [(item.seq, item.data) for item in replay] == [(2, b"1"), (3, b"2")]


async def test_a_reader_attached_before_iterating_misses_nothing() -> None:
    stream = RunStream(keep=False)
    reader = stream.read(0, idle=5)
    await stream.publish("metadata", b"first")  # before the reader first runs
    await stream.close()
    assert [item.data async for batch in reader for item in batch or []] == [b"first"]
    await asyncio.sleep(0)
    assert stream.held == 0
