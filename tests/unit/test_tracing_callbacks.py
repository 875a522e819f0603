"""Node, subgraph and model spans nest as the graph runs them; an interrupt is no error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import interrupt
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from langstar.tracing import setup
from langstar.tracing.callbacks import traced
from tests.support.fakes import RecordingChatModel


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """A provider of this test's own, never the process's global one."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(setup, "_provider", provider)
    yield exporter
    provider.shutdown()


def graph(model: RecordingChatModel) -> Any:
    async def talk(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def ask(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(interrupt("confirm?"))]}

    inner = StateGraph(MessagesState).add_node("talk", talk).add_edge(START, "talk").compile()
    outer = StateGraph(MessagesState).add_node("inner", inner).add_node("ask", ask)
    outer.add_edge(START, "inner").add_edge("inner", "ask")
    return outer.compile(checkpointer=InMemorySaver())


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def parent(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


async def test_spans_nest_as_the_graph_runs(exported: InMemorySpanExporter) -> None:
    model = RecordingChatModel()
    with setup.tracer().start_as_current_span("invoke_agent test") as run:
        config = traced({"configurable": {"thread_id": "t1"}})
        await graph(model).ainvoke({"messages": [("user", "hi")]}, config)
    spans = exported.get_finished_spans()
    assert sorted(s.name for s in spans) == sorted(
        ["invoke_agent test", "node inner", "node talk", "chat", "node ask"]
    )
    run_id = run.get_span_context().span_id
    inner, talk = by_name(spans, "node inner"), by_name(spans, "node talk")
    assert parent(inner) == run_id
    assert parent(talk) == inner.context.span_id
    chat = by_name(spans, "chat")
    assert parent(chat) == talk.context.span_id
    assert chat.kind == trace.SpanKind.CLIENT
    assert (chat.attributes or {}).get("gen_ai.operation.name") == "chat"
    ask = by_name(spans, "node ask")
    assert ask.status.status_code == StatusCode.UNSET  # interrupted, not failed
    assert all(s.context.trace_id == run.get_span_context().trace_id for s in spans)


async def test_a_failing_node_is_an_error_span(exported: InMemorySpanExporter) -> None:
    def boom(state: MessagesState) -> dict[str, Any]:
        raise RuntimeError("no")

    failing = StateGraph(MessagesState).add_node("boom", boom).add_edge(START, "boom").compile()
    with pytest.raises(RuntimeError):
        await failing.ainvoke({"messages": []}, traced({}))
    span = by_name(exported.get_finished_spans(), "node boom")
    assert span.status.status_code == StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


def test_off_the_config_is_left_as_it_is() -> None:
    config: Any = {"configurable": {"thread_id": "t"}}
    assert not setup.tracing_on()
    assert traced(config) is config
