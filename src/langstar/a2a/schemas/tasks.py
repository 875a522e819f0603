"""A2A's protocol objects, made from langstar's threads, runs and assistants, and back.

A context (`contextId`) is a thread. A task is the run that began it, together with the
runs that resumed it each time its graph asked for input; its id is
`"{thread_id}:{run_id}"` of that first run, and each resuming run names it in its
metadata under `TASK_KEY`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from a2a.compat.v0_3 import conversions
from a2a.compat.v0_3 import types as legacy
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    APIKeySecurityScheme,
    Artifact,
    HTTPAuthSecurityScheme,
    Message,
    Part,
    Role,
    SecurityRequirement,
    SecurityScheme,
    StreamResponse,
    StringList,
    Task,
    TaskState,
)
from a2a.utils.constants import PROTOCOL_VERSION_0_3, PROTOCOL_VERSION_CURRENT, TransportProtocol
from a2a.utils.errors import (
    ContentTypeNotSupportedError,
    InvalidParamsError,
    TaskNotFoundError,
)
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict, ParseDict
from pydantic import BaseModel

# The version the v1 method names speak; the 0.3 slash names are served beside them.
PROTOCOL_VERSION = PROTOCOL_VERSION_CURRENT
LEGACY_VERSION = PROTOCOL_VERSION_0_3
TASK_KEY = "a2a_task_id"
MEDIA_TYPES = ("text/plain", "application/json")

STATE_OF_RUN: dict[str, TaskState] = {
    "pending": TaskState.TASK_STATE_SUBMITTED,
    "running": TaskState.TASK_STATE_WORKING,
    "success": TaskState.TASK_STATE_COMPLETED,
    "error": TaskState.TASK_STATE_FAILED,
    "timeout": TaskState.TASK_STATE_FAILED,
    # A run ends `interrupted` only when it is cancelled; a graph's interrupt() ends it
    # `success`, its thread `interrupted` (input-required).
    "interrupted": TaskState.TASK_STATE_CANCELED,
}
TERMINAL = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_REJECTED,
    }
)
# A stream ends once its task reaches one of these: nothing more happens without the client.
FINAL = TERMINAL | {TaskState.TASK_STATE_INPUT_REQUIRED}


def task_id_of(thread_id: uuid.UUID, run_id: uuid.UUID) -> str:
    return f"{thread_id}:{run_id}"


def parse_task_id(value: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The thread and first run a task id names; an id of no shape of ours names no task."""
    context, _, run = value.partition(":")
    try:
        return uuid.UUID(context), uuid.UUID(run)
    except ValueError:
        raise TaskNotFoundError(f"Task {value!r} not found") from None


def parse_context_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidParamsError(
            f"contextId {value!r} is not a context of this agent: contexts are UUIDs"
        ) from None


@dataclass(frozen=True, slots=True)
class UserInput:
    """What a client's message says: its text parts joined, and its data parts."""

    text: str | None
    data: list[Any]

    @property
    def resume_value(self) -> Any:
        """The answer to a graph's interrupt(): the text, or the data (one part: as is)."""
        if self.text is not None and self.data:
            raise InvalidParamsError("answer an input request with text or with data, not both")
        if self.text is not None:
            return self.text
        return self.data[0] if len(self.data) == 1 else self.data

    def graph_input(self) -> dict[str, Any]:
        """The run's input: data parts (objects) merged, the text as a user message.

        The message keeps no id of the client's: `messages` replaces a message by id, so a
        client that reused one would overwrite its earlier turn.
        """
        merged: dict[str, Any] = {}
        for item in self.data:
            if not isinstance(item, dict):
                raise InvalidParamsError("a data part that starts a task must be a JSON object")
            merged.update(item)
        if self.text is not None:
            human = {"type": "human", "content": self.text}
            merged["messages"] = [*list(merged.get("messages") or []), human]
        return merged


def user_input(message: Message) -> UserInput:
    if message.role == Role.ROLE_AGENT:
        raise InvalidParamsError("message.role: a client's message has the user role")
    texts: list[str] = []
    data: list[Any] = []
    for part in message.parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            texts.append(part.text)
        elif kind == "data":
            data.append(_whole_numbers(MessageToDict(part.data)))
        else:
            raise ContentTypeNotSupportedError(
                f"{kind or 'empty'} parts are not supported: send text or data parts"
            )
    if not texts and not data:
        raise InvalidParamsError("message.parts: the message has no text or data part")
    return UserInput("\n".join(texts) if texts else None, data)


def _whole_numbers(value: Any) -> Any:
    """JSON numbers as Python reads them: protobuf keeps every number as a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def parts_of(value: Any) -> list[Part]:
    """A value a graph produced: text as a text part, anything else as a data part."""
    if isinstance(value, str):
        return [Part(text=value, media_type="text/plain")]
    return [Part(data=ParseDict(value, struct_pb2.Value()), media_type="application/json")]


def text_of(content: Any) -> str:
    """The text of a LangChain message's content: a string, or text blocks."""
    if isinstance(content, str):
        return content
    texts = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            texts.append(str(block.get("text", "")))
    return "".join(texts)


def _role_of(message: Mapping[str, Any]) -> Role | None:
    kind = str(message.get("type") or message.get("role") or "").lower()
    if kind in ("human", "user"):
        return Role.ROLE_USER
    if kind in ("ai", "assistant"):
        return Role.ROLE_AGENT
    return None  # system and tool messages are not a turn of the conversation


def conversation(values: Any, context_id: str) -> list[Message]:
    """The user and agent turns in a state's `messages`, oldest first."""
    found = []
    messages = values.get("messages") if isinstance(values, dict) else None
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        role, text = _role_of(message), text_of(message.get("content"))
        if role is None or not text:
            continue
        found.append(
            Message(
                message_id=str(message.get("id") or uuid.uuid4()),
                context_id=context_id,
                role=role,
                parts=parts_of(text),
            )
        )
    return found


def reply_of(history: list[Message]) -> Message | None:
    """The agent's answer: its last turn, if it came after the user's last."""
    last = history[-1] if history else None
    return last if last is not None and last.role == Role.ROLE_AGENT else None


def agent_message(message_id: str, context_id: str, task_id: str, parts: Iterable[Part]) -> Message:
    return Message(
        message_id=message_id,
        context_id=context_id,
        task_id=task_id,
        role=Role.ROLE_AGENT,
        parts=list(parts),
    )


def interrupt_message(interrupts: list[Any], context_id: str, task_id: str) -> Message:
    """What the graph asked, as the status message of a task that requires input."""
    parts: list[Part] = []
    ids: list[str] = []
    for item in interrupts:
        value = item.get("value") if isinstance(item, dict) else item
        parts += parts_of(value)
        if isinstance(item, dict) and item.get("id"):
            ids.append(str(item["id"]))
    return agent_message("-".join(ids) or str(uuid.uuid4()), context_id, task_id, parts)


def reply_artifact(reply: Message, task_id: str) -> Artifact:
    return Artifact(artifact_id=f"{task_id}:reply", name="reply", parts=list(reply.parts))


def with_timestamp(task: Task, when: datetime) -> Task:
    task.status.timestamp.FromDatetime(when)
    return task


def security_of(auth_mode: str) -> tuple[dict[str, SecurityScheme], list[SecurityRequirement]]:
    """How a client authenticates, as the card tells it: as the API does."""
    bearer = SecurityScheme(
        http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="Bearer", bearer_format="JWT")
    )
    if auth_mode == "jwt":
        schemes = {"bearer": bearer}
    elif auth_mode == "api_key":
        key = APIKeySecurityScheme(location="header", name="x-api-key")
        schemes = {
            "apiKey": SecurityScheme(api_key_security_scheme=key),
            "bearer": SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="Bearer")
            ),
        }
    else:
        return {}, []
    # Any one of them will do.
    return schemes, [SecurityRequirement(schemes={name: StringList()}) for name in schemes]


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What an agent card says of an assistant."""

    url: str
    name: str
    description: str
    version: str
    skill_id: str
    input_schema: dict[str, Any] | None
    auth_mode: str


def agent_card(facts: CardFacts) -> dict[str, Any]:
    """The card: the endpoint speaks JSON-RPC, in protocol 1.0 and, by its slash method
    names, 0.3; it streams, and pushes nothing."""
    schemes, requirements = security_of(facts.auth_mode)
    binding = TransportProtocol.JSONRPC.value
    card = AgentCard(
        name=facts.name,
        description=facts.description,
        version=facts.version,
        supported_interfaces=[
            AgentInterface(url=facts.url, protocol_binding=binding, protocol_version=version)
            for version in (PROTOCOL_VERSION, LEGACY_VERSION)
        ],
        capabilities=AgentCapabilities(
            streaming=True, push_notifications=False, extended_agent_card=False
        ),
        default_input_modes=MEDIA_TYPES,
        default_output_modes=MEDIA_TYPES,
        skills=[
            AgentSkill(
                id=facts.skill_id,
                name=facts.name,
                description=facts.description,
                tags=["langgraph"],
                input_modes=MEDIA_TYPES,
                output_modes=MEDIA_TYPES,
            )
        ],
        security_schemes=schemes,
        security_requirements=requirements,
    )
    # The SDK adds the fields 0.3 clients read (url, protocolVersion, preferredTransport).
    body = agent_card_to_dict(card)
    # Not a field of the protocol's skill: clients that know it (LangGraph's) read it.
    body["skills"][0]["metadata"] = {
        "inputSchema": facts.input_schema or {},
        "supportsMessages": "messages" in ((facts.input_schema or {}).get("properties") or {}),
    }
    return body


# The 0.3 dialect: what clients calling the slash method names read.


def legacy_task(task: Task) -> dict[str, Any]:
    return _dump(conversions.to_compat_task(task))


def legacy_event(event: StreamResponse, request_id: str | int | None) -> dict[str, Any]:
    """One event of a 0.3 stream, a whole JSON-RPC response; its last one is `final`."""
    response = conversions.to_compat_stream_response(event, request_id)
    result = response.result
    if (
        isinstance(result, legacy.TaskStatusUpdateEvent)
        and result.status.state == legacy.TaskState.input_required
    ):
        result.final = True
    return _dump(response)


def _dump(model: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped
