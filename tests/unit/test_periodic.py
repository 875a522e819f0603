"""Background loops stop with the server, even when their step swallows a cancellation."""

from __future__ import annotations

import asyncio
import contextlib

from langstar.periodic import Periodic


async def test_closing_waits_for_the_step_and_survives_a_swallowed_cancel() -> None:
    steps = 0

    async def step() -> bool:
        nonlocal steps
        steps += 1
        # As a database driver may, when a cancel lands mid-query: it is swallowed.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)
        return False

    loop = Periodic(step, interval=0.01, name="test loop")
    loop.open()
    await asyncio.sleep(0.1)
    await asyncio.wait_for(loop.aclose(grace=0.01), 2)
    done = steps
    await asyncio.sleep(0.1)
    assert steps == done  # nothing runs after close


async def test_a_failing_step_is_tried_again_and_a_full_batch_at_once() -> None:
    calls: list[float] = []

    async def step() -> bool:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) == 1:
            raise RuntimeError("database restarting")
        return len(calls) < 4  # the second and third are full batches

    loop = Periodic(step, interval=0.2, name="test loop")
    loop.open()
    await asyncio.sleep(0.3)
    await loop.aclose()
    assert len(calls) >= 4
    # After the failure, one interval; then the full batches follow without waiting.
    assert calls[1] - calls[0] >= 0.19
    assert calls[3] - calls[1] < 0.1
