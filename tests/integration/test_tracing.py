"""Traces reach a real OTLP/HTTP receiver from a real `langstar serve`, and only when asked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.otlp import Collector, ReceivedSpan, otlp_collector
from tests.support.receiver import webhook_receiver
from tests.support.server import ServerProcess

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
SERVER, CLIENT = 2, 3  # OTLP span kinds
ERROR = 2  # OTLP status code
REPO = Path(__file__).parents[2]
GRAPHS = """
[graphs]
agent = "langstar.agents.chat:graph"
failing = "tests.support.graphs:failing"
"""


def say(text: str) -> dict[str, object]:
    return {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}}


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with otlp_collector() as collector:
        yield collector


@pytest.fixture(scope="module")
def traced_server(
    migrated_url: str, collector: Collector, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    work = tmp_path_factory.mktemp("traced")
    config = work / "langstar.toml"
    config.write_text(GRAPHS)
    env = {
        "DATABASE_URL": migrated_url,
        "LANGSTAR_CONFIG": str(config),
        "PYTHONPATH": str(REPO),
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_SERVICE_NAME": "langstar-under-test",
        "LANGSTAR_WEBHOOKS__ALLOW_PRIVATE": "true",
        "LANGSTAR_WEBHOOKS__POLL_SECONDS": "0.1",
    }
    process = ServerProcess(env, work).start()
    yield process
    process.stop()


def one(spans: list[ReceivedSpan], **wanted: object) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in wanted.items())]
    assert len(found) == 1, (wanted, [s.name for s in spans])
    return found[0]


def run_span_of(run_id: str) -> object:
    def arrived(spans: list[ReceivedSpan]) -> bool:
        return any(s.attributes.get("langstar.run_id") == run_id for s in spans)

    return arrived


def test_a_run_is_traced_under_the_callers_traceparent(
    traced_server: ServerProcess, collector: Collector
) -> None:
    with httpx.Client(base_url=traced_server.url, timeout=30) as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        response = client.post(
            f"/threads/{thread}/runs/wait",
            json=say("hello there"),
            headers={"traceparent": TRACEPARENT},
        )
        assert response.status_code == 200, response.text
        run_id = response.headers["content-location"].rsplit("/", 1)[1]
    spans = collector.wait_for(
        lambda spans: (
            sum(s.trace_id == CALLER_TRACE and s.name.startswith("chat") for s in spans) >= 1
            and any(s.attributes.get("langstar.run_id") == run_id for s in spans)
            and any(s.kind == SERVER and s.attributes.get("langstar.run_id") is None for s in spans)
        )
    )
    ours = [s for s in spans if s.trace_id == CALLER_TRACE]
    request = one(ours, name="POST /threads/{thread_id}/runs/wait")
    assert (request.kind, request.parent_span_id) == (SERVER, CALLER_SPAN)
    assert request.service == "langstar-under-test"
    assert request.attributes == {
        "http.request.method": "POST",
        "http.route": "/threads/{thread_id}/runs/wait",
        "http.response.status_code": 200,
    }
    run = one(ours, name="invoke_agent agent")
    assert run.parent_span_id == request.span_id
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.agent.name"] == "agent"
    assert run.attributes["gen_ai.conversation.id"] == thread
    assert run.attributes["langstar.run_id"] == run_id
    assert run.attributes["gen_ai.agent.id"]
    assert run.status_code != ERROR
    nodes = [s for s in ours if s.name.startswith("node ")]
    assert nodes, [s.name for s in ours]
    assert {n.parent_span_id for n in nodes} == {run.span_id}
    assert all(n.attributes["langgraph.node"] == n.name[len("node ") :] for n in nodes)
    model = one(ours, kind=CLIENT)
    assert model.parent_span_id in {n.span_id for n in nodes}
    assert model.attributes["gen_ai.operation.name"] == "chat"
    assert model.name.startswith("chat")


def test_a_failed_run_is_an_error_span_with_its_exception(
    traced_server: ServerProcess, collector: Collector
) -> None:
    with httpx.Client(base_url=traced_server.url, timeout=30) as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        body = {**say("fail"), "assistant_id": "failing"}
        response = client.post(f"/threads/{thread}/runs/wait", json=body)
        assert response.json()["__error__"]["error"] == "ValueError"
        run_id = response.headers["content-location"].rsplit("/", 1)[1]
    spans = collector.wait_for(
        lambda spans: any(s.attributes.get("langstar.run_id") == run_id for s in spans)
    )
    run = next(s for s in spans if s.attributes.get("langstar.run_id") == run_id)
    assert run.name == "invoke_agent failing"
    assert run.status_code == ERROR
    assert run.attributes["error.type"] == "ValueError"
    assert run.events == ["exception"]
    node = one(spans, trace_id=run.trace_id, name="node fail")
    assert (node.parent_span_id, node.status_code) == (run.span_id, ERROR)


def test_a_bad_traceparent_starts_a_new_trace(
    traced_server: ServerProcess, collector: Collector
) -> None:
    with httpx.Client(base_url=traced_server.url, timeout=30) as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        response = client.post(
            f"/threads/{thread}/runs/wait",
            json=say("hi"),
            headers={"traceparent": "00-not-a-trace-01"},
        )
        assert response.status_code == 200, response.text
        run_id = response.headers["content-location"].rsplit("/", 1)[1]
    spans = collector.wait_for(
        lambda spans: any(s.attributes.get("langstar.run_id") == run_id for s in spans)
    )
    run = one(spans, name="invoke_agent agent", parent_span_id=_parent_of(spans, run_id))
    request = one(spans, span_id=run.parent_span_id)
    assert request.parent_span_id == ""  # a root: the bad header is ignored
    assert request.trace_id == run.trace_id


def _parent_of(spans: list[ReceivedSpan], run_id: str) -> str:
    return next(s.parent_span_id for s in spans if s.attributes.get("langstar.run_id") == run_id)


def test_refused_and_failed_requests_are_traced_with_their_status(
    traced_server: ServerProcess, collector: Collector
) -> None:
    with httpx.Client(base_url=traced_server.url, timeout=30) as client:
        missing = "00000000-0000-0000-0000-000000000001"
        traceparent = f"00-{'ab' * 16}-{CALLER_SPAN}-01"
        response = client.get(f"/threads/{missing}", headers={"traceparent": traceparent})
        assert response.status_code == 404
    spans = collector.wait_for(lambda spans: any(s.trace_id == "ab" * 16 for s in spans))
    request = one(spans, trace_id="ab" * 16)
    assert request.name == "GET /threads/{thread_id}"
    assert request.attributes["http.response.status_code"] == 404


def test_a_webhook_carries_the_runs_trace(
    traced_server: ServerProcess, collector: Collector
) -> None:
    with webhook_receiver() as receiver, httpx.Client(base_url=traced_server.url) as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        body = {**say("ping"), "webhook": receiver.url}
        headers = {"traceparent": TRACEPARENT}
        response = client.post(f"/threads/{thread}/runs/wait", json=body, headers=headers)
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.1)
    assert receiver.received, "no webhook arrived"
    sent = receiver.received[0].headers["traceparent"]
    version, trace_id, parent, flags = sent.split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")
    spans = collector.wait_for(lambda spans: any(s.span_id == parent for s in spans))
    assert one(spans, span_id=parent).name == "POST /threads/{thread_id}/runs/wait"


def test_nothing_is_exported_when_the_sdk_is_disabled(migrated_url: str, tmp_path: Path) -> None:
    with otlp_collector() as collector:
        env = {
            "DATABASE_URL": migrated_url,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_SDK_DISABLED": "true",
        }
        process = ServerProcess(env, tmp_path).start()
        try:
            with httpx.Client(base_url=process.url, timeout=30) as client:
                thread = client.post("/threads", json={}).json()["thread_id"]
                response = client.post(
                    f"/threads/{thread}/runs/wait",
                    json=say("quiet"),
                    headers={"traceparent": TRACEPARENT},
                )
                assert response.status_code == 200
                run = client.get(response.headers["content-location"]).json()
            assert "traceparent" not in run["kwargs"]
            time.sleep(1.0)  # twenty export intervals
        finally:
            process.stop()
        assert collector.paths == []
