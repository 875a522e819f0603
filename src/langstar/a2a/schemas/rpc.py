"""A2A's JSON-RPC binding: requests read, and answers written, in either dialect.

A method asked by its 1.0 name (`SendMessage`) reads and answers protocol 1.0's shapes;
by its 0.3 slash name (`message/send`), 0.3's, converted by the SDK's compat layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from a2a.compat.v0_3 import conversions
from a2a.compat.v0_3 import types as legacy
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
)
from a2a.utils.error_handlers import build_error_details
from a2a.utils.errors import (
    JSON_RPC_ERROR_CODE_MAP,
    A2AError,
    ContentTypeNotSupportedError,
    InvalidParamsError,
    InvalidRequestError,
    JSONParseError,
    MethodNotFoundError,
    PushNotificationNotSupportedError,
    TaskNotFoundError,
    UnsupportedOperationError,
    VersionNotSupportedError,
)
from a2a.utils.proto_utils import validate_proto_required_fields
from a2a.utils.task import validate_history_length
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.message import Message as ProtoMessage
from pydantic import ValidationError

from langstar.a2a.schemas.tasks import MEDIA_TYPES, legacy_event
from langstar.errors import ConflictError, InvalidError, LangstarError, NotFoundError
from langstar.serde import dumps

# The 0.3 slash names, each with the 1.0 method it is.
LEGACY_NAMES = {
    "message/send": "SendMessage",
    "message/stream": "SendStreamingMessage",
    "tasks/get": "GetTask",
    "tasks/cancel": "CancelTask",
    "tasks/resubscribe": "SubscribeToTask",
    "tasks/pushNotificationConfig/set": "CreateTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/get": "GetTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/list": "ListTaskPushNotificationConfigs",
    "tasks/pushNotificationConfig/delete": "DeleteTaskPushNotificationConfig",
    "agent/getAuthenticatedExtendedCard": "GetExtendedAgentCard",
}
# Each 1.0 method with a request message, and that message.
REQUESTS: dict[str, type[ProtoMessage]] = {
    "SendMessage": SendMessageRequest,
    "SendStreamingMessage": SendMessageRequest,
    "GetTask": GetTaskRequest,
    "CancelTask": CancelTaskRequest,
    "ListTasks": ListTasksRequest,
    "SubscribeToTask": SubscribeToTaskRequest,
}
# 0.3 params: the envelope model that validates them, and its conversion to 1.0.
LEGACY_REQUESTS: dict[str, tuple[type[Any], Callable[[Any], ProtoMessage]]] = {
    "message/send": (legacy.SendMessageRequest, conversions.to_core_send_message_request),
    "message/stream": (legacy.SendMessageRequest, conversions.to_core_send_message_request),
    "tasks/get": (legacy.GetTaskRequest, conversions.to_core_get_task_request),
    "tasks/cancel": (legacy.CancelTaskRequest, conversions.to_core_cancel_task_request),
    "tasks/resubscribe": (
        legacy.TaskResubscriptionRequest,
        conversions.to_core_subscribe_to_task_request,
    ),
}
PUSH_METHODS = frozenset(
    {
        "CreateTaskPushNotificationConfig",
        "GetTaskPushNotificationConfig",
        "ListTaskPushNotificationConfigs",
        "DeleteTaskPushNotificationConfig",
    }
)
STREAMING = frozenset({"SendStreamingMessage", "SubscribeToTask"})


@dataclass(frozen=True, slots=True)
class Call:
    """One JSON-RPC request: its method by 1.0 name; `name` as asked (a 0.3 slash name)."""

    id: str | int | None
    method: str
    name: str
    params: dict[str, Any]

    @property
    def legacy(self) -> bool:
        return self.name in LEGACY_NAMES


def parse_call(raw: bytes, version: str | None = None) -> Call:
    """The JSON-RPC request in a body, or the protocol error that answers it.

    `version` is the request's `A2A-Version` header: 1.x and 0.3 are spoken here.
    """
    if version and version.split(".")[0] not in ("0", "1"):
        raise VersionNotSupportedError(f"A2A version {version} is not supported: use 1.0 or 0.3")
    try:
        payload = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise JSONParseError("Invalid JSON payload") from None
    if not isinstance(payload, dict):
        raise InvalidRequestError("a request is one JSON-RPC object; batches are not supported")
    request_id = payload.get("id")
    if (
        "id" not in payload
        or isinstance(request_id, bool)
        or not isinstance(request_id, str | int | None)
    ):
        raise InvalidRequestError("id: a request has an id, a string or an integer")
    if payload.get("jsonrpc") != "2.0":
        raise InvalidRequestError("jsonrpc: must be exactly '2.0'")
    name = payload.get("method")
    if not isinstance(name, str) or not name:
        raise InvalidRequestError("method: a request names its method")
    method = LEGACY_NAMES.get(name, name)
    if method not in REQUESTS and method not in PUSH_METHODS and method != "GetExtendedAgentCard":
        raise MethodNotFoundError(f"Method not found: {name}")
    params = payload.get("params", {})
    if not isinstance(params, dict):
        raise InvalidParamsError("params: expected an object")
    return Call(request_id, method, name, params)


def error_response(request_id: str | int | None, error: A2AError) -> dict[str, Any]:
    """A JSON-RPC error response: the protocol's code, and its typed details."""
    body = {"code": JSON_RPC_ERROR_CODE_MAP.get(type(error), -32603), "message": error.message}
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {**body, "data": build_error_details(error)},
    }


def request_id_of(raw: bytes) -> str | int | None:
    """The id to answer a request that could not be read, if it has a usable one."""
    with contextlib.suppress(msgspec.DecodeError):
        payload = msgspec.json.decode(raw)
        if isinstance(payload, dict):
            found = payload.get("id")
            if isinstance(found, str | int) and not isinstance(found, bool):
                return found
    return None


def parse_params(call: Call) -> Any:
    """The request's params as the 1.0 request message, 0.3 ones converted to it."""
    if call.legacy:
        model, convert = LEGACY_REQUESTS[call.name]
        envelope = {
            "jsonrpc": "2.0",
            "id": call.id or 0,
            "method": call.name,
            "params": call.params,
        }
        if call.name == "message/stream":  # same params as message/send
            envelope["method"] = "message/send"
        try:
            request = convert(model.model_validate(envelope))
        except ValidationError as exc:
            raise InvalidParamsError(f"params: {_first_problem(exc)}") from None
    else:
        try:
            # Unknown fields are ignored, as the protocol asks of a 1.x server.
            request = ParseDict(call.params, REQUESTS[call.method](), ignore_unknown_fields=True)
        except ParseError as exc:
            raise InvalidParamsError(f"params: {exc}") from None
    validate_proto_required_fields(request)
    return request


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"] if part != "params")
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def protocol_error(exc: LangstarError) -> A2AError | None:
    """How A2A says a langstar error; None for those the API's HTTP statuses say."""
    if isinstance(exc, NotFoundError):
        if exc.resource == "thread":
            return TaskNotFoundError(f"Context {exc.key} not found")
        if exc.resource == "run":
            return TaskNotFoundError("Task not found")
        return InvalidParamsError(exc.detail)
    if isinstance(exc, InvalidError):
        return InvalidParamsError(exc.detail)
    if isinstance(exc, ConflictError):
        return UnsupportedOperationError(exc.detail)
    return None


def check_configuration(config: SendMessageConfiguration) -> None:
    if config.HasField("task_push_notification_config"):
        raise PushNotificationNotSupportedError("this agent sends no push notifications")
    modes = set(config.accepted_output_modes)
    if modes and not modes & {*MEDIA_TYPES, "text/*", "application/*", "*/*"}:
        raise ContentTypeNotSupportedError(f"this agent answers in {' or '.join(MEDIA_TYPES)}")
    validate_history_length(config)


_LINE_BREAKS = (
    (b"\xc2\x85", b"\\u0085"),
    (b"\xe2\x80\xa8", b"\\u2028"),
    (b"\xe2\x80\xa9", b"\\u2029"),
)


def sse_frame(body: dict[str, Any], event: bytes = b"") -> bytes:
    data = dumps(body)
    for raw, escaped in _LINE_BREAKS:
        data = data.replace(raw, escaped)
    return (b"event: " + event + b"\n" if event else b"") + b"data: " + data + b"\n\n"


def framer(call: Call) -> Callable[[StreamResponse], bytes]:
    def frame(event: StreamResponse) -> bytes:
        if call.legacy:
            return sse_frame(legacy_event(event, call.id))
        return sse_frame({"jsonrpc": "2.0", "id": call.id, "result": MessageToDict(event)})

    return frame


def error_frame(call: Call, error: A2AError) -> bytes:
    return sse_frame(error_response(call.id, error), b"error")
