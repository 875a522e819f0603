"""The SDK's legacy `messages` stream mode, event for event as LangGraph's Agent Server sends it.

A message a node returns whole is `messages/complete` as soon as the node ends; a message a
chat model streams grows by `messages/partial` and is never completed; neither carries a
subgraph's namespace in its event name.
"""

from __future__ import annotations

from typing import Any

from langgraph_sdk.client import LangGraphClient

ASK = {"messages": [{"role": "user", "content": "hi there"}]}


async def events(sdk: LangGraphClient, graph: str, modes: Any, **options: Any) -> list[Any]:
    thread = await sdk.threads.create()
    stream = sdk.runs.stream(thread["thread_id"], graph, input=ASK, stream_mode=modes, **options)
    return [part async for part in stream]


def named(parts: list[Any]) -> list[str]:
    return [part.event for part in parts]


async def test_a_message_a_node_returns_is_complete_when_the_node_ends(
    sdk: LangGraphClient,
) -> None:
    parts = await events(sdk, "branching", ["messages", "tasks"])
    assert named(parts) == [
        "metadata",
        "tasks",
        "messages/metadata",
        "messages/complete",
        "tasks",
    ]
    (message,) = parts[3].data
    assert (message["type"], message["content"]) == ("ai", "routed")
    assert list(parts[2].data) == [message["id"]]
    assert parts[2].data[message["id"]]["metadata"]["langgraph_node"] == "first"


async def test_a_streamed_message_grows_as_a_whole_message_and_is_never_completed(
    sdk: LangGraphClient,
) -> None:
    parts = await events(sdk, "streamer", "messages")
    assert named(parts)[:2] == ["metadata", "messages/metadata"]
    partials = parts[2:]
    assert {part.event for part in partials} == {"messages/partial"}
    contents = [part.data[0]["content"] for part in partials]
    # LangChain ends a stream with an empty chunk: the last message comes twice.
    assert list(dict.fromkeys(contents)) == ["echo: ", "echo: hi ", "echo: hi there"]
    assert {part.data[0]["type"] for part in partials} == {"ai"}
    assert "tool_call_chunks" not in partials[-1].data[0]


async def test_streamed_tokens_come_between_the_events_of_their_node(
    sdk: LangGraphClient,
) -> None:
    parts = await events(sdk, "streamer", ["messages", "events", "tasks"])
    kinds = [p.data["event"] if p.event == "events" else p.event for p in parts]
    model_end = kinds.index("on_chat_model_end")
    assert kinds[model_end - 2 : model_end] == ["on_chat_model_stream", "messages/partial"]
    assert "messages/complete" not in kinds
    assert kinds[-2:] == ["tasks", "on_chain_end"]


async def test_a_subgraphs_message_completes_when_its_parent_node_ends(
    sdk: LangGraphClient,
) -> None:
    parts = await events(sdk, "nested", ["messages", "values"])
    assert named(parts) == [
        "metadata",
        "values",
        "messages/metadata",
        "messages/complete",
        "values",
    ]
    assert parts[3].data[0]["content"] == "from the subgraph"


async def test_streamed_subgraph_events_keep_their_plain_names(sdk: LangGraphClient) -> None:
    parts = await events(sdk, "nested", "messages", stream_subgraphs=True)
    assert named(parts) == ["metadata", "messages/metadata", "messages/complete"]
    metadata = next(iter(parts[1].data.values()))["metadata"]
    assert metadata["langgraph_checkpoint_ns"].startswith("child:")


async def test_messages_tuple_mode_takes_the_place_of_the_legacy_mode(
    sdk: LangGraphClient,
) -> None:
    parts = await events(sdk, "streamer", ["messages", "messages-tuple"])
    assert set(named(parts)) == {"metadata", "messages"}
