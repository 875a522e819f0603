"""The one thing tests fake: the chat model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from dishka import Provider, Scope, provide
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field


class RecordingChatModel(BaseChatModel):
    """Replies `echo: <last user message>` and keeps every prompt it was sent."""

    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    def _reply(self, messages: list[BaseMessage]) -> str:
        self.prompts.append(list(messages))
        last = next((m for m in reversed(messages) if m.type == "human"), None)
        return f"echo: {last.text if last is not None else ''}"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self._reply(messages)))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        words = self._reply(messages).split(" ")
        for i, word in enumerate(words):
            token = word if i == len(words) - 1 else word + " "
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))


class GatedChatModel(RecordingChatModel):
    """Answers only once the test opens its gate, to hold a run in flight."""

    gate: asyncio.Event = Field(default_factory=asyncio.Event)

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        await self.gate.wait()
        return self._generate(messages)


class FakeModelProvider(Provider):
    scope = Scope.APP

    def __init__(self, model: BaseChatModel) -> None:
        super().__init__()
        self._model = model

    @provide(override=True)
    def provide_chat_model(self) -> BaseChatModel:
        return self._model
