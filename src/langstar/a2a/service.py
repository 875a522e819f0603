"""A2A's JSON-RPC methods on one assistant, for one caller, through the run and thread services.

Each method is answered in the dialect it was asked in: its 1.0 name (`SendMessage`)
in protocol 1.0's shapes, its 0.3 slash name (`message/send`) in 0.3's. Errors are the
protocol's JSON-RPC errors; what is not the protocol's to say (no such assistant, too
many runs, a server shutting down) leaves as the API's HTTP errors.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from a2a.compat.v0_3 import conversions
from a2a.compat.v0_3 import types as legacy
from a2a.types import (
    Artifact,
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    Part,
    SendMessageConfiguration,
    SendMessageRequest,
    SendMessageResponse,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatusUpdateEvent,
)
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE
from a2a.utils.error_handlers import build_error_details
from a2a.utils.errors import (
    JSON_RPC_ERROR_CODE_MAP,
    A2AError,
    ContentTypeNotSupportedError,
    ExtendedAgentCardNotConfiguredError,
    InternalError,
    InvalidParamsError,
    InvalidRequestError,
    JSONParseError,
    MethodNotFoundError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from a2a.utils.proto_utils import validate_proto_required_fields
from a2a.utils.task import apply_history_length, validate_history_length, validate_page_size
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.message import Message as ProtoMessage
from pydantic import ValidationError

from langstar.a2a import schemas
from langstar.a2a.schemas import FINAL, STATE_OF_RUN, TASK_KEY, TERMINAL, CardFacts
from langstar.assistants.schemas import Assistant
from langstar.assistants.service import AssistantService
from langstar.errors import ConflictError, InvalidError, LangstarError, NotFoundError
from langstar.graphs.registry import RegisteredGraph
from langstar.lifecycle import Run
from langstar.runs.schemas import RunCreate
from langstar.runs.service import RunService
from langstar.serde import dumps
from langstar.threads.schemas import Thread, ThreadHistory, ThreadSearch
from langstar.threads.service import ThreadService

log = logging.getLogger(__name__)

# How many of a context's newest runs are read to find a task's latest one.
RUN_SCAN = 200
# How many of the caller's most recently active contexts `ListTasks` looks in.
CONTEXT_SCAN = 100
HEARTBEAT = b": heartbeat\n\n"
_UTC = datetime.UTC

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
Answer = dict[str, Any] | AsyncIterator[bytes]


@dataclass(frozen=True, slots=True)
class Agent:
    """The assistant an endpoint serves, and the graph its runs execute."""

    assistant: Assistant
    graph: RegisteredGraph

    @property
    def assistant_id(self) -> uuid.UUID:
        return self.assistant.assistant_id


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


@dataclass(frozen=True, slots=True)
class TaskRuns:
    """A task's runs (the one that began it, the latest) and its thread as it is now."""

    task_id: str
    thread: Thread
    first: Run
    latest: Run
    latest_on_thread: bool

    @property
    def context_id(self) -> str:
        return str(self.thread.thread_id)

    @property
    def state(self) -> TaskState:
        state = STATE_OF_RUN[self.latest.status]
        # A run that stopped at interrupt() succeeded; its thread now waits for input.
        if (
            state == TaskState.TASK_STATE_COMPLETED
            and self.thread.status == "interrupted"
            and self.latest_on_thread
        ):
            return TaskState.TASK_STATE_INPUT_REQUIRED
        return state


@dataclass(frozen=True, slots=True)
class Start:
    """A message's run, about to be created: on which thread, for which task, how."""

    thread_id: uuid.UUID
    task_id: str | None
    body: RunCreate

    def task_of(self, run: Run) -> str:
        return self.task_id or schemas.task_id_of(run.thread_id, run.run_id)


def parse_call(raw: bytes) -> Call:
    """The JSON-RPC request in a body, or the protocol error that answers it."""
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
    if modes and not modes & {*schemas.MEDIA_TYPES, "text/*", "application/*", "*/*"}:
        raise ContentTypeNotSupportedError(
            f"this agent answers in {' or '.join(schemas.MEDIA_TYPES)}"
        )
    validate_history_length(config)


async def drain(body: bytes | AsyncIterator[bytes]) -> bytes:
    """A run's answer, once it has come whole (a long run's is a stream of it)."""
    if isinstance(body, bytes):
        return body
    return b"".join([chunk async for chunk in body]).strip()


class A2AService:
    """An assistant as an A2A agent: messages start or resume its runs; tasks are runs."""

    def __init__(
        self,
        assistants: AssistantService,
        runs: RunService,
        threads: ThreadService,
        auth_mode: str = "none",
    ) -> None:
        self._assistants = assistants
        self._runs = runs
        self._threads = threads
        # How callers authenticate, as the agent card tells them.
        self._auth_mode = auth_mode

    async def agent(self, assistant_id: str) -> Agent:
        """The assistant, if the caller may see it (a 404 otherwise)."""
        assistant = await self._assistants.get(assistant_id)
        return Agent(assistant, await self._assistants.resolve(assistant_id))

    async def card(self, assistant_id: str, url: str) -> dict[str, Any]:
        agent = await self.agent(assistant_id)
        assistant = agent.assistant
        schemas_ = await self._assistants.schemas(str(assistant.assistant_id))
        facts = CardFacts(
            url=url,
            name=assistant.name,
            description=assistant.description
            or f"The {assistant.name} agent (graph {assistant.graph_id}), served by langstar",
            version=str(assistant.version),
            skill_id=f"{assistant.assistant_id}-main",
            input_schema=schemas_.input_schema,
            auth_mode=self._auth_mode,
        )
        return schemas.agent_card(facts)

    async def call(self, assistant_id: str, raw: bytes) -> Answer:
        """The JSON-RPC answer to a request body: a JSON object, or an event stream."""
        agent = await self.agent(assistant_id)
        try:
            call = parse_call(raw)
        except A2AError as exc:
            return error_response(request_id_of(raw), exc)
        try:
            if call.method in STREAMING:
                return await self._open_stream(agent, call)
            return {"jsonrpc": "2.0", "id": call.id, "result": await self._result(agent, call)}
        except A2AError as exc:
            return error_response(call.id, exc)
        except LangstarError as exc:
            error = protocol_error(exc)
            if error is None:
                raise
            return error_response(call.id, error)

    async def _result(self, agent: Agent, call: Call) -> dict[str, Any]:
        if call.method in PUSH_METHODS:
            raise PushNotificationNotSupportedError("this agent sends no push notifications")
        if call.method == "GetExtendedAgentCard":
            raise ExtendedAgentCardNotConfiguredError("this agent has no extended card")
        request = parse_params(call)
        if isinstance(request, ListTasksRequest):
            return MessageToDict(
                await self._list(agent, request), always_print_fields_with_no_presence=True
            )
        if isinstance(request, SendMessageRequest):
            task = await self._send(agent, request)
        elif isinstance(request, CancelTaskRequest):
            task = await self._cancel(agent, request.id)
        else:
            validate_history_length(request)
            task = apply_history_length(await self._snapshot(agent, request.id), request)
        if call.legacy:
            return schemas.legacy_task(task)
        if isinstance(request, SendMessageRequest):
            return MessageToDict(SendMessageResponse(task=task))
        return MessageToDict(task)

    # Messages

    async def _start(self, agent: Agent, request: SendMessageRequest) -> Start:
        """The run a message makes: one that resumes the task waiting for this answer, or
        one that begins a new task (on a new context when the message names none)."""
        check_configuration(request.configuration)
        message = request.message
        given = schemas.user_input(message)
        context = schemas.parse_context_id(message.context_id) if message.context_id else None
        waiting = await self._waiting(agent, message, context)
        assistant_id = str(agent.assistant_id)
        if waiting is not None:
            body = RunCreate(
                assistant_id=assistant_id,
                command={"resume": given.resume_value},
                metadata={TASK_KEY: waiting.task_id},
            )
            return Start(waiting.thread.thread_id, waiting.task_id, body)
        graph_input = given.graph_input(message.message_id)
        if "messages" in graph_input:
            await self._check_takes_messages(agent)
        body = RunCreate(assistant_id=assistant_id, input=graph_input, if_not_exists="create")
        return Start(context or uuid.uuid4(), None, body)

    async def _waiting(
        self, agent: Agent, message: Message, context: uuid.UUID | None
    ) -> TaskRuns | None:
        """The task a message answers: the one it names, else its context's, when that
        task requires input."""
        if message.task_id:
            task = await self._task(agent, message.task_id)
            if context is not None and task.thread.thread_id != context:
                raise InvalidParamsError("taskId: the task belongs to another context")
            if task.state == TaskState.TASK_STATE_INPUT_REQUIRED:
                return task
            if task.state in TERMINAL:
                raise UnsupportedOperationError(
                    f"Task {message.task_id} is {_state_name(task.state)}: it takes no more "
                    "messages; send one without a taskId to begin a new task"
                )
            raise UnsupportedOperationError(
                f"Task {message.task_id} is still {_state_name(task.state)}: wait for it, "
                "or cancel it"
            )
        if context is None:
            return None
        try:
            thread = await self._threads.get(context)
        except NotFoundError:
            return None  # a new context (another user's is refused when the run is made)
        if thread.status != "interrupted":
            return None
        latest = await self._runs.list_runs(context, limit=1, offset=0, status=None)
        if not latest or latest[0].assistant_id != agent.assistant_id:
            return None
        return await self._task(agent, _task_of_run(latest[0]))

    async def _check_takes_messages(self, agent: Agent) -> None:
        found = await self._assistants.schemas(str(agent.assistant_id))
        schema = found.input_schema or found.state_schema or {}
        if "messages" not in (schema.get("properties") or {}):
            raise InvalidParamsError(
                f"Assistant {agent.assistant.name!r} takes no messages (its input has no "
                "'messages' field): send data parts, which become its input"
            )

    async def _send(self, agent: Agent, request: SendMessageRequest) -> Task:
        start = await self._start(agent, request)
        if request.configuration.return_immediately:
            run = (await self._runs.create(start.thread_id, start.body, agent.graph)).run
        else:
            run, answer = await self._runs.wait(start.thread_id, start.body, agent.graph)
            await drain(answer)
        task = await self._snapshot(agent, start.task_of(run))
        return apply_history_length(task, request.configuration)

    # Streams

    async def _open_stream(self, agent: Agent, call: Call) -> AsyncIterator[bytes]:
        """The task's events: a snapshot, `working`, the reply's tokens, then how it ended.

        Errors found before the run starts are answered whole, as JSON, not as a stream.
        """
        request = parse_params(call)
        if isinstance(request, SubscribeToTaskRequest):
            task = await self._task(agent, request.id)
            if task.state in FINAL:
                raise UnsupportedOperationError(
                    f"Task {request.id} is {_state_name(task.state)}: nothing more will happen"
                )
            events = await self._runs.join_stream(task.thread.thread_id, task.latest.run_id, None)
            opening = await self._snapshot(agent, request.id)
            return self._events(agent, call, opening, task.latest, events)
        start = await self._start(agent, request)
        body = msgspec.structs.replace(start.body, stream_mode=["updates", "messages-tuple"])
        run, events = await self._runs.stream(start.thread_id, body, agent.graph)
        opening = Task(id=start.task_of(run), context_id=str(run.thread_id))
        # Accepted; `working` follows once the run's first event shows it under way.
        opening.status.state = TaskState.TASK_STATE_SUBMITTED
        schemas.with_timestamp(opening, run.updated_at)
        mine = Message()
        mine.CopyFrom(request.message)
        mine.context_id, mine.task_id = opening.context_id, opening.id
        opening.history.append(mine)
        opening = apply_history_length(opening, request.configuration)
        return self._events(agent, call, opening, run, events)

    async def _events(
        self,
        agent: Agent,
        call: Call,
        opening: Task,
        run: Run,
        events: AsyncIterator[bytes],
    ) -> AsyncIterator[bytes]:
        frame = _framer(call)
        try:
            yield frame(StreamResponse(task=opening))
            progress = _Progress(opening)
            async for name, data in _sse_events(events):
                if name is None:
                    yield HEARTBEAT
                    continue
                for update in progress.on(name, data):
                    yield frame(update)
            await drain((await self._runs.join(run.thread_id, run.run_id))[1])
            for update in progress.end(await self._snapshot(agent, opening.id)):
                yield frame(update)
        except A2AError as exc:
            yield _error_frame(call, exc)
        except LangstarError as exc:
            yield _error_frame(call, protocol_error(exc) or InternalError(exc.detail))
        except Exception as exc:
            log.exception("A2A stream of task %s failed", opening.id)
            yield _error_frame(call, InternalError(type(exc).__name__))

    # Tasks

    async def _task(self, agent: Agent, task_id: str) -> TaskRuns:
        """The task's runs, if the caller may see them and they are this agent's."""
        thread_id, first_id = schemas.parse_task_id(task_id)
        try:
            first = await self._runs.get(thread_id, first_id)
            thread = await self._threads.get(thread_id)
            runs = await self._runs.list_runs(thread_id, limit=RUN_SCAN, offset=0, status=None)
        except NotFoundError:
            raise TaskNotFoundError(f"Task {task_id} not found") from None
        if first.assistant_id != agent.assistant_id or first.metadata.get(TASK_KEY):
            raise TaskNotFoundError(f"Task {task_id} not found")
        latest = next((run for run in runs if _task_of_run(run) == task_id), first)
        newest = runs[0].run_id if runs else None
        return TaskRuns(task_id, thread, first, latest, latest_on_thread=newest == latest.run_id)

    async def _snapshot(self, agent: Agent, task: str | TaskRuns) -> Task:
        """The task as the protocol shows it: state, status message, reply, conversation."""
        runs = task if isinstance(task, TaskRuns) else await self._task(agent, task)
        context, state = runs.context_id, runs.state
        history = schemas.conversation(await self._values_after(agent, runs), context)
        found = Task(id=runs.task_id, context_id=context, history=history)
        found.status.state = state
        schemas.with_timestamp(found, runs.latest.updated_at)
        reply = schemas.reply_of(history)
        if state == TaskState.TASK_STATE_COMPLETED and reply is not None:
            message = schemas.agent_message(reply.message_id, context, runs.task_id, reply.parts)
            found.status.message.CopyFrom(message)
            found.artifacts.append(schemas.reply_artifact(reply, runs.task_id))
        elif state == TaskState.TASK_STATE_INPUT_REQUIRED:
            asked = [item for items in runs.thread.interrupts.values() for item in items]
            found.status.message.CopyFrom(schemas.interrupt_message(asked, context, runs.task_id))
        elif state == TaskState.TASK_STATE_FAILED:
            failure = schemas.parts_of(await self._failure(runs.latest))
            message_id = f"{runs.latest.run_id}:error"
            found.status.message.CopyFrom(
                schemas.agent_message(message_id, context, runs.task_id, failure)
            )
        return found

    async def _values_after(self, agent: Agent, task: TaskRuns) -> Any:
        """The thread's values as the task's latest run left them (or leaves them so far)."""
        if task.latest_on_thread:
            return task.thread.values or {}
        states = await self._threads.history(
            agent.graph.compiled,
            task.thread.thread_id,
            ThreadHistory(limit=1, metadata={"run_id": str(task.latest.run_id)}),
        )
        return states[0].values if states else {}

    async def _failure(self, run: Run) -> str:
        _, answer = await self._runs.join(run.thread_id, run.run_id)
        outcome = msgspec.json.decode(await drain(answer) or b"null")
        error = outcome.get("__error__") if isinstance(outcome, dict) else None
        if isinstance(error, dict):
            return f"{error.get('error', 'Error')}: {error.get('message', '')}".rstrip(": ")
        return f"the run ended {run.status}"

    async def _cancel(self, agent: Agent, task_id: str) -> Task:
        task = await self._task(agent, task_id)
        if task.state not in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING):
            raise TaskNotCancelableError(
                f"Task {task_id} is {_state_name(task.state)}: only a submitted or working "
                "task can be canceled"
            )
        run = task.latest
        try:
            await self._runs.cancel(run.thread_id, run.run_id, wait=False, action="interrupt")
        except NotFoundError:
            raise TaskNotCancelableError(
                f"Task {task_id} ended before it could be canceled"
            ) from None
        await drain((await self._runs.join(run.thread_id, run.run_id))[1])
        return await self._snapshot(agent, task_id)

    async def _list(self, agent: Agent, request: ListTasksRequest) -> ListTasksResponse:
        size = request.page_size if request.HasField("page_size") else DEFAULT_LIST_TASKS_PAGE_SIZE
        validate_page_size(size)
        validate_history_length(request)
        offset = _offset(request.page_token)
        if request.context_id:
            contexts = [schemas.parse_context_id(request.context_id)]
        else:
            contexts = await self._contexts(agent)
        tasks = [task for context in contexts for task in await self._tasks_in(agent, context)]
        if request.status:
            tasks = [task for task in tasks if task.state == request.status]
        if request.HasField("status_timestamp_after"):
            after = request.status_timestamp_after.ToDatetime(tzinfo=_UTC)
            tasks = [task for task in tasks if task.latest.updated_at > after]
        tasks.sort(key=lambda task: (task.latest.updated_at, task.task_id), reverse=True)
        page = []
        for task in tasks[offset : offset + size]:
            found = apply_history_length(await self._snapshot(agent, task), request)
            if not request.include_artifacts:
                found.ClearField("artifacts")
            page.append(found)
        more = offset + size < len(tasks)
        return ListTasksResponse(
            tasks=page,
            next_page_token=str(offset + size) if more else "",
            page_size=size,
            total_size=len(tasks),
        )

    async def _contexts(self, agent: Agent) -> list[uuid.UUID]:
        """The caller's contexts this agent ran last, the most recently active first."""
        rows = await self._threads.search(
            ThreadSearch(
                metadata={"assistant_id": str(agent.assistant_id)},
                limit=CONTEXT_SCAN,
                sort_by="updated_at",
                select=["thread_id"],
            )
        )
        return [uuid.UUID(str(row["thread_id"])) for row in rows]

    async def _tasks_in(self, agent: Agent, thread_id: uuid.UUID) -> list[TaskRuns]:
        try:
            thread = await self._threads.get(thread_id)
            runs = await self._runs.list_runs(thread_id, limit=RUN_SCAN, offset=0, status=None)
        except NotFoundError:
            return []  # not the caller's: nothing to list
        newest = runs[0].run_id if runs else None
        firsts: dict[str, Run] = {}
        latest: dict[str, Run] = {}
        for run in reversed(runs):  # oldest first
            if run.assistant_id != agent.assistant_id:
                continue
            task_id = _task_of_run(run)
            if not run.metadata.get(TASK_KEY):
                firsts[task_id] = run
            latest[task_id] = run
        return [
            TaskRuns(task_id, thread, first, latest[task_id], newest == latest[task_id].run_id)
            for task_id, first in firsts.items()
        ]


def _task_of_run(run: Run) -> str:
    named = run.metadata.get(TASK_KEY)
    return str(named) if named else schemas.task_id_of(run.thread_id, run.run_id)


def _state_name(state: TaskState) -> str:
    return TaskState.Name(state).removeprefix("TASK_STATE_").lower().replace("_", "-")


def _offset(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidParamsError("pageToken: not a token this agent gave")
    return int(token)


# Line breaks a client's SSE reader may split on, inside JSON strings: sent escaped.
_LINE_BREAKS = (
    (b"\xc2\x85", b"\\u0085"),
    (b"\xe2\x80\xa8", b"\\u2028"),
    (b"\xe2\x80\xa9", b"\\u2029"),
)


def _sse(body: dict[str, Any], event: bytes = b"") -> bytes:
    data = dumps(body)
    for raw, escaped in _LINE_BREAKS:
        data = data.replace(raw, escaped)
    return (b"event: " + event + b"\n" if event else b"") + b"data: " + data + b"\n\n"


def _framer(call: Call) -> Callable[[StreamResponse], bytes]:
    def frame(event: StreamResponse) -> bytes:
        if call.legacy:
            return _sse(schemas.legacy_event(event, call.id))
        return _sse({"jsonrpc": "2.0", "id": call.id, "result": MessageToDict(event)})

    return frame


def _error_frame(call: Call, error: A2AError) -> bytes:
    return _sse(error_response(call.id, error), b"error")


async def _sse_events(events: AsyncIterator[bytes]) -> AsyncIterator[tuple[str | None, bytes]]:
    """A run's SSE as (event, data); (None, b"") for a heartbeat."""
    buffer = b""
    async for chunk in events:
        buffer += chunk
        *blocks, buffer = buffer.split(b"\r\n\r\n")
        for block in blocks:
            if block.startswith(b":"):
                yield None, b""
                continue
            name, data = "", b""
            for line in block.split(b"\r\n"):
                if line.startswith(b"event: "):
                    name = line[7:].decode()
                elif line.startswith(b"data: "):
                    data = line[6:]
            if name:
                yield name, data


class _Progress:
    """What a run's events tell a client of its task, as the protocol's stream events."""

    def __init__(self, opening: Task) -> None:
        self._task_id, self._context_id = opening.id, opening.context_id
        self._working = opening.status.state == TaskState.TASK_STATE_WORKING
        self._streamed = False

    def on(self, name: str, data: bytes) -> list[StreamResponse]:
        found = []
        if not self._working and name != "error":
            self._working = True
            status = TaskStatusUpdateEvent(task_id=self._task_id, context_id=self._context_id)
            status.status.state = TaskState.TASK_STATE_WORKING
            found.append(StreamResponse(status_update=status))
        text = _chunk_text(data) if name == "messages" else ""
        if text:
            artifact = Artifact(
                artifact_id=f"{self._task_id}:reply", name="reply", parts=[Part(text=text)]
            )
            found.append(self._artifact(artifact, append=self._streamed, last=False))
            self._streamed = True
        return found

    def end(self, final: Task) -> list[StreamResponse]:
        """The reply whole (it replaces the streamed tokens), then the final status."""
        found = [self._artifact(artifact, append=False, last=True) for artifact in final.artifacts]
        status = TaskStatusUpdateEvent(task_id=self._task_id, context_id=self._context_id)
        status.status.CopyFrom(final.status)
        return [*found, StreamResponse(status_update=status)]

    def _artifact(self, artifact: Artifact, *, append: bool, last: bool) -> StreamResponse:
        update = TaskArtifactUpdateEvent(
            task_id=self._task_id,
            context_id=self._context_id,
            artifact=artifact,
            append=append,
            last_chunk=last,
        )
        return StreamResponse(artifact_update=update)


def _chunk_text(data: bytes) -> str:
    """The text of an agent's token chunk (a `messages` event: `[chunk, metadata]`)."""
    try:
        chunk = msgspec.json.decode(data)[0]
    except (msgspec.DecodeError, IndexError, KeyError, TypeError):
        return ""
    if not isinstance(chunk, dict) or chunk.get("type") not in ("AIMessageChunk", "ai"):
        return ""
    return schemas.text_of(chunk.get("content"))
