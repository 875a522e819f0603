"""A2A's JSON-RPC methods on one assistant, for one caller, through the run and thread services.

Errors are the protocol's JSON-RPC errors; what is not the protocol's to say (no such
assistant, too many runs, a server shutting down) leaves as the API's HTTP errors.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
from a2a.types import (
    CancelTaskRequest,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    SendMessageRequest,
    SendMessageResponse,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskState,
)
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE
from a2a.utils.errors import (
    A2AError,
    ExtendedAgentCardNotConfiguredError,
    InternalError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from a2a.utils.task import apply_history_length, validate_history_length, validate_page_size
from google.protobuf.json_format import MessageToDict

from langstar.a2a.schemas import tasks
from langstar.a2a.schemas.events import Progress, run_events
from langstar.a2a.schemas.rpc import (
    PUSH_METHODS,
    STREAMING,
    Call,
    check_configuration,
    error_frame,
    error_response,
    framer,
    parse_call,
    parse_params,
    protocol_error,
    request_id_of,
)
from langstar.a2a.schemas.tasks import FINAL, STATE_OF_RUN, TASK_KEY, TERMINAL, CardFacts
from langstar.assistants.schemas import Assistant
from langstar.assistants.service import AssistantService
from langstar.errors import LangstarError, NotFoundError
from langstar.graphs.registry import RegisteredGraph
from langstar.lifecycle import Run
from langstar.runs.schemas import RunCreate
from langstar.runs.service import RunService
from langstar.threads.schemas import Thread, ThreadHistory, ThreadSearch
from langstar.threads.service import ThreadService

log = logging.getLogger(__name__)

# How many of a context's newest runs are read to find a task's latest one.
RUN_SCAN = 200
# How many of the caller's most recently active contexts `ListTasks` looks in.
CONTEXT_SCAN = 100
HEARTBEAT = b": heartbeat\n\n"
Answer = dict[str, Any] | AsyncIterator[bytes]
_UTC = datetime.UTC


@dataclass(frozen=True, slots=True)
class Agent:
    """The assistant an endpoint serves, and the graph its runs execute."""

    assistant: Assistant
    graph: RegisteredGraph

    @property
    def assistant_id(self) -> uuid.UUID:
        return self.assistant.assistant_id


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
        return self.task_id or tasks.task_id_of(run.thread_id, run.run_id)


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
            or f"An agent on the LangGraph graph {assistant.graph_id!r}, served by langstar",
            version=str(assistant.version),
            skill_id=f"{assistant.assistant_id}-main",
            input_schema=schemas_.input_schema,
            auth_mode=self._auth_mode,
        )
        return tasks.agent_card(facts)

    async def call(self, assistant_id: str, raw: bytes, version: str | None = None) -> Answer:
        """The JSON-RPC answer to a request body (and its `A2A-Version` header): a JSON
        object, or an event stream."""
        agent = await self.agent(assistant_id)
        try:
            call = parse_call(raw, version)
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
            return tasks.legacy_task(task)
        if isinstance(request, SendMessageRequest):
            return MessageToDict(SendMessageResponse(task=task))
        return MessageToDict(task)

    # Messages

    async def _start(self, agent: Agent, request: SendMessageRequest) -> Start:
        """The run a message makes: one that resumes the task waiting for this answer, or
        one that begins a new task (on a new context when the message names none)."""
        check_configuration(request.configuration)
        message = request.message
        given = tasks.user_input(message)
        context = tasks.parse_context_id(message.context_id) if message.context_id else None
        waiting = await self._waiting(agent, message, context)
        assistant_id = str(agent.assistant_id)
        if waiting is not None:
            body = RunCreate(
                assistant_id=assistant_id,
                command={"resume": given.resume_value},
                metadata={TASK_KEY: waiting.task_id},
            )
            return Start(waiting.thread.thread_id, waiting.task_id, body)
        graph_input = given.graph_input()
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
        tasks.with_timestamp(opening, run.updated_at)
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
        frame = framer(call)
        try:
            yield frame(StreamResponse(task=opening))
            progress = Progress(opening)
            async for name, data in run_events(events):
                if name is None:
                    yield HEARTBEAT
                    continue
                for update in progress.on(name, data):
                    yield frame(update)
            await drain((await self._runs.join(run.thread_id, run.run_id))[1])
            for update in progress.end(await self._snapshot(agent, opening.id)):
                yield frame(update)
        except A2AError as exc:
            yield error_frame(call, exc)
        except LangstarError as exc:
            yield error_frame(call, protocol_error(exc) or InternalError(exc.detail))
        except Exception as exc:
            log.exception("A2A stream of task %s failed", opening.id)
            yield error_frame(call, InternalError(type(exc).__name__))

    # Tasks

    async def _task(self, agent: Agent, task_id: str) -> TaskRuns:
        """The task's runs, if the caller may see them and they are this agent's."""
        thread_id, first_id = tasks.parse_task_id(task_id)
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
        history = tasks.conversation(await self._values_after(agent, runs), context)
        found = Task(id=runs.task_id, context_id=context, history=history)
        found.status.state = state
        tasks.with_timestamp(found, runs.latest.updated_at)
        reply = tasks.reply_of(history)
        if state == TaskState.TASK_STATE_COMPLETED and reply is not None:
            message = tasks.agent_message(reply.message_id, context, runs.task_id, reply.parts)
            found.status.message.CopyFrom(message)
            found.artifacts.append(tasks.reply_artifact(reply, runs.task_id))
        elif state == TaskState.TASK_STATE_INPUT_REQUIRED:
            asked = [item for items in runs.thread.interrupts.values() for item in items]
            found.status.message.CopyFrom(tasks.interrupt_message(asked, context, runs.task_id))
        elif state == TaskState.TASK_STATE_FAILED:
            failure = tasks.parts_of(await self._failure(runs.latest))
            message_id = f"{runs.latest.run_id}:error"
            found.status.message.CopyFrom(
                tasks.agent_message(message_id, context, runs.task_id, failure)
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
            contexts = [tasks.parse_context_id(request.context_id)]
        else:
            contexts = await self._contexts(agent)
        matching = [task for context in contexts for task in await self._tasks_in(agent, context)]
        if request.status:
            matching = [task for task in matching if task.state == request.status]
        if request.HasField("status_timestamp_after"):
            after = request.status_timestamp_after.ToDatetime(tzinfo=_UTC)
            matching = [task for task in matching if task.latest.updated_at > after]
        matching.sort(key=lambda task: (task.latest.updated_at, task.task_id), reverse=True)
        page = []
        for task in matching[offset : offset + size]:
            found = apply_history_length(await self._snapshot(agent, task), request)
            if not request.include_artifacts:
                found.ClearField("artifacts")
            page.append(found)
        more = offset + size < len(matching)
        return ListTasksResponse(
            tasks=page,
            next_page_token=str(offset + size) if more else "",
            page_size=size,
            total_size=len(matching),
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
    return str(named) if named else tasks.task_id_of(run.thread_id, run.run_id)


def _state_name(state: TaskState) -> str:
    return TaskState.Name(state).removeprefix("TASK_STATE_").lower().replace("_", "-")


def _offset(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidParamsError("pageToken: not a token this agent gave")
    return int(token)


# Line breaks a client's SSE reader may split on, inside JSON strings: sent escaped.
