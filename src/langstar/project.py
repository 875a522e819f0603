"""A LangGraph project's `langgraph.json`, each key applied, named as ignored, or refused.

langstar serves a project unchanged where it can. Its `env` is loaded first, as the Agent
Server loads it, so that everything built from settings (the store's embeddings, the graphs,
the project's auth module) finds the variables it holds. A key it applies becomes settings
(its graphs, `http.cors`, `store.ttl`, the checkpoint serializer's allowed types, its own
checkpointer and store); a key that only matters to building an image is logged as
ignored; a key whose absence would change who may call the server or what happens to data
(`auth`, `encryption`, an `http` option, thread expiry) stops start-up, naming the key,
rather than leave the project less safe than it expects.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from dotenv import dotenv_values
from langgraph_sdk import Encryption

from langstar.objects import LoadError, load_object
from langstar.settings import (
    ENV_PREFIX,
    HttpSettings,
    Settings,
    SettingsError,
    StoreSettings,
    ThreadSettings,
)

log = logging.getLogger(__name__)

# Keys that only shape the Docker image `langgraph build` makes.
BUILD_ONLY = frozenset(
    {
        "python_version",
        "node_version",
        "api_version",
        "base_image",
        "image_distro",
        "pip_config_file",
        "pip_installer",
        "source",
        "dockerfile_lines",
        "keep_pkg_tools",
        "_INTERNAL_docker_tag",
    }
)
# Keys read where the graphs are loaded (graphs/registry.py), and `env`, loaded first.
LOADED_WITH_GRAPHS = frozenset({"graphs", "dependencies", "env"})

# What langstar does not do of a langgraph.json, by key (and, in parentheses, the values
# concerned when not all are): a refused key stops start-up with one line naming it and
# why; an ignored one is logged. The README's list is made from these two tables; a key
# made to work leaves them.
REFUSED: dict[str, str] = {}
IGNORED: dict[str, str] = dict.fromkeys(
    BUILD_ONLY, "it only shapes the image `langgraph build` makes"
)
# The files LangGraph's server runs with Node.js.
_JAVASCRIPT = (".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".tsx", ".jsx")


def refusal(form: str, key: str = "", given: str = "") -> ProjectError:
    """The error a `REFUSED` form stops start-up with: `langgraph.json <key>: <why>`."""
    why = REFUSED[form]
    return ProjectError(f"langgraph.json {key or form}", f"{given}: {why}" if given else why)


def _refuse_javascript(form: str, key: str, spec: object) -> None:
    """A `file:attr` spec naming a JavaScript or TypeScript file is refused as `form`."""
    if isinstance(spec, str) and spec.rpartition(":")[0].endswith(_JAVASCRIPT):
        raise refusal(form, key, spec)


REFUSED["graphs.<name> (a JavaScript or TypeScript file)"] = "langstar runs Python graphs only"


def _refuse_javascript_graphs(graphs: object) -> None:
    for name, spec in graphs.items() if isinstance(graphs, dict) else ():
        path = spec.get("path") if isinstance(spec, dict) else spec
        _refuse_javascript(
            "graphs.<name> (a JavaScript or TypeScript file)", f"graphs.{name}", path
        )


@functools.cache
def _note(level: int, message: str, *args: object) -> None:
    """Log once per process: the CLI and the app factory both apply the project."""
    log.log(level, message, *args)


class ProjectError(SettingsError):
    """The project asks for something langstar cannot do as the project expects."""


@dataclass(frozen=True, slots=True)
class Project:
    """A parsed `langgraph.json`, and the folder its relative paths start from."""

    path: Path
    config: dict[str, Any]

    @property
    def base(self) -> Path:
        return self.path.parent


def read_project(path: str | Path) -> Project:
    """The project at `path`; a file that cannot be read or is not an object is refused."""
    resolved = Path(path).expanduser().resolve()
    try:
        config = json.loads(resolved.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError("graphs_from", f"cannot read {resolved}: {exc}") from None
    if not isinstance(config, dict):
        raise ProjectError("graphs_from", f"{resolved} does not hold a JSON object")
    return Project(resolved, config)


def load_env(project: Project) -> list[str]:
    """The project's `env` (a file beside langgraph.json, or a table) put in os.environ.

    A variable already set keeps its value: the deployment's own environment wins over the
    project's file, as a container's `environment` wins over its `env_file` where LangGraph's
    server runs. Returns the names it set.
    """
    env = project.config.get("env")
    values: Mapping[str, Any]
    if env is None:
        return []
    if isinstance(env, dict):
        values = env
    elif isinstance(env, str):
        path = (project.base / env).resolve()
        if not path.is_file():
            _note(logging.WARNING, "langgraph.json env: %s not found; nothing loaded", path)
            return []
        values = dotenv_values(path)
    else:
        raise ProjectError("langgraph.json env", "expected a file's path or an object")
    added = [str(k) for k, v in values.items() if v is not None and str(k) not in os.environ]
    for name in added:
        os.environ[name] = str(values[name])
    return added


def project_settings(load: Callable[[Mapping[str, str]], Settings]) -> Settings:
    """Settings loaded from the environment, again once the project's env file is loaded
    when that file holds `LANGSTAR_` variables: they are langstar's settings for the project.

    Its other variables are the project's: a DATABASE_URL there is its tools' database, not
    langstar's.
    """
    settings = load(os.environ)
    if not settings.graphs_from:
        return settings
    added = load_env(read_project(settings.graphs_from))
    if not any(name.startswith(ENV_PREFIX) for name in added):
        return settings
    theirs = {name for name in added if not name.startswith(ENV_PREFIX)}
    return load({k: v for k, v in os.environ.items() if k not in theirs})


def apply_project(settings: Settings) -> Settings:
    """Settings with the project's keys applied; every key not applied is logged or refused.

    The project's env is loaded first, so that whatever is built next sees it.
    """
    if not settings.graphs_from:
        return settings
    project = read_project(settings.graphs_from)
    _refuse_javascript_graphs(project.config.get("graphs"))
    load_env(project)
    for key, value in project.config.items():
        handler = _HANDLERS.get(key)
        if key in LOADED_WITH_GRAPHS:
            continue
        if key in BUILD_ONLY:
            _note(
                logging.INFO,
                "langgraph.json: %s only shapes a built image; ignored when serving",
                key,
            )
        elif handler is None:
            _note(logging.WARNING, "langgraph.json: unknown key %r ignored", key)
        else:
            settings = handler(settings, value)
    return settings


def _refuse(key: str, why: str) -> Callable[[Settings, Any], Settings]:
    REFUSED[key] = why

    def refuse(settings: Settings, value: Any) -> Settings:
        raise refusal(key)

    return refuse


def _ignore(key: str, why: str) -> Callable[[Settings, Any], Settings]:
    IGNORED[key] = why

    def ignore(settings: Settings, value: Any) -> Settings:
        _note(logging.WARNING, "langgraph.json: %s ignored: %s", key, why)
        return settings

    return ignore


def _object(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProjectError(f"langgraph.json {key}", "expected an object")
    return value


# http


_CORS_KEYS = {
    "allow_origins": "cors_allow_origins",
    "allow_methods": "cors_allow_methods",
    "allow_headers": "cors_allow_headers",
    "allow_credentials": "cors_allow_credentials",
    "allow_origin_regex": "cors_allow_origin_regex",
    "expose_headers": "cors_expose_headers",
    "max_age": "cors_max_age",
}


def _http(settings: Settings, value: Any) -> Settings:
    http = settings.http
    project = Path(settings.graphs_from)
    for key, option in _object("http", value).items():
        if key == "cors":
            http = msgspec.structs.replace(http, **_cors_options(option))
        elif key in ("configurable_headers", "logging_headers"):
            include, exclude = _header_patterns(key, option)
            http = msgspec.structs.replace(
                http, **{f"{key}_include": include, f"{key}_exclude": exclude}
            )
        elif key == "middleware_order":
            http = _middleware_order(http, option)
        elif key in _HTTP_APPLIED:
            http = _http_option(http, key, option, project)
        else:
            raise ProjectError(f"langgraph.json http.{key}", "unknown http option")
    return msgspec.structs.replace(settings, http=http)


_HTTP_APPLIED = frozenset(
    {
        "app",
        "mount_prefix",
        "enable_custom_route_auth",
        "disable_assistants",
        "disable_threads",
        "disable_runs",
        "disable_store",
        "disable_meta",
        "disable_crons",
        "disable_webhooks",
        "disable_a2a",
        "disable_mcp",
        "disable_ui",
    }
)


REFUSED["http.app (a JavaScript or TypeScript file)"] = "langstar mounts Python ASGI apps only"


def _http_option(http: HttpSettings, key: str, option: Any, project: Path) -> HttpSettings:
    if key == "app":
        if not isinstance(option, str) or ":" not in option:
            raise ProjectError(
                "langgraph.json http.app", "expected 'file.py:attr' or 'module:attr'"
            )
        _refuse_javascript("http.app (a JavaScript or TypeScript file)", "http.app", option)
        return msgspec.structs.replace(http, app=_in_project(option, project))
    if key == "mount_prefix":
        if not isinstance(option, str) or not option.startswith("/") or option.endswith("/"):
            raise ProjectError(
                "langgraph.json http.mount_prefix", "expected a path like '/api', not ending in '/'"
            )
        return msgspec.structs.replace(http, mount_prefix=option)
    if not isinstance(option, bool):
        raise ProjectError(f"langgraph.json http.{key}", "expected true or false")
    return msgspec.structs.replace(http, **{key: option})


def _header_patterns(key: str, value: Any) -> tuple[list[str], list[str]]:
    """`{includes|include, excludes|exclude}`: header name patterns, for the headers copied
    into run config (`configurable_headers`) or shown in the access log (`logging_headers`)."""
    given = {} if value is None else _object(f"http.{key}", value)
    unknown = sorted(set(given) - {"includes", "include", "excludes", "exclude"})
    if unknown:
        raise ProjectError(f"langgraph.json http.{key}.{unknown[0]}", "unknown")
    include = given.get("includes", given.get("include")) or []
    exclude = given.get("excludes", given.get("exclude")) or []
    for name, patterns in (("include", include), ("exclude", exclude)):
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ProjectError(f"langgraph.json http.{key}.{name}",
                               "expected a list of header name patterns")  # fmt: skip
    return include, exclude


def _middleware_order(http: HttpSettings, value: Any) -> HttpSettings:
    """Whether the project's middleware runs before the API's authentication or after it."""
    if value is None:
        return http
    if value not in ("middleware_first", "auth_first"):
        raise ProjectError(
            "langgraph.json http.middleware_order", "expected 'middleware_first' or 'auth_first'"
        )
    return msgspec.structs.replace(http, middleware_order=value)


def _cors_options(value: Any) -> dict[str, Any]:
    return {name: getattr(_cors(value), name) for name in _CORS_KEYS.values()}


def _cors(value: Any) -> HttpSettings:
    """`http.cors` replaces the default CORS policy, as on LangGraph's server."""
    given = {} if value is None else _object("http.cors", value)
    unknown = sorted(set(given) - set(_CORS_KEYS))
    if unknown:
        raise ProjectError(f"langgraph.json http.cors.{unknown[0]}", "unknown CORS option")
    # What the project leaves out takes the CORS defaults, not langstar's wider ones.
    options: dict[str, Any] = {
        "cors_allow_origins": [],
        "cors_allow_methods": ["GET"],
        "cors_allow_headers": [],
        "cors_expose_headers": [],
    }
    options.update({_CORS_KEYS[k]: v for k, v in given.items() if v is not None})
    try:
        return msgspec.convert(options, HttpSettings)
    except msgspec.ValidationError as exc:
        raise ProjectError("langgraph.json http.cors", str(exc)) from None


# auth


def _auth(settings: Settings, value: Any, *, base: Path) -> Settings:
    """`auth.path` serves the project with its own langgraph_sdk.Auth."""
    given = _object("auth", value)
    unknown = sorted(set(given) - {"path", "disable_studio_auth", *_AUTH_IGNORED})
    if unknown:
        raise ProjectError(f"langgraph.json auth.{unknown[0]}", "unknown auth option")
    spec = given.get("path")
    if not isinstance(spec, str) or ":" not in spec:
        raise ProjectError("langgraph.json auth.path", "expected 'file.py:attr' or 'module:attr'")
    _refuse_javascript("auth.path (a JavaScript or TypeScript file)", "auth.path", spec)
    if settings.auth.mode not in ("", "project"):
        raise ProjectError(
            "auth.mode",
            f"is {settings.auth.mode!r}, but langgraph.json auth.path names the project's own "
            "Auth; remove one of the two",
        )
    spec = _in_project(spec, base)
    for key in _AUTH_IGNORED:
        if given.get(key):
            _note(logging.INFO, "langgraph.json: auth.%s ignored: %s", key, _AUTH_IGNORED[key])
    auth = msgspec.structs.replace(
        settings.auth, mode="project", project_auth=spec, studio_mode=_studio_mode(settings, given)
    )
    return msgspec.structs.replace(settings, auth=auth)


def _studio_mode(settings: Settings, given: dict[str, Any]) -> bool:
    """`auth.studio_mode`, unless the project's `disable_studio_auth` turns Studio's way in
    off, as it does on LangGraph's server."""
    disabled = given.get("disable_studio_auth", False)
    if not isinstance(disabled, bool):
        raise ProjectError("langgraph.json auth.disable_studio_auth", "expected true or false")
    if disabled and settings.auth.studio_mode:
        _note(logging.WARNING, "auth.studio_mode is off: langgraph.json auth.disable_studio_auth "
              "is true")  # fmt: skip
    return settings.auth.studio_mode and not disabled


def _in_project(spec: str, project: Path) -> str:
    """A `file.py:attr` spec with its file found from the project's folder."""
    target, _, attr = spec.rpartition(":")
    if target.endswith(".py") or "/" in target:
        return f"{(project.expanduser().resolve().parent / target).resolve()}:{attr}"
    return spec


_AUTH_IGNORED = {
    "openapi": "the API docs do not show the project's security schemes",
    "cache": "every request is authenticated afresh",
    # Ignoring it can only narrow the way in: the project's authenticate sees every request.
    "allow_langsmith_api_keys": "there is no LangSmith to check its API keys",
}
IGNORED.update({f"auth.{key}": why for key, why in _AUTH_IGNORED.items()})
REFUSED["auth.path (a JavaScript or TypeScript file)"] = (
    "langstar runs a Python langgraph_sdk.Auth only"
)


# store and checkpointer


def _store(settings: Settings, value: Any) -> Settings:
    store = settings.store
    given = _object("store", value)
    if given.get("path"):
        return _project_store(settings, given)
    for key, option in given.items():
        if key == "ttl" and option is not None:
            store = _store_ttl(store, _object("store.ttl", option))
        elif key == "index" and option is not None:
            store = _store_index(store, _object("store.index", option), Path(settings.graphs_from))
        elif key not in ("ttl", "index", "path"):
            raise ProjectError(f"langgraph.json store.{key}", "unknown store option")
    return msgspec.structs.replace(settings, store=store)


_OWN_STORE = "they shape langstar's own store; the project's store is made by its own code"
IGNORED["store.index (with store.path)"] = _OWN_STORE
IGNORED["store.ttl (with store.path)"] = _OWN_STORE


def _project_store(settings: Settings, given: dict[str, Any]) -> Settings:
    """`store.path`: the project's own store. Its `index` and `ttl` are then the store's
    own business, as on LangGraph's server."""
    for key in sorted(set(given) - {"path"}):
        if key not in ("ttl", "index"):
            raise ProjectError(f"langgraph.json store.{key}", "unknown store option")
        if given[key] is not None:
            _note(logging.INFO, "langgraph.json: store.%s ignored: %s", key, _OWN_STORE)
    path = _spec_in_project("store.path", given["path"], Path(settings.graphs_from))
    return msgspec.structs.replace(
        settings, store=msgspec.structs.replace(settings.store, path=path)
    )


def _spec_in_project(key: str, spec: Any, project: Path) -> str:
    if not isinstance(spec, str) or ":" not in spec:
        raise ProjectError(f"langgraph.json {key}", "expected 'file.py:attr' or 'module:attr'")
    return _in_project(spec, project)


# Embedding providers `"provider:model"` may name; the rest of a spec is a function's path.
_EMBEDDING_PROVIDERS = frozenset(
    {"openai", "azure_openai", "google_vertexai", "google_genai", "bedrock", "cohere",
     "mistralai", "huggingface", "ollama"}
)  # fmt: skip
_OTHER_EMBEDDINGS = "store.index.embed (a provider other than openai)"
REFUSED[_OTHER_EMBEDDINGS] = (
    "langstar makes OpenAI-compatible embeddings only: name a function that makes them "
    "('file.py:function'), or use 'openai:<model>' with any OpenAI-compatible endpoint"
)


def _store_index(store: StoreSettings, index: dict[str, Any], project: Path) -> StoreSettings:
    """`store.index` {dims, embed, fields}: the store's semantic search."""
    unknown = sorted(set(index) - {"dims", "embed", "fields"})
    if unknown:
        raise ProjectError(f"langgraph.json store.index.{unknown[0]}", "unknown index option")
    dims, embed = index.get("dims"), index.get("embed")
    if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
        raise ProjectError("langgraph.json store.index.dims", "expected a positive integer")
    if not isinstance(embed, str) or ":" not in embed:
        raise ProjectError(
            "langgraph.json store.index.embed", "expected 'provider:model' or 'file.py:function'"
        )
    changes: dict[str, Any] = {"embedding_dims": dims}
    if index.get("fields") is not None:
        changes["embedding_fields"] = index["fields"]
    provider, _, model = embed.partition(":")
    if provider == "openai":
        changes.update(embedding_model=model, embedding_function="")
    elif provider in _EMBEDDING_PROVIDERS:
        raise refusal(_OTHER_EMBEDDINGS, "store.index.embed", repr(embed))
    else:
        changes["embedding_function"] = _in_project(embed, project)
    try:
        return msgspec.convert({**msgspec.to_builtins(store), **changes}, StoreSettings)
    except msgspec.ValidationError as exc:
        raise ProjectError("langgraph.json store.index", str(exc)) from None


def _store_ttl(store: StoreSettings, ttl: dict[str, Any]) -> StoreSettings:
    unknown = sorted(set(ttl) - {"refresh_on_read", "default_ttl", "sweep_interval_minutes"})
    if unknown:
        raise ProjectError(f"langgraph.json store.ttl.{unknown[0]}", "unknown TTL option")
    changes: dict[str, Any] = {}
    if ttl.get("refresh_on_read") is not None:
        changes["ttl_refresh_on_read"] = ttl["refresh_on_read"]
    if ttl.get("default_ttl") is not None:
        changes["ttl_default_minutes"] = ttl["default_ttl"]
    if ttl.get("sweep_interval_minutes") is not None:
        changes["ttl_sweep_interval_minutes"] = ttl["sweep_interval_minutes"]
    try:
        return msgspec.convert({**msgspec.to_builtins(store), **changes}, StoreSettings)
    except msgspec.ValidationError as exc:
        raise ProjectError("langgraph.json store.ttl", str(exc)) from None


_OTHER_BACKEND = "checkpointer.backend (other than default or custom)"
REFUSED[_OTHER_BACKEND] = (
    "langstar keeps checkpoints in its own PostgreSQL, or in the project's own saver"
)


def _checkpointer(settings: Settings, value: Any) -> Settings:
    given = _object("checkpointer", value)
    settings = _project_checkpointer(settings, given)
    for key, option in given.items():
        if key == "serde" and option is not None:
            settings = _serde(settings, _object("checkpointer.serde", option))
        elif key == "ttl" and option is not None:
            settings = _thread_ttl(settings, _object("checkpointer.ttl", option))
        elif key not in ("serde", "backend", "path", "ttl"):
            raise ProjectError(f"langgraph.json checkpointer.{key}", "unknown option")
    return settings


IGNORED["checkpointer.serde (with checkpointer.path)"] = (
    "the project's own saver reads checkpoints with its own serializer"
)


def _project_checkpointer(settings: Settings, given: dict[str, Any]) -> Settings:
    """`checkpointer.path`, with a `backend` of "custom" or none: the project's own saver
    keeps the checkpoints, as on LangGraph's server; runs and threads stay in langstar's
    PostgreSQL."""
    backend, path = given.get("backend"), given.get("path")
    if backend not in (None, "default", "custom"):
        raise refusal(_OTHER_BACKEND, "checkpointer.backend", repr(backend))
    if not path:
        if backend == "custom":
            raise ProjectError("langgraph.json checkpointer.path", "backend 'custom' needs it")
        return settings
    if backend == "default":
        raise ProjectError("langgraph.json checkpointer.backend", "'default' is langstar's "
                           "own saver: make it 'custom' to use checkpointer.path")  # fmt: skip
    if settings.database.encryption:
        raise refusal(_SAVER_ENCRYPTION, "encryption.path")
    spec = _spec_in_project("checkpointer.path", path, Path(settings.graphs_from))
    if given.get("serde") is not None:
        why = IGNORED["checkpointer.serde (with checkpointer.path)"]
        _note(logging.INFO, "langgraph.json: checkpointer.serde ignored: %s", why)
    database = msgspec.structs.replace(settings.database, checkpointer=spec)
    return msgspec.structs.replace(settings, database=database)


_THREAD_TTL = {
    "strategy": "ttl_strategy",
    "default_ttl": "ttl_default_minutes",
    "sweep_interval_minutes": "ttl_sweep_interval_minutes",
    "sweep_limit": "ttl_sweep_limit",
}


def _thread_ttl(settings: Settings, ttl: dict[str, Any]) -> Settings:
    """`checkpointer.ttl`: threads expire, as the `[threads]` ttl settings say."""
    unknown = sorted(set(ttl) - set(_THREAD_TTL))
    if unknown:
        raise ProjectError(f"langgraph.json checkpointer.ttl.{unknown[0]}", "unknown TTL option")
    changes = {_THREAD_TTL[key]: value for key, value in ttl.items() if value is not None}
    try:
        threads = msgspec.convert(
            {**msgspec.to_builtins(settings.threads), **changes}, ThreadSettings
        )
    except msgspec.ValidationError as exc:
        raise ProjectError("langgraph.json checkpointer.ttl", str(exc)) from None
    return msgspec.structs.replace(settings, threads=threads)


_SERDE_MODULES = ("allowed_json_modules", "allowed_msgpack_modules")


def _serde(settings: Settings, serde: dict[str, Any]) -> Settings:
    """The types a checkpoint may hold beyond LangGraph's own, as `module.Class` names, and
    whether values stored pickled (msgpack could not encode them) are read back."""
    unknown = sorted(set(serde) - {"pickle_fallback", *_SERDE_MODULES})
    if unknown:
        raise ProjectError(f"langgraph.json checkpointer.serde.{unknown[0]}", "unknown option")
    pickles = _pickle_fallback(settings, serde.get("pickle_fallback"))
    allowed = list(settings.database.checkpoint_allowed_types)
    strict = settings.database.strict_checkpoint_types
    for key in _SERDE_MODULES:
        modules = serde.get(key)
        if modules not in (None, False, True) and not isinstance(modules, list):
            raise ProjectError(
                f"langgraph.json checkpointer.serde.{key}",
                "expected a list of module paths, or true for any type",
            )
        if modules is True:
            _note(
                logging.WARNING,
                "langgraph.json: checkpointer.serde.%s is true: any type is built",
                key,
            )
            strict = False
        elif isinstance(modules, list):
            allowed += [".".join(m) if isinstance(m, list) else str(m) for m in modules]
    database = msgspec.structs.replace(
        settings.database,
        # Applying the project twice (the CLI, then the app) lists each type once.
        checkpoint_allowed_types=list(dict.fromkeys(allowed)),
        strict_checkpoint_types=strict,
        checkpoint_pickle_fallback=pickles,
    )
    return msgspec.structs.replace(settings, database=database)


def _pickle_fallback(settings: Settings, value: Any) -> bool:
    """`pickle_fallback`: values stored pickled are read back unless the project (or, when it
    says nothing, the operator) says false, as on LangGraph's server."""
    if value is None:
        return settings.database.checkpoint_pickle_fallback
    if not isinstance(value, bool):
        raise ProjectError(
            "langgraph.json checkpointer.serde.pickle_fallback", "expected true or false"
        )
    return value


_WEBHOOK_URL_KEYS = frozenset(
    {"require_https", "allowed_domains", "disable_loopback", "disable_private_ips"}
)
REFUSED.update(
    {
        "webhooks.headers": "webhooks would go without the headers the project adds to them, "
        "often the receiver's credential",
        "webhooks.env_prefix": "it names what webhook headers may read, and headers are not "
        "supported",
        "webhooks.allowed_fields": "webhooks would carry the whole run, not only the fields "
        "the project allows",
        "webhooks.url.allowed_ports": "webhooks could reach ports the project's policy forbids",
        "webhooks.url.max_url_length": "webhooks could go to URLs longer than the project's "
        "policy allows",
    }
)


def _webhooks(settings: Settings, value: Any) -> Settings:
    """`webhooks.url`: the policy webhook URLs must meet, as `[webhooks]` says it.

    What langstar cannot honour as written (extra headers, a payload trimmed to some
    fields, a port list, a shorter URL limit) is refused rather than ignored: each would
    send more, or to more places, than the project allows.
    """
    given = _object("webhooks", value)
    for key in sorted(set(given) - {"url"}):
        _refuse_unless_known(f"webhooks.{key}")
    url = _object("webhooks.url", given.get("url") or {})
    for key in sorted(set(url) - _WEBHOOK_URL_KEYS):
        _refuse_unless_known(f"webhooks.url.{key}")
    changes: dict[str, Any] = {}
    if "require_https" in url:
        changes["require_https"] = bool(url["require_https"])
    if "allowed_domains" in url:
        changes["allowed_domains"] = list(url["allowed_domains"] or [])
    # Loopback and private addresses are one switch here, both refused by default.
    if url.get("disable_loopback") is False or url.get("disable_private_ips") is False:
        changes["allow_private"] = True
    return msgspec.structs.replace(
        settings, webhooks=msgspec.structs.replace(settings.webhooks, **changes)
    )


_JS_ENCRYPTION = "encryption.path (a JavaScript or TypeScript file)"
_SAVER_ENCRYPTION = "encryption.path (with checkpointer.path)"
REFUSED[_JS_ENCRYPTION] = "langstar runs a Python langgraph_sdk.Encryption only"
REFUSED[_SAVER_ENCRYPTION] = (
    "the project's own saver writes the checkpoints, so the blob handlers would not run"
)


def _encryption(settings: Settings, value: Any) -> Settings:
    """`encryption.path`: the project's langgraph_sdk.Encryption, whose blob handlers
    encrypt checkpoints; refused where what it asks for would not all be encrypted."""
    given = _object("encryption", value)
    for key in sorted(set(given) - {"path"}):
        raise ProjectError(f"langgraph.json encryption.{key}", "unknown option")
    if not given.get("path"):
        return settings
    _refuse_javascript(_JS_ENCRYPTION, "encryption.path", given["path"])
    if settings.database.checkpointer:
        raise refusal(_SAVER_ENCRYPTION, "encryption.path")
    path = _spec_in_project("encryption.path", given["path"], Path(settings.graphs_from))
    try:
        found = load_object(path, Path(settings.graphs_from).parent)
    except LoadError as exc:
        raise ProjectError("langgraph.json encryption.path", str(exc)) from None
    if not isinstance(found, Encryption):
        raise ProjectError(
            "langgraph.json encryption.path",
            f"expected a langgraph_sdk.Encryption, not {type(found).__name__}",
        )
    if (found._json_encryptor is None) != (found._json_decryptor is None):
        missing = "decrypt.json" if found._json_decryptor is None else "encrypt.json"
        raise ProjectError(
            "langgraph.json encryption.path",
            f"{path} registers one JSON handler without the other: add @{missing}",
        )
    database = msgspec.structs.replace(settings.database, encryption=path)
    return msgspec.structs.replace(settings, database=database)


def _refuse_unless_known(key: str) -> None:
    """Stop start-up on a key langstar does not apply: refused as `REFUSED` says, or unknown."""
    if key in REFUSED:
        raise refusal(key)
    raise ProjectError(f"langgraph.json {key}", "unknown option")


_HANDLERS: dict[str, Callable[[Settings, Any], Settings]] = {
    "http": _http,
    "store": _store,
    "checkpointer": _checkpointer,
    "auth": lambda settings, value: _auth(settings, value, base=Path(settings.graphs_from)),
    "encryption": _encryption,
    "webhooks": _webhooks,
    "ui": _ignore("ui", "generative UI components are not served"),
    "ui_config": _ignore("ui_config", "generative UI components are not served"),
    "priority": _ignore("priority", "runs are served first in, first out"),
}
