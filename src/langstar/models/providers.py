"""The chat model that the built-in agent and user graphs are given."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from dishka import Provider, Scope, provide
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from langstar.models.offline import OfflineChatModel
from langstar.objects import LoadError, load_object
from langstar.settings import ModelSettings, Settings, SettingsError, StoreSettings


def _api_key(env: dict[str, str] | None, variable: str, base_url: str, key: str) -> str:
    """The key from the environment; only OpenAI itself (no base_url) cannot do without."""
    found = (dict(os.environ) if env is None else env).get(variable, "")
    if not found and not base_url:
        raise SettingsError(key, f"environment variable {variable} is not set (needed for OpenAI)")
    # Local servers (vLLM, Ollama, llama.cpp) usually take any key.
    return found or "unused"


def build_chat_model(settings: ModelSettings, env: dict[str, str] | None = None) -> BaseChatModel:
    """The configured model: offline, or any OpenAI-compatible chat-completions endpoint."""
    if settings.provider == "offline":
        return OfflineChatModel(token_delay=settings.offline_token_delay_seconds)
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    key = _api_key(env, settings.api_key_env, settings.base_url, "model.api_key_env")
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url or None,
        api_key=SecretStr(key),
        temperature=settings.temperature,
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
        streaming=True,
    )


def build_embeddings(
    settings: StoreSettings, env: dict[str, str] | None = None
) -> Embeddings | Callable[..., Any]:
    """The store's embeddings: the function `embedding_function` names, else any
    OpenAI-compatible /embeddings endpoint."""
    if settings.embedding_function:
        try:
            found: Any = load_object(settings.embedding_function, Path.cwd())
        except LoadError as exc:
            raise SettingsError("store.embedding_function", str(exc)) from None
        if not isinstance(found, Embeddings) and not callable(found):
            raise SettingsError(
                "store.embedding_function", f"{settings.embedding_function} is not callable"
            )
        return found  # type: ignore[no-any-return]
    from langchain_openai import OpenAIEmbeddings
    from pydantic import SecretStr

    key = _api_key(
        env,
        settings.embedding_api_key_env,
        settings.embedding_base_url,
        "store.embedding_api_key_env",
    )
    return OpenAIEmbeddings(
        model=settings.embedding_model,
        base_url=settings.embedding_base_url or None,
        api_key=SecretStr(key),
        dimensions=settings.embedding_dims,
        # Local servers do not speak OpenAI's token-id input.
        check_embedding_ctx_length=bool(not settings.embedding_base_url),
    )


class ModelProvider(Provider):
    """APP scope: one chat model shared by every run."""

    scope = Scope.APP

    @provide
    async def provide_chat_model(self, settings: Settings) -> AsyncIterator[BaseChatModel]:
        model = build_chat_model(settings.model)
        yield model
        # ChatOpenAI keeps an HTTP client open; the offline model has none.
        client = getattr(model, "root_async_client", None)
        if client is not None:
            await client.close()
