"""How a project's JSON handlers are applied: values sealed with the keys kept, langstar's
own keys never handed to them, nested parts sealed on their own, each with the context it
was sealed under, and a handler that breaks the contract named."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph_sdk import Encryption, EncryptionContext
from langgraph_sdk.encryption.types import DecryptResult

from langstar.db.json_encryption import MARKER, JsonCipher
from langstar.errors import JsonEncryptionError

SEEN: list[tuple[str | None, str | None, dict[str, Any]]] = []


def reversing(*, change_keys: bool = False, envelope: bool = False) -> Encryption:
    """Each string value reversed behind `~`; records what each call was handed."""
    encryption = Encryption()

    @encryption.encrypt.json
    async def seal(ctx: EncryptionContext, data: dict[str, Any]) -> Any:
        SEEN.append((ctx.model, ctx.field, dict(ctx.metadata)))
        if envelope:
            return "one token"
        sealed = {k: "~" + str(v)[::-1] for k, v in data.items()}
        return {**sealed, "extra": 1} if change_keys else sealed

    @encryption.decrypt.json
    async def open_(ctx: EncryptionContext, data: dict[str, Any]) -> Any:
        opened = {k: v[1:][::-1] if str(v).startswith("~") else v for k, v in data.items()}
        return DecryptResult(opened)

    return encryption


@pytest.fixture(autouse=True)
def forget() -> None:
    SEEN.clear()


def cipher(**kwargs: Any) -> JsonCipher:
    return JsonCipher(reversing(**kwargs), lambda: {"tenant": "acme"})


async def test_values_are_sealed_with_the_keys_kept_and_the_context_stored() -> None:
    sealed = await cipher().seal("thread", "metadata", {"topic": "garden", "thread_id": "t-1"})
    assert sealed == {"topic": "~nedrag", "thread_id": "t-1", MARKER: {"tenant": "acme"}}
    assert SEEN == [("thread", "metadata", {"tenant": "acme"})]
    assert await cipher().open("thread", "metadata", sealed) == {
        "topic": "garden",
        "thread_id": "t-1",
    }


async def test_a_runs_nested_parts_are_sealed_on_their_own_and_its_system_keys_are_not() -> None:
    kwargs = {
        "input": {"q": "hi"},
        "config": {"tags": "x", "recursion_limit": 5, "configurable": {"user": "bo"}},
        "stream_mode": ["values"],
        "webhook": "http://hook",
    }
    sealed = await cipher().seal("run", "kwargs", kwargs)
    assert sealed["input"] == {"q": "~ih", MARKER: {"tenant": "acme"}}
    assert sealed["config"]["recursion_limit"] == 5
    assert sealed["config"]["tags"] == "~x"
    assert sealed["config"]["configurable"]["user"] == "~ob"
    assert (sealed["stream_mode"], sealed["webhook"]) == (["values"], "http://hook")
    assert await cipher().open("run", "kwargs", sealed) == kwargs


async def test_plaintext_written_before_reads_as_it_is_and_is_not_handed_to_the_handler() -> None:
    assert await cipher().open("thread", "values", {"said": "~raw"}) == {"said": "~raw"}
    assert SEEN == []


async def test_an_empty_document_or_one_that_is_not_an_object_is_stored_as_it_is() -> None:
    assert await cipher().seal("thread", "metadata", {}) == {}
    assert await cipher().seal("thread", "values", ["a"]) == ["a"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"change_keys": True}, "changed the keys"), ({"envelope": True}, "not a dict")],
)
async def test_a_handler_that_breaks_the_contract_is_named(
    kwargs: dict[str, bool], words: str
) -> None:
    with pytest.raises(JsonEncryptionError, match=words):
        await cipher(**kwargs).seal("assistant", "metadata", {"a": "b"})


async def test_sealing_twice_is_refused_and_sealed_json_without_handlers_is_a_named_error() -> None:
    sealed = await cipher().seal("thread", "metadata", {"a": "b"})
    with pytest.raises(JsonEncryptionError, match="sealed already"):
        await cipher().seal("thread", "metadata", sealed)
    with pytest.raises(JsonEncryptionError, match=r"encryption\.path"):
        await JsonCipher().open("thread", "metadata", sealed)
