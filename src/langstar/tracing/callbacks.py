"""Spans for a run's graph nodes, model calls and tool calls, from LangChain's callbacks."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from langstar.tracing.setup import tracer, tracing_on

HIDDEN = "langsmith:hidden"  # LangGraph's own plumbing (channel writes, branches)


class SpanCallbacks(BaseCallbackHandler):
    """Opens a span per graph node (`node {name}`), model call (`chat {model}`) and tool
    call (`execute_tool {name}`), each under the nearest traced step that contains it.

    Its parents are found by LangChain's run ids, not by the current context, which
    LangChain does not carry from a start callback to the step it starts.
    """

    run_inline = True  # a span is cheap to open: no thread hop for it

    def __init__(self, root: Context) -> None:
        self._root = root
        self._contexts: dict[uuid.UUID, Context] = {}
        self._spans: dict[uuid.UUID, Span] = {}

    def _parent(self, parent_run_id: uuid.UUID | None) -> Context:
        if parent_run_id is None:
            return self._root
        return self._contexts.get(parent_run_id, self._root)

    def _open(
        self,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None,
        name: str,
        kind: SpanKind,
        attributes: dict[str, Any],
    ) -> None:
        parent = self._parent(parent_run_id)
        span = tracer().start_span(name, context=parent, kind=kind, attributes=attributes)
        self._spans[run_id] = span
        self._contexts[run_id] = trace.set_span_in_context(span, parent)

    def _close(self, run_id: uuid.UUID, error: BaseException | None = None) -> Span | None:
        self._contexts.pop(run_id, None)
        span = self._spans.pop(run_id, None)
        if span is None:
            return None
        if error is not None and not isinstance(error, GraphBubbleUp):  # an interrupt is no fault
            span.record_exception(error)
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end()
        return span

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        metadata = metadata or {}
        node = metadata.get("langgraph_node")
        # A node's own run carries its name; what runs inside it inherits the metadata.
        if node is None or kwargs.get("name") != node or HIDDEN in (tags or []):
            self._contexts[run_id] = self._parent(parent_run_id)
            return
        attributes = {"langgraph.node": node, "langgraph.step": metadata.get("langgraph_step", 0)}
        self._open(run_id, parent_run_id, f"node {node}", SpanKind.INTERNAL, attributes)

    def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id)

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, error)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        metadata = metadata or {}
        params = kwargs.get("invocation_params") or {}
        model = metadata.get("ls_model_name") or params.get("model") or params.get("model_name")
        attributes: dict[str, Any] = {"gen_ai.operation.name": "chat"}
        if model:
            attributes["gen_ai.request.model"] = str(model)
        if provider := metadata.get("ls_provider"):
            attributes["gen_ai.provider.name"] = str(provider)
        if (temperature := metadata.get("ls_temperature")) is not None:
            attributes["gen_ai.request.temperature"] = float(temperature)
        name = f"chat {model}" if model else "chat"
        self._open(run_id, parent_run_id, name, SpanKind.CLIENT, attributes)

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        span = self._spans.get(run_id)
        if span is not None:
            span.set_attributes(_usage(response))
        self._close(run_id)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, error)

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = str(kwargs.get("name") or (serialized or {}).get("name") or "tool")
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
        self._open(run_id, parent_run_id, f"execute_tool {name}", SpanKind.INTERNAL, attributes)

    def on_tool_end(
        self,
        output: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id)

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, error)


def _usage(response: LLMResult) -> dict[str, Any]:
    """The reply's model and token counts, as far as the model reported them."""
    found: dict[str, Any] = {}
    output = response.llm_output or {}
    if model := output.get("model_name") or output.get("model"):
        found["gen_ai.response.model"] = str(model)
    for generations in response.generations:
        for generation in generations:
            usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
            if usage:
                found["gen_ai.usage.input_tokens"] = usage.get("input_tokens", 0)
                found["gen_ai.usage.output_tokens"] = usage.get("output_tokens", 0)
    return found


def traced(config: RunnableConfig) -> RunnableConfig:
    """`config` with span callbacks under the current span (the run's) when tracing is on."""
    if not tracing_on():
        return config
    callbacks = config.get("callbacks")
    handler = SpanCallbacks(context.get_current())
    if callbacks is None:
        return {**config, "callbacks": [handler]}
    if isinstance(callbacks, list):
        return {**config, "callbacks": [*callbacks, handler]}
    manager = callbacks.copy()
    manager.add_handler(handler)
    return {**config, "callbacks": manager}
