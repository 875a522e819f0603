"""`debug` stream mode's checkpoint events, as LangGraph's Agent Server sends them: with
the checkpoint and its parent named, and a subgraph task's config as its `checkpoint`;
`checkpoints` mode sends LangGraph's payload unchanged."""

from __future__ import annotations

from typing import Any

from langgraph_sdk.client import LangGraphClient

GRAPHS = {"nested": "tests.support.graphs:nested"}
SAY: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}


async def streamed(sdk: LangGraphClient, **options: Any) -> list[tuple[str, Any]]:
    thread = (await sdk.threads.create())["thread_id"]
    parts = sdk.runs.stream(thread, "nested", input=SAY, **options)
    return [(part.event, part.data) async for part in parts]


def named(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The checkpoint a LangGraph config names, as the Agent Server gives it."""
    if not config:
        return None
    configurable = config["configurable"]
    keys = ("checkpoint_id", "thread_id", "checkpoint_ns", "checkpoint_map")
    return {key: configurable[key] for key in keys if key in configurable}


def checkpoint_events(parts: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [
        (event, data["payload"])
        for event, data in parts
        if event.startswith("debug") and data["type"] == "checkpoint"
    ]


async def test_a_debug_checkpoint_names_its_checkpoint_and_its_parent(
    sdk: LangGraphClient,
) -> None:
    payloads = [p for _, p in checkpoint_events(await streamed(sdk, stream_mode="debug"))]
    assert len(payloads) == 3
    for payload in payloads:
        assert payload["checkpoint"] == named(payload["config"])
        assert payload["parent_checkpoint"] == named(payload["parent_config"])
    assert payloads[0]["parent_checkpoint"] is None
    assert payloads[1]["parent_checkpoint"] == payloads[0]["checkpoint"]
    assert set(payloads[0]["checkpoint"]) == {"checkpoint_id", "thread_id", "checkpoint_ns"}


async def test_a_debug_checkpoints_subgraph_task_names_its_checkpoint_not_its_state(
    sdk: LangGraphClient,
) -> None:
    payloads = [p for _, p in checkpoint_events(await streamed(sdk, stream_mode="debug"))]
    [task] = payloads[1]["tasks"]
    assert "state" not in task
    assert set(task["checkpoint"]) == {"thread_id", "checkpoint_ns"}
    assert task["checkpoint"]["checkpoint_ns"].startswith("child:")
    [start] = payloads[0]["tasks"]
    assert start["state"] is None, "a task with no subgraph keeps its state"


async def test_a_subgraphs_debug_checkpoint_names_its_checkpoint_map(
    sdk: LangGraphClient,
) -> None:
    events = checkpoint_events(await streamed(sdk, stream_mode="debug", stream_subgraphs=True))
    inner = [payload for event, payload in events if event.startswith("debug|child:")]
    assert inner, "the subgraph's own checkpoints are streamed"
    for payload in inner:
        assert payload["checkpoint"] == named(payload["config"])
        assert "checkpoint_map" in payload["checkpoint"]
        assert payload["parent_checkpoint"] == named(payload["parent_config"])
    assert inner[0]["parent_checkpoint"] is None


async def test_checkpoints_mode_sends_langgraphs_payload_unchanged(sdk: LangGraphClient) -> None:
    parts = await streamed(sdk, stream_mode=["checkpoints", "debug"])
    payloads = [data for event, data in parts if event == "checkpoints"]
    assert len(payloads) == 3
    for payload in payloads:
        assert set(payload) == {"config", "parent_config", "values", "metadata", "next", "tasks"}
        assert all("state" in task and "checkpoint" not in task for task in payload["tasks"])
