"""What a compiled graph looks like from outside: its drawing and its JSON Schemas."""

from __future__ import annotations

import warnings
from typing import Any

from langgraph.pregel import Pregel
from pydantic import TypeAdapter

from langstar.assistants.schemas import GraphSchemas


def _quietly(build: Any) -> dict[str, Any] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # config schemas are deprecated, not gone
            schema: dict[str, Any] | None = build()
            return schema
    except Exception:
        return None


def state_schema(graph: Pregel[Any, Any, Any, Any]) -> dict[str, Any]:
    """Every channel a client sees in `values`, each with the type it accepts."""
    properties: dict[str, Any] = {}
    for name in graph.stream_channels_list:
        channel = graph.channels[name]
        try:
            update_type = getattr(channel, "UpdateType", Any)
            properties[name] = TypeAdapter(update_type).json_schema()
        except Exception:
            properties[name] = {}
    return {"title": graph.get_name("State"), "type": "object", "properties": properties}


def input_schema(graph: Pregel[Any, Any, Any, Any]) -> dict[str, Any] | None:
    """The JSON Schema of what a run takes as input; None if the graph cannot say."""
    return _quietly(graph.get_input_jsonschema)


def graph_schemas(graph_id: str, graph: Pregel[Any, Any, Any, Any]) -> GraphSchemas:
    return GraphSchemas(
        graph_id=graph_id,
        input_schema=input_schema(graph),
        output_schema=_quietly(graph.get_output_jsonschema),
        state_schema=_quietly(lambda: state_schema(graph)),
        config_schema=_quietly(graph.get_config_jsonschema),
        context_schema=_quietly(graph.get_context_jsonschema),
    )


def graph_drawing(graph: Pregel[Any, Any, Any, Any], xray: bool | int) -> dict[str, Any]:
    drawing: dict[str, Any] = graph.get_graph(xray=xray).to_json()
    return drawing
