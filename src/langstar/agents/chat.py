"""The built-in chat agent: it remembers what each user tells it about themselves."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_store
from langgraph.graph import END, START, MessagesState, StateGraph

from langstar.models.offline import FACTS_HEADER

MEMORY_NAMESPACE = "memories"
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_ABOUT_SELF = re.compile(
    r"^\s*(my\b|i am\b|i'm\b|im\b|i live\b|i work\b|i like\b|i love\b|i prefer\b|i have\b|"
    r"call me\b)",
    re.IGNORECASE,
)
_NAMESPACE_UUID = uuid.UUID("1b671a64-40d5-491e-99b0-da01ff1f3341")


def user_id_of(config: RunnableConfig) -> str:
    """The user a run acts for, as the server put it in the run's config."""
    configurable = config.get("configurable") or {}
    user = configurable.get("user_id") or configurable.get("langgraph_auth_user_id")
    return str(user or "anonymous")


def memory_namespace(config: RunnableConfig) -> tuple[str, str]:
    """Where the agent keeps a user's facts; "." (not allowed in a label) is %-escaped."""
    user = user_id_of(config).replace("%", "%25").replace(".", "%2E")
    return (MEMORY_NAMESPACE, user)


def facts_in(text: str) -> list[str]:
    """Statements a user makes about themselves ("My name is Ada."), questions excluded."""
    found = []
    for sentence in _SENTENCE.findall(text):
        sentence = sentence.strip()
        if sentence and not sentence.endswith("?") and _ABOUT_SELF.match(sentence):
            found.append(sentence if sentence[-1] in ".!" else sentence + ".")
    return found


def _last_human_text(messages: Sequence[BaseMessage]) -> str:
    for message in reversed(messages):
        if message.type == "human":
            return message.text
    return ""


def graph(*, model: BaseChatModel) -> StateGraph[Any, Any, Any, Any]:
    """Build the agent around the configured chat model."""

    async def remember(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        namespace = memory_namespace(config)
        store = get_store()
        for fact in facts_in(_last_human_text(state["messages"])):
            key = str(uuid.uuid5(_NAMESPACE_UUID, fact.lower()))
            await store.aput(namespace, key, {"text": fact})
        return {}

    async def respond(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        namespace = memory_namespace(config)
        memories = await get_store().asearch(namespace, limit=100)
        prompt = "You are a helpful assistant."
        if memories:
            facts = "\n".join(f"- {item.value['text']}" for item in memories)
            prompt += f"\n{FACTS_HEADER}\n{facts}"
        reply = await model.ainvoke([SystemMessage(prompt), *state["messages"]], config)
        return {"messages": [reply]}

    builder = StateGraph(MessagesState)
    builder.add_node("remember", remember)
    builder.add_node("respond", respond)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "respond")
    builder.add_edge("respond", END)
    return builder
