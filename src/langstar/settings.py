"""Typed, frozen settings: defaults, a TOML file, then the environment."""

from __future__ import annotations

import base64
import difflib
import functools
import json
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

log = logging.getLogger(__name__)

ENV_PREFIX = "LANGSTAR_"
DEFAULT_CONFIG = Path("config") / "langstar.toml"

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
PoolSize = Annotated[int, msgspec.Meta(ge=1, le=1000)]
# The graphs served unless a setting leaves them out (`graphs.agent = ""`).
BUILT_IN_GRAPHS = {"agent": "langstar.agents.chat:graph"}


class SettingsError(ValueError):
    """A configuration value is wrong; `key` names it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


MAX_WORKERS = 256


class ServerSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: Port = 8123
    shutdown_grace_seconds: Positive = 30.0
    workers: Annotated[int, msgspec.Meta(ge=0, le=MAX_WORKERS)] = 0


class DatabaseSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    url: str = ""
    url_file: str = ""
    pool_min_size: PoolSize = 2
    pool_max_size: PoolSize = 20
    pool_timeout_seconds: Positive = 10.0
    pool_busy_wait_seconds: Positive = 60.0
    pool_max_lifetime_seconds: Positive = 1800.0
    pool_max_idle_seconds: Positive = 180.0
    strict_checkpoint_types: bool = True
    checkpoint_allowed_types: list[str] = msgspec.field(default_factory=list)
    checkpoint_pickle_fallback: bool = True
    direct_url: str = ""
    pooler: Literal["auto", "none", "session", "transaction"] = "auto"
    prepared_statements: Literal["auto", "on", "off"] = "auto"
    poll_seconds: Annotated[float, msgspec.Meta(ge=0.1, le=60)] = 1.0
    checkpointer: str = ""
    encryption: str = ""


class ModelSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    provider: Literal["offline", "openai"] = "offline"
    base_url: str = ""
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] = 0.0
    timeout_seconds: Positive = 60.0
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    offline_token_delay_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.0


class StoreSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    embedding_dims: Annotated[int, msgspec.Meta(ge=0, le=16000)] = 0
    embedding_model: str = "text-embedding-3-small"
    embedding_base_url: str = ""
    embedding_api_key_env: str = "OPENAI_API_KEY"
    embedding_fields: list[str] = msgspec.field(default_factory=lambda: ["$"])
    embedding_function: str = ""
    ttl_sweep_interval_minutes: Annotated[int, msgspec.Meta(ge=1)] = 1
    ttl_default_minutes: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    ttl_refresh_on_read: bool = True
    index_type: Literal["hnsw", "ivfflat", "flat"] = "hnsw"
    vector_type: Literal["vector", "halfvec"] = "vector"
    distance_type: Literal["cosine", "l2", "inner_product"] = "cosine"
    path: str = ""


class RunSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    recursion_limit: Annotated[int, msgspec.Meta(ge=1, le=10000)] = 25
    max_recursion_limit: Annotated[int, msgspec.Meta(ge=1, le=10000)] = 200
    configurable_keys: list[str] = msgspec.field(default_factory=lambda: ["user_id"])
    heartbeat_seconds: Positive = 5.0
    lease_seconds: Annotated[float, msgspec.Meta(ge=3)] = 30.0
    max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 3
    stream_retention_seconds: Positive = 300.0
    database_wait_seconds: Positive = 120.0


class ThreadSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    ttl_default_minutes: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    ttl_strategy: Literal["delete", "keep_latest"] = "delete"
    ttl_sweep_interval_minutes: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    ttl_sweep_limit: Annotated[int, msgspec.Meta(ge=1)] = 1000


class CronSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    poll_seconds: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    batch_size: Annotated[int, msgspec.Meta(ge=1)] = 100


class WebhookSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    allow_private: bool = False
    require_https: bool = False
    allowed_domains: list[str] = msgspec.field(default_factory=list)
    secret: str = ""
    max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 10
    max_age_minutes: Positive = 1440.0
    timeout_seconds: Positive = 10.0
    retry_min_seconds: Positive = 1.0
    retry_max_seconds: Positive = 600.0
    poll_seconds: Positive = 1.0
    batch_size: Annotated[int, msgspec.Meta(ge=1)] = 50


class LimitSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 10_000_000
    max_input_messages: Annotated[int, msgspec.Meta(ge=1)] = 500
    max_message_bytes: Annotated[int, msgspec.Meta(ge=64)] = 262_144
    max_metadata_bytes: Annotated[int, msgspec.Meta(ge=64)] = 65_536
    max_runs_per_user: Annotated[int, msgspec.Meta(ge=1)] = 20
    max_queued_runs: Annotated[int, msgspec.Meta(ge=1)] = 1000
    max_streams_per_user: Annotated[int, msgspec.Meta(ge=1)] = 50
    max_stream_seconds: Positive = 3600.0
    run_timeout_seconds: Positive = 3600.0


class AuthSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    mode: Literal["", "none", "api_key", "jwt", "custom", "project"] = ""
    provider: str = ""
    project_auth: str = ""
    studio_mode: bool = False
    jwt_secret_env: str = "LANGSTAR_JWT_SECRET"
    jwt_jwks: str = ""
    jwt_algorithms: list[Literal["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"]] = (
        msgspec.field(default_factory=lambda: ["HS256", "RS256", "ES256"])
    )
    jwt_user_claim: str = "sub"
    jwt_audience: str = ""
    jwt_issuer: str = ""
    jwt_leeway_seconds: Annotated[float, msgspec.Meta(ge=0, le=600)] = 30.0


class HttpSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    cors_enabled: bool = True
    cors_allow_origins: list[str] = msgspec.field(default_factory=lambda: ["*"])
    cors_allow_origin_regex: str = ""
    cors_allow_methods: list[str] = msgspec.field(default_factory=lambda: ["*"])
    cors_allow_headers: list[str] = msgspec.field(default_factory=lambda: ["*"])
    cors_allow_credentials: bool = False
    cors_expose_headers: list[str] = msgspec.field(
        default_factory=lambda: [
            "content-location",
            "location",
            "x-pagination-total",
            "x-pagination-next",
        ]
    )
    cors_max_age: Annotated[int, msgspec.Meta(ge=0)] = 600
    app: str = ""
    enable_custom_route_auth: bool = False
    middleware_order: Literal["middleware_first", "auth_first"] = "middleware_first"
    mount_prefix: str = ""
    configurable_headers_include: list[str] = msgspec.field(default_factory=list)
    configurable_headers_exclude: list[str] = msgspec.field(default_factory=list)
    logging_headers_include: list[str] = msgspec.field(default_factory=list)
    logging_headers_exclude: list[str] = msgspec.field(default_factory=list)
    disable_assistants: bool = False
    disable_threads: bool = False
    disable_runs: bool = False
    disable_store: bool = False
    disable_meta: bool = False
    disable_crons: bool = False
    disable_webhooks: bool = False
    disable_a2a: bool = False
    disable_mcp: bool = False
    metrics_token: str = ""
    disable_ui: bool = False


class Settings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Everything langstar reads from its configuration, built once at startup."""

    data_dir: str = ".langstar"
    graphs_from: str = ""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    model: ModelSettings = msgspec.field(default_factory=ModelSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    runs: RunSettings = msgspec.field(default_factory=RunSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    threads: ThreadSettings = msgspec.field(default_factory=ThreadSettings)
    crons: CronSettings = msgspec.field(default_factory=CronSettings)
    webhooks: WebhookSettings = msgspec.field(default_factory=WebhookSettings)
    graphs: dict[str, str] = msgspec.field(default_factory=lambda: dict(BUILT_IN_GRAPHS))

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database.url


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings from a TOML file and the environment.

    The file is `path`, else `$LANGSTAR_CONFIG`, else `config/langstar.toml` when present.
    `LANGSTAR_SECTION__KEY` overrides `section.key` and `LANGSTAR_KEY` a top-level key
    (other `LANGSTAR_` names without `__` are not settings); `DATABASE_URL` sets
    `database.url`, or `database.url_file` names a file to read it from.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    source = path or env.get(ENV_PREFIX + "CONFIG")
    if source:
        data = _read_toml(Path(source), required=True)
    elif DEFAULT_CONFIG.is_file():
        data = _read_toml(DEFAULT_CONFIG, required=False)
    _apply_env(data, env)
    _add_built_in_graphs(data)
    settings = _with_url_from_file(_convert(data))
    _check(settings)
    return settings


def _with_url_from_file(settings: Settings) -> Settings:
    """`database.url` read from the file `database.url_file` names (a mounted secret)."""
    path = settings.database.url_file
    if not path:
        return settings
    key = "database.url_file"
    if settings.database.url:
        raise SettingsError(key, "set it or database.url (DATABASE_URL), not both")
    try:
        url = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SettingsError(key, f"cannot read {path}: {reason}") from None
    if not url:
        raise SettingsError(key, f"{path} is empty")
    try:
        check_database_url(url)
    except SettingsError as exc:  # its problem never quotes the URL, which may hold a password
        raise SettingsError(key, f"{path}: {exc.problem}") from None
    database = msgspec.structs.replace(settings.database, url=url)
    return msgspec.structs.replace(settings, database=database)


def _read_toml(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if required:
            raise SettingsError("LANGSTAR_CONFIG", f"file not found: {path}") from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(str(path), f"not valid TOML: {exc}") from None


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """The `LANGSTAR_SECTION__KEY` and `LANGSTAR_KEY` variables, into `data`.

    A name with `__` must be a setting: a misspelt section or key stops start-up. A name
    without one is a setting only when it names a top-level key; any other (LANGSTAR_DIR,
    set by some other tool) is left alone, with a warning when it is close to a setting.
    """
    fields = _section_fields()
    sections = {name for name, is_section in fields.items() if is_section} | {"graphs"}
    top_level: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) == 1:
            top_level[name] = value
            continue
        if len(parts) != 2 or parts[0] not in sections:
            raise SettingsError(name, _unknown_section(parts[0], sections))
        section = data.setdefault(parts[0], {})
        if not isinstance(section, dict):
            raise SettingsError(parts[0], "must be a table")
        section[parts[1]] = _env_value(name, value)
    # A variable a setting names (a secret, such as $LANGSTAR_JWT_SECRET) is that
    # setting's value, never a setting of its own.
    named = _named_variables(data)
    for name, value in top_level.items():
        key = name[len(ENV_PREFIX) :].lower()
        if key in fields and name not in named:
            data[key] = _env_value(name, value)
        elif name not in named:
            _not_a_setting(name, [ENV_PREFIX + f.upper() for f in fields] + sorted(named))
    if env.get("DATABASE_URL"):
        data.setdefault("database", {})["url"] = env["DATABASE_URL"]


def _add_built_in_graphs(data: dict[str, Any]) -> None:
    """`[graphs]` (from a file or `LANGSTAR_GRAPHS__NAME`) adds to the built-in graphs; a
    graph given as "" is left out, a built-in one too."""
    given = data.get("graphs", {})
    if not isinstance(given, dict):
        raise SettingsError("graphs", "must be a table")
    graphs = {**BUILT_IN_GRAPHS, **given}
    data["graphs"] = {name: spec for name, spec in graphs.items() if spec != ""}


def _env_value(name: str, value: str) -> Any:
    if value.startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            raise SettingsError(name, "starts like JSON but is not valid JSON") from None
    return value


def _unknown_section(section: str, sections: set[str]) -> str:
    close = difflib.get_close_matches(section, sorted(sections), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"one of {', '.join(sorted(sections))}"
    return f"unknown setting: no section {section!r} ({hint}); use LANGSTAR_SECTION__KEY"


def _not_a_setting(name: str, settings: list[str]) -> None:
    """A variable that looks like no setting: logged (never its value, which may be secret)."""
    by_key = {setting.removeprefix(ENV_PREFIX).lower(): setting for setting in settings}
    key = name.removeprefix(ENV_PREFIX).lower()
    close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.8)
    if close:
        _warn_once(name, by_key[close[0]])
    else:
        log.debug("%s is not a langstar setting (no SECTION__KEY); ignored", name)


@functools.cache
def _warn_once(name: str, meant: str) -> None:
    """Once per process, however many times the settings are loaded."""
    log.warning("%s is not a langstar setting and is ignored; did you mean %s?", name, meant)


def _named_variables(data: dict[str, Any]) -> set[str]:
    """The environment variables that settings ending in `_env` name."""
    defaults = Settings()
    named = set()
    for section, is_section in _section_fields().items():
        if not is_section:
            continue
        found = data.get(section)
        given: dict[str, Any] = found if isinstance(found, dict) else {}
        for field in getattr(defaults, section).__struct_fields__:
            if field.endswith("_env"):
                named.add(str(given.get(field, getattr(getattr(defaults, section), field))))
    return named


def _section_fields() -> dict[str, bool]:
    defaults = Settings()
    return {
        name: isinstance(getattr(defaults, name), _Section) for name in defaults.__struct_fields__
    }


_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")


def _convert(data: dict[str, Any]) -> Settings:
    try:
        return msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        match = _PATH.match(str(exc))
        assert match is not None
        message, at = match["msg"], (match["path"] or "").lstrip(".")
        unknown = re.match(r"Object contains unknown field `(.+)`", message)
        if unknown:
            key = f"{at}.{unknown[1]}" if at else unknown[1]
            raise SettingsError(key, "unknown key") from None
        raise SettingsError(re.sub(r"\[(\w+)\]", r".\1", at) or "settings", message) from None


def _check_webhooks(webhooks: WebhookSettings) -> None:
    if webhooks.secret:
        key = webhooks.secret.removeprefix("whsec_")
        try:
            decoded = base64.b64decode(key + "==", validate=True)
        except ValueError:
            decoded = b""
        if not decoded:
            raise SettingsError(
                "webhooks.secret", "expected 'whsec_' and base64, as Standard Webhooks secrets are"
            )
    if webhooks.retry_min_seconds > webhooks.retry_max_seconds:
        raise SettingsError("webhooks.retry_min_seconds", "is larger than retry_max_seconds")


def _check(settings: Settings) -> None:
    if settings.database.url:
        check_database_url(settings.database.url)
    if settings.database.direct_url:
        check_database_url(settings.database.direct_url, "database.direct_url")
    if settings.database.pool_min_size > settings.database.pool_max_size:
        raise SettingsError("database.pool_min_size", "is larger than database.pool_max_size")
    if settings.runs.recursion_limit > settings.runs.max_recursion_limit:
        raise SettingsError("runs.recursion_limit", "is larger than runs.max_recursion_limit")
    if settings.model.provider == "openai" and not settings.model.model:
        raise SettingsError("model.model", "is required when model.provider is 'openai'")
    if settings.auth.mode == "custom" and ":" not in settings.auth.provider:
        raise SettingsError(
            "auth.provider", "mode 'custom' needs 'module:attr' naming a Dishka provider"
        )
    prefix = settings.http.mount_prefix
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise SettingsError("http.mount_prefix", "must start with '/' and not end with one")
    if settings.http.cors_allow_credentials and "*" in settings.http.cors_allow_origins:
        raise SettingsError(
            "http.cors_allow_credentials",
            "browsers refuse credentials for any origin: list the origins in "
            "http.cors_allow_origins",
        )
    _check_webhooks(settings.webhooks)
    if not settings.auth.jwt_user_claim:
        raise SettingsError("auth.jwt_user_claim", "must name a claim")
    for name, spec in settings.graphs.items():
        if ":" not in spec:
            raise SettingsError(
                f"graphs.{name}", f"expected 'module:attr' or 'file.py:attr', got {spec!r}"
            )


def check_database_url(url: str, key: str = "database.url") -> None:
    """Refuse anything but a plain libpq URL, naming what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SettingsError(key, f"malformed URL ({exc})") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise SettingsError(key, "expected a postgresql://user:password@host:port/db URL")
    if port is not None and not 1 <= port <= 65535:
        raise SettingsError(key, f"port {port} out of range")
    if not parts.hostname and "host=" not in parts.query:
        raise SettingsError(key, "no host in URL")
    if not parts.path.strip("/"):
        raise SettingsError(key, "no database name in URL")
