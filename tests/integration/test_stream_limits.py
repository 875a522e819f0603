"""Open streams per user are capped with 429, and every stream ends after its lifetime."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess


@pytest.fixture
def server(migrated_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {
        "DATABASE_URL": migrated_url,
        "LANGSTAR_LIMITS__MAX_STREAMS_PER_USER": "1",
        "LANGSTAR_LIMITS__MAX_STREAM_SECONDS": "2",
        "LANGSTAR_RUNS__HEARTBEAT_SECONDS": "0.5",
    }
    process = ServerProcess(env, tmp_path).start()
    yield process
    process.stop()


def test_streams_per_user_are_capped_and_end_after_their_lifetime(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        events = f"/threads/{thread}/stream/events"
        started = time.monotonic()
        with client.stream("GET", f"/threads/{thread}/stream") as first:
            assert first.status_code == 200
            second = client.post(events, json={"channels": ["values"]})
            assert second.status_code == 429
            assert second.headers["retry-after"] == "1"
            assert "limits.max_streams_per_user" in second.json()["detail"]
            refused_run = client.post(
                f"/threads/{thread}/runs/stream", json={"assistant_id": "agent", "input": None}
            )
            assert refused_run.status_code == 429
            assert client.get(f"/threads/{thread}/runs").json() == []  # no run was left behind
            body = first.read()  # the server ends the stream at its lifetime
        lasted = time.monotonic() - started
        assert 1.5 < lasted < 15, lasted
        assert b"heartbeat" in body
        # The slot came back when the stream ended.
        with client.stream("POST", events, json={"channels": ["values"]}) as third:
            assert third.status_code == 200
