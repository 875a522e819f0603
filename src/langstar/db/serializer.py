"""How checkpoint values are written and read: msgpack, pickle for what msgpack cannot
encode, and AES at rest when `LANGGRAPH_AES_KEY` is set, as on LangGraph's server."""

from __future__ import annotations

import os
import pickle
import pickletools
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import cloudpickle
from langgraph.checkpoint.serde.base import CipherProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langstar.db.encryption import NOT_CONFIGURED, SUFFIX
from langstar.errors import CheckpointReadError, CheckpointWriteError
from langstar.settings import SettingsError

PICKLE = "pickle"
AES_KEY_ENV = "LANGGRAPH_AES_KEY"
AES_JSON_KEYS_ENV = "LANGGRAPH_AES_JSON_KEYS"
AES_KEY_SIZES = (16, 24, 32)
PICKLE_SETTING = (
    "checkpointer.serde.pickle_fallback in langgraph.json (database.checkpoint_pickle_fallback)"
)

# What a pickle calls to rebuild a value, rather than the value's own types.
_MACHINERY = ("builtins", "copyreg", "_codecs", "cloudpickle")
_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_NO_PUSH = {"PROTO", "FRAME", "MEMOIZE", "STOP", *_MEMO_PUTS}


def pickled_types(data: bytes) -> list[str]:
    """The types a pickle names, read from its opcodes without running any of it."""
    found: list[str] = []
    for module, name in _globals(data):
        if module.split(".")[0] not in _MACHINERY and f"{module}.{name}" not in found:
            found.append(f"{module}.{name}")
    return found


def _globals(data: bytes) -> Iterator[tuple[str, str]]:
    """Each `module, name` a pickle imports; `pushed` follows the strings it pushes."""
    pushed: list[Any] = []
    memo: dict[int, Any] = {}
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif opcode.name in _MEMO_PUTS:
                memo[int(str(arg))] = pushed[-1] if pushed else None
            elif opcode.name == "GLOBAL":
                module, _, name = str(arg).partition(" ")
                yield module, name
            elif opcode.name == "STACK_GLOBAL" and len(pushed) > 1:
                module, name = pushed[-2], pushed[-1]
                if isinstance(module, str) and isinstance(name, str):
                    yield module, name
            if opcode.name in _STRINGS:
                pushed.append(arg)
            elif opcode.name in _MEMO_GETS:
                pushed.append(memo.get(int(str(arg))))
            elif opcode.name not in _NO_PUSH:
                pushed.append(None)
    except ValueError:  # not a well-formed pickle: what it names so far is all we know
        return


def _shown(types: list[str]) -> str:
    if not types:
        return "a value pickled by value (a function or a class made at run time)"
    return ", ".join(types[:3]) + (", ..." if len(types) > 3 else "")


class CheckpointSerializer(JsonPlusSerializer):
    """LangGraph's msgpack serializer that pickles what msgpack cannot encode, as LangGraph's
    server does, so such a state value never fails a run; it reads pickles back only when
    `read_pickles` allows it, and otherwise names the pickled types and the setting."""

    def __init__(
        self,
        *,
        allowed_msgpack_modules: list[tuple[str, ...]] | Literal[True],
        read_pickles: bool,
    ) -> None:
        super().__init__(allowed_msgpack_modules=allowed_msgpack_modules)
        self.read_pickles = read_pickles

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        try:
            return super().dumps_typed(obj)
        except TypeError as unencodable:
            try:
                return PICKLE, cloudpickle.dumps(obj)
            except Exception as exc:
                raise CheckpointWriteError(
                    f"a state value of type {type(obj).__module__}.{type(obj).__qualname__} "
                    f"can be stored neither as msgpack ({unencodable}) nor pickled "
                    f"({type(exc).__name__}: {exc})"
                ) from exc

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        kind, payload = data
        if kind == PICKLE:
            return self._unpickle(payload)
        if kind.endswith(SUFFIX):
            raise CheckpointReadError(NOT_CONFIGURED)
        if "+" in kind:  # EncryptedSerializer removes its suffix when it has the key
            raise CheckpointReadError(
                f"a checkpoint value is encrypted ({kind.partition('+')[2]}) and "
                f"{AES_KEY_ENV} is not set: set it to the key the value was written with"
            )
        return super().loads_typed(data)

    def _unpickle(self, payload: bytes) -> Any:
        types = _shown(pickled_types(payload))
        if not self.read_pickles:
            raise CheckpointReadError(
                f"a checkpoint value of type {types} was stored pickled (msgpack cannot "
                f"encode it), and reading pickles back is off: set {PICKLE_SETTING} to true "
                "if nobody else can write to the database, or keep the state msgpack-encodable"
            )
        try:
            # Only with checkpoint_pickle_fallback on: the operator trusts the database.
            return pickle.loads(payload)
        except Exception as exc:
            raise CheckpointReadError(
                f"a pickled checkpoint value of type {types} cannot be read back: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


class CheckpointCipher(CipherProtocol):
    """AES as LangGraph's server encrypts checkpoints (pycryptodome, EAX), so that data moves
    between the two; a value that does not decrypt is a `CheckpointReadError`."""

    def __init__(self, key: bytes) -> None:
        self._aes = EncryptedSerializer.from_pycryptodome_aes(key=key).cipher

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        return self._aes.encrypt(plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        if f"+{ciphername}" == SUFFIX:
            raise CheckpointReadError(NOT_CONFIGURED)
        if ciphername != "aes":
            raise CheckpointReadError(
                f"a checkpoint value is encrypted with {ciphername!r}, which langstar cannot "
                "decrypt"
            )
        try:
            return self._aes.decrypt(ciphername, ciphertext)
        except ValueError:
            raise CheckpointReadError(
                f"a checkpoint value does not decrypt with {AES_KEY_ENV}: it was written with "
                "another key, or altered"
            ) from None


class AesReader(EncryptedSerializer):
    """Reads values `LANGGRAPH_AES_KEY` encrypted, and writes them as they are: a project's
    own blob handlers encrypt them instead, as on LangGraph's server, where checkpoints
    written under the key stay readable after a move to custom encryption."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return self.serde.dumps_typed(obj)


def aes_key(env: Mapping[str, str] | None = None) -> bytes | None:
    """The checkpoint encryption key from `LANGGRAPH_AES_KEY`, or None when it is unset."""
    env = os.environ if env is None else env
    if env.get(AES_JSON_KEYS_ENV):
        # Ignoring it would leave in plaintext what the operator asked to have encrypted.
        raise SettingsError(
            AES_JSON_KEYS_ENV,
            f"not supported: {AES_KEY_ENV} encrypts checkpoints only; thread values, run "
            "inputs, metadata and store items are stored as they are",
        )
    value = env.get(AES_KEY_ENV, "")
    if not value:
        return None
    key = value.encode()
    if len(key) not in AES_KEY_SIZES:
        raise SettingsError(
            AES_KEY_ENV, f"must be 16, 24 or 32 bytes long (AES-128, -192, -256), not {len(key)}"
        )
    return key
