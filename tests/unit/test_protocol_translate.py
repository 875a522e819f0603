"""How a run's graph output becomes protocol events, and how subscriptions pick them."""

from __future__ import annotations

import uuid

from langgraph.types import Interrupt

from langstar.streaming.translate import Translator, channel_of, namespace_matches


def test_an_interrupt_is_requested_once_and_ends_the_root_as_interrupted() -> None:
    translator = Translator(uuid.uuid4(), "hitl")
    pause = (Interrupt(value={"q": 1}, id="i-1"),)
    first = translator.feed((), "updates", {"__interrupt__": pause})
    assert [e.method for e in first] == ["input.requested", "lifecycle"]
    assert first[0].params["data"] == {"interrupt_id": "i-1", "payload": {"q": 1}}
    assert first[1].params["data"] == {"event": "interrupted", "graph_name": "hitl"}
    again = translator.feed((), "values", {"messages": [], "__interrupt__": pause})
    assert [e.method for e in again] == ["values"]
    assert "__interrupt__" not in again[0].params["data"]
    assert translator.finished("completed") == []  # the root already ended


def test_event_ids_are_unique_and_stable_per_run() -> None:
    run_id = uuid.uuid4()
    translator = Translator(run_id, "g")
    events = translator.started() + translator.feed(("child:1",), "custom", {"x": 1})
    assert [e.event_id for e in events] == [f"{run_id}:1", f"{run_id}:2"]
    assert events[1].params["namespace"] == ["child:1"]
    assert events[1].params["data"] == {"payload": {"x": 1}}


def test_checkpoints_become_envelopes_once() -> None:
    translator = Translator(uuid.uuid4(), "g")
    chunk = {
        "config": {"configurable": {"checkpoint_id": "c2"}},
        "parent_config": {"configurable": {"checkpoint_id": "c1"}},
        "metadata": {"step": 3, "source": "loop"},
    }
    [event] = translator.feed((), "checkpoints", chunk)
    assert event.params["data"] == {"id": "c2", "parent_id": "c1", "step": 3, "source": "loop"}
    assert translator.feed((), "checkpoints", chunk) == []


def test_updates_carry_their_node_and_legacy_message_tuples_are_dropped() -> None:
    translator = Translator(uuid.uuid4(), "g")
    [update] = translator.feed((), "updates", {"reply": {"messages": []}})
    assert update.params["node"] == "reply"
    assert translator.feed((), "messages", ("not a protocol event", {})) == []


def test_channels_and_namespaces() -> None:
    assert channel_of("input.requested", {}) == "input"
    assert channel_of("custom", {"data": {"name": "progress"}}) == "custom:progress"
    assert channel_of("custom", {"data": {"payload": 1}}) == "custom"
    assert namespace_matches(["a:1", "b:2"], None, 0)
    assert namespace_matches(["a:1", "b:2"], [["a"]], None)
    assert not namespace_matches(["a:1", "b:2"], [["a"]], 0)
    assert namespace_matches(["a:1"], [["a"]], 0)
    assert not namespace_matches(["a:1"], [["a:2"]], None)
    assert not namespace_matches([], [["a"]], None)
