"""A local, deterministic chat model, so that langstar runs with no key and no network."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

FACTS_HEADER = "What the user has told you about themselves:"
_WORD = re.compile(r"[a-z0-9']+")
_TOKEN = re.compile(r"\S+\s*|\s+")
_STOP_WORDS = (
    "a an the is are am was be do does did what who where when how which my me i you your "
    "of to in on at for and or about know remember tell can could please"
)
_STOP = frozenset(_STOP_WORDS.split())


class OfflineChatModel(BaseChatModel):
    """Answers from the conversation alone, token by token.

    It echoes what it was told, and when asked about the user it quotes the facts that the
    system prompt lists under `FACTS_HEADER`. It understands nothing; it exists so that the
    whole server, memory included, can be tried and tested without a model server.
    """

    token_delay: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "langstar-offline"

    def reply(self, messages: Sequence[BaseMessage]) -> str:
        facts = _facts(messages)
        last = next((m for m in reversed(messages) if m.type == "human"), None)
        text = last.text.strip() if last is not None else ""
        if not text:
            return "Hello! I am langstar's offline model. Tell me something about yourself."
        if text.endswith("?"):
            wanted = set(_WORD.findall(text.lower())) - _STOP
            matching = [f for f in facts if wanted & set(_WORD.findall(f.lower()))]
            if matching:
                return "You told me: " + " ".join(matching)
            if facts and ({"me", "myself"} & set(_WORD.findall(text.lower()))):
                return "You told me: " + " ".join(facts)
            return "I don't know yet. You asked: " + text
        return "Noted. You said: " + text

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(content=self.reply(messages))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for token in _TOKEN.findall(self.reply(messages)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if run_manager is not None:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for token in _TOKEN.findall(self.reply(messages)):
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if run_manager is not None:
                await run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk


def _facts(messages: Sequence[BaseMessage]) -> list[str]:
    for message in messages:
        if isinstance(message, SystemMessage) and FACTS_HEADER in message.text:
            listed = message.text.split(FACTS_HEADER, 1)[1]
            return [
                line.strip()[2:] for line in listed.splitlines() if line.strip().startswith("- ")
            ]
    return []
