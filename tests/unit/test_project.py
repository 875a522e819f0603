"""Every key of a langgraph.json is applied, named as ignored, or refused naming it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from langstar.project import IGNORED, REFUSED, ProjectError, apply_project
from langstar.settings import Settings


def langstar_in(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """`langstar <command> --langgraph-json langgraph.json` run in `project`, with nothing
    of this process's environment but PATH."""
    return subprocess.run(
        [sys.executable, "-m", "langstar", *command, "--langgraph-json", "langgraph.json"],
        env={"PATH": os.environ["PATH"], "LANGSTAR_DATA_DIR": str(project / "data")},
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def served(tmp_path: Path, **keys: Any) -> Settings:
    config = {"graphs": {"agent": "langstar.agents.chat:graph"}, **keys}
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    return apply_project(Settings(graphs_from=str(tmp_path / "langgraph.json")))


def test_build_only_keys_are_named_in_the_log_and_change_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="langstar.project"):
        settings = served(
            tmp_path, python_version="3.12", dockerfile_lines=["RUN true"], image_distro="wolfi"
        )
    assert settings == Settings(graphs_from=settings.graphs_from)
    for key in ("python_version", "dockerfile_lines", "image_distro"):
        assert any(key in record.getMessage() for record in caplog.records), key


def test_keys_langstar_cannot_honour_yet_are_named_as_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="langstar.project"):
        served(tmp_path, ui={"agent": "./ui.tsx"}, shiny_new_key=1)
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "ui ignored" in logged
    assert "unknown key 'shiny_new_key'" in logged


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ({"auth": {"path": "no_colon_here"}}, "langgraph.json auth.path"),
        ({"auth": {"path": "./auth.py:auth", "strict": True}}, "langgraph.json auth.strict"),
        ({"encryption": {"path": "./enc.py:enc"}}, "langgraph.json encryption"),
        ({"http": {"app": "no_colon"}}, "langgraph.json http.app"),
        ({"http": {"disable_runs": "yes"}}, "langgraph.json http.disable_runs"),
        ({"store": {"index": {"dims": 8, "embed": "cohere:embed-v3"}}}, "store.index.embed"),
        ({"store": {"index": {"dims": 0, "embed": "./e.py:embed"}}}, "store.index.dims"),
        ({"http": {"mount_prefix": "api/"}}, "langgraph.json http.mount_prefix"),
        ({"webhooks": {"headers": {"x-k": "v"}}}, "langgraph.json webhooks.headers"),
        ({"webhooks": {"url": {"allowed_ports": [443]}}}, "webhooks.url.allowed_ports"),
        ({"http": {"logging_headers": {"include": "x-*"}}}, "http.logging_headers.include"),
        ({"http": {"middleware_order": "last"}}, "langgraph.json http.middleware_order"),
        ({"http": {"surprise": True}}, "langgraph.json http.surprise"),
        ({"http": {"cors": {"allow_everything": True}}}, "http.cors.allow_everything"),
        ({"checkpointer": {"ttl": {"strategy": "archive"}}}, "langgraph.json checkpointer.ttl"),
        ({"checkpointer": {"ttl": {"forever": True}}}, "checkpointer.ttl.forever"),
        ({"checkpointer": {"backend": "mongo"}}, "langgraph.json checkpointer.backend"),
        ({"checkpointer": {"serde": {"pickle_fallback": "yes"}}}, "pickle_fallback"),
        ({"checkpointer": {"serde": {"allowed_modules": ["app"]}}}, "serde.allowed_modules"),
        ({"checkpointer": {"serde": {"allowed_json_modules": "app"}}}, "allowed_json_modules"),
        ({"store": {"path": 42}}, "langgraph.json store.path"),
        ({"checkpointer": {"path": "no_colon"}}, "langgraph.json checkpointer.path"),
        ({"checkpointer": {"backend": "custom"}}, "langgraph.json checkpointer.path"),
        ({"checkpointer": {"backend": "default", "path": "./s.py:s"}}, "checkpointer.backend"),
    ],
)
def test_a_security_or_data_key_that_cannot_be_honoured_stops_start_up(
    tmp_path: Path, keys: dict[str, Any], named: str
) -> None:
    with pytest.raises(ProjectError, match=named):
        served(tmp_path, **keys)


def test_http_cors_replaces_the_default_policy(tmp_path: Path) -> None:
    http = served(
        tmp_path, http={"cors": {"allow_origins": ["https://ui.example.com"], "max_age": 60}}
    ).http
    assert http.cors_allow_origins == ["https://ui.example.com"]
    assert http.cors_max_age == 60
    assert http.cors_expose_headers == []  # the project's policy, not langstar's default
    assert served(tmp_path, http={"disable_a2a": True}).http.disable_a2a is True
    assert served(tmp_path, http={"disable_mcp": True}).http.disable_mcp is True


def test_store_ttl_and_serde_become_settings(tmp_path: Path) -> None:
    settings = served(
        tmp_path,
        store={"ttl": {"default_ttl": 90, "refresh_on_read": False, "sweep_interval_minutes": 5}},
        checkpointer={"serde": {"allowed_msgpack_modules": [["my_app.state", "Note"]]}},
    )
    assert settings.store.ttl_default_minutes == 90
    assert settings.store.ttl_refresh_on_read is False
    assert settings.store.ttl_sweep_interval_minutes == 5
    assert settings.database.checkpoint_allowed_types == ["my_app.state.Note"]
    assert settings.database.strict_checkpoint_types is True
    assert settings.database.checkpoint_pickle_fallback is True  # as on LangGraph's server


def test_pickle_fallback_says_whether_pickled_checkpoint_values_are_read_back(
    tmp_path: Path,
) -> None:
    on = served(tmp_path, checkpointer={"serde": {"pickle_fallback": True}})
    assert on.database.checkpoint_pickle_fallback is True
    off = served(tmp_path, checkpointer={"serde": {"pickle_fallback": False}})
    assert off.database.checkpoint_pickle_fallback is False


def test_auth_path_serves_the_projects_own_auth_unless_a_setting_says_otherwise(
    tmp_path: Path,
) -> None:
    auth = served(tmp_path, auth={"path": "./auth.py:auth"}).auth
    assert (auth.mode, auth.project_auth) == ("project", f"{tmp_path / 'auth.py'}:auth")
    (tmp_path / "langgraph.json").write_text(
        json.dumps({"graphs": {}, "auth": {"path": "./auth.py:auth"}})
    )
    explicit = Settings(graphs_from=str(tmp_path / "langgraph.json"))
    explicit = msgspec.structs.replace(
        explicit, auth=msgspec.structs.replace(explicit.auth, mode="api_key")
    )
    with pytest.raises(ProjectError, match=r"auth\.mode: is 'api_key', but langgraph\.json"):
        apply_project(explicit)


def test_http_app_switches_and_store_index_become_settings(tmp_path: Path) -> None:
    settings = served(
        tmp_path,
        http={"app": "./app.py:app", "enable_custom_route_auth": True, "disable_store": True},
        store={"index": {"dims": 26, "embed": "./embed.py:embed", "fields": ["text"]}},
    )
    assert settings.http.app == f"{tmp_path / 'app.py'}:app"
    assert (settings.http.enable_custom_route_auth, settings.http.disable_store) == (True, True)
    assert settings.store.embedding_dims == 26
    assert settings.store.embedding_function == f"{tmp_path / 'embed.py'}:embed"
    assert settings.store.embedding_fields == ["text"]
    openai = served(
        tmp_path, store={"index": {"dims": 3, "embed": "openai:text-embedding-3-large"}}
    )
    assert (openai.store.embedding_model, openai.store.embedding_function) == (
        "text-embedding-3-large",
        "",
    )


def test_checkpointer_ttl_becomes_the_thread_expiry_settings(tmp_path: Path) -> None:
    threads = served(
        tmp_path,
        checkpointer={"ttl": {"strategy": "keep_latest", "default_ttl": 1440,
                              "sweep_interval_minutes": 10, "sweep_limit": 50}},
    ).threads  # fmt: skip
    assert (threads.ttl_strategy, threads.ttl_default_minutes) == ("keep_latest", 1440)
    assert (threads.ttl_sweep_interval_minutes, threads.ttl_sweep_limit) == (10, 50)


def test_configurable_headers_become_the_http_patterns(tmp_path: Path) -> None:
    http = served(
        tmp_path, http={"configurable_headers": {"includes": ["x-*"], "excludes": ["x-secret"]}}
    ).http
    assert http.configurable_headers_include == ["x-*"]
    assert http.configurable_headers_exclude == ["x-secret"]


def test_checkpointer_and_store_paths_name_the_projects_own_from_its_folder(
    tmp_path: Path,
) -> None:
    settings = served(
        tmp_path,
        checkpointer={"path": "./checkpointer.py:saver"},
        store={"path": "my_app.memory:store", "index": {"dims": 8, "embed": "./e.py:embed"}},
    )
    assert settings.database.checkpointer == f"{tmp_path / 'checkpointer.py'}:saver"
    assert settings.store.path == "my_app.memory:store"
    assert settings.store.embedding_dims == 0  # the project's store has its own index
    custom = served(tmp_path, checkpointer={"backend": "custom", "path": "./saver.py:make"})
    assert custom.database.checkpointer == f"{tmp_path / 'saver.py'}:make"


def test_logging_headers_become_the_http_patterns(tmp_path: Path) -> None:
    http = served(
        tmp_path, http={"logging_headers": {"includes": ["x-trace-*"], "excludes": ["x-trace-key"]}}
    ).http
    assert http.logging_headers_include == ["x-trace-*"]
    assert http.logging_headers_exclude == ["x-trace-key"]


def test_middleware_order_becomes_the_http_setting(tmp_path: Path) -> None:
    http = served(tmp_path, http={"app": "./app.py:app", "middleware_order": "auth_first"}).http
    assert http.middleware_order == "auth_first"
    explicit = served(tmp_path, http={"middleware_order": "middleware_first"}).http
    assert explicit.middleware_order == "middleware_first"
    assert served(tmp_path, http={"app": "./app.py:app"}).http.middleware_order == (
        "middleware_first"
    )


def test_applying_a_project_twice_changes_nothing_more(tmp_path: Path) -> None:
    once = served(
        tmp_path,
        auth={"path": "./auth.py:auth"},
        http={"cors": {"allow_origins": ["https://ui.example.com"]}},
        checkpointer={"serde": {"allowed_msgpack_modules": [["my_app.state", "Note"]]}},
    )
    assert apply_project(once) == once


def test_a_projects_webhook_url_policy_becomes_the_webhook_settings(tmp_path: Path) -> None:
    url = {"require_https": True, "allowed_domains": ["*.example.com"], "disable_loopback": False}
    settings = served(tmp_path, webhooks={"url": url}, http={"disable_webhooks": True})
    assert settings.webhooks.require_https is True
    assert settings.webhooks.allowed_domains == ["*.example.com"]
    assert settings.webhooks.allow_private is True
    assert settings.http.disable_webhooks is True
    assert served(tmp_path, webhooks={"url": {}}).webhooks.allow_private is False


@pytest.fixture
def environ() -> Iterator[None]:
    """The process's environment as it was, after a test that loads a project's env."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.usefixtures("environ")
def test_a_projects_env_file_is_read_from_beside_langgraph_json_and_never_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("PROJECT_ENV_ONLY=from-file\nPROJECT_ENV_BOTH=from-file\n")
    monkeypatch.chdir(tmp_path)  # the file is found from langgraph.json, not from here
    os.environ.pop("PROJECT_ENV_ONLY", None)
    os.environ["PROJECT_ENV_BOTH"] = "from-the-environment"
    served(project, env=".env")
    assert os.environ["PROJECT_ENV_ONLY"] == "from-file"
    assert os.environ["PROJECT_ENV_BOTH"] == "from-the-environment"


@pytest.mark.usefixtures("environ")
def test_a_projects_env_table_is_set_the_same_way(tmp_path: Path) -> None:
    os.environ.pop("PROJECT_ENV_ONLY", None)
    os.environ["PROJECT_ENV_BOTH"] = "from-the-environment"
    table = {"PROJECT_ENV_ONLY": "from-table", "PROJECT_ENV_BOTH": "from-table", "N": 3}
    served(tmp_path, env=table)
    assert os.environ["PROJECT_ENV_ONLY"] == "from-table"
    assert os.environ["PROJECT_ENV_BOTH"] == "from-the-environment"
    assert os.environ["N"] == "3"


def test_an_env_that_is_neither_a_file_nor_a_table_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"langgraph\.json env"):
        served(tmp_path, env=["OPENAI_API_KEY=sk-1"])


def test_a_missing_env_file_is_named_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="langstar.project"):
        served(tmp_path, env=".env.local")
    assert f"{tmp_path / '.env.local'} not found" in caplog.text


def test_langstar_settings_in_a_projects_env_file_apply_but_its_database_url_does_not(
    tmp_path: Path,
) -> None:
    # The project's DATABASE_URL is its tools' database, never langstar's own.
    (tmp_path / ".env").write_text(
        "DATABASE_URL=mysql://tools@db.internal/tools\n"
        "LANGSTAR_DATABASE__POOL_MIN_SIZE=5\nLANGSTAR_DATABASE__POOL_MAX_SIZE=2\n"
    )
    (tmp_path / "langgraph.json").write_text(
        json.dumps({"graphs": {"agent": "langstar.agents.chat:graph"}, "env": ".env"})
    )
    result = langstar_in(tmp_path, "db", "check")
    assert result.returncode == 2, result.stderr
    assert "database.pool_min_size: is larger than" in result.stderr


# A langgraph.json fragment for each key `REFUSED` lists (the values concerned, in
# parentheses there, left out here), and the key its error then names.
REFUSED_SAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "graphs.<name>": ({"graphs": {"agent": "./src/graph.ts:graph"}}, "graphs.agent"),
    "auth.path": ({"auth": {"path": "./src/auth.mts:auth"}}, "auth.path"),
    "http.app": ({"http": {"app": "./app.js:app"}}, "http.app"),
    "checkpointer.backend": ({"checkpointer": {"backend": "mongo"}}, "checkpointer.backend"),
    "store.index.embed": (
        {"store": {"index": {"dims": 8, "embed": "cohere:embed-v3"}}},
        "store.index.embed",
    ),
    "webhooks.headers": ({"webhooks": {"headers": {"x-key": "v"}}}, "webhooks.headers"),
    "webhooks.env_prefix": ({"webhooks": {"env_prefix": "HOOK_"}}, "webhooks.env_prefix"),
    "webhooks.allowed_fields": (
        {"webhooks": {"allowed_fields": ["run_id"]}},
        "webhooks.allowed_fields",
    ),
    "webhooks.url.allowed_ports": (
        {"webhooks": {"url": {"allowed_ports": [443]}}},
        "webhooks.url.allowed_ports",
    ),
    "webhooks.url.max_url_length": (
        {"webhooks": {"url": {"max_url_length": 512}}},
        "webhooks.url.max_url_length",
    ),
    "encryption.path (a JavaScript or TypeScript file)": (
        {"encryption": {"path": "./enc.ts:enc"}},
        "encryption.path",
    ),
    "encryption.path (an Encryption with JSON handlers)": (
        {"encryption": {"path": "tests.support.projects.encrypted.encryption:with_json"}},
        "encryption.path",
    ),
    "encryption.path (with checkpointer.path)": (
        {"checkpointer": {"path": "./saver.py:make"}, "encryption": {"path": "./enc.py:enc"}},
        "encryption.path",
    ),
}


def sample(form: str) -> tuple[dict[str, Any], str]:
    """The sample for the form, or (when a key has one form only) for its key."""
    return REFUSED_SAMPLES.get(form) or REFUSED_SAMPLES[form.partition(" (")[0]]


def test_every_refused_form_has_a_sample_here() -> None:
    assert [form for form in REFUSED if form not in REFUSED_SAMPLES
            and form.partition(" (")[0] not in REFUSED_SAMPLES] == []  # fmt: skip


@pytest.mark.parametrize("form", sorted(REFUSED))
def test_a_refused_key_stops_start_up_with_one_line_naming_it_and_why(
    tmp_path: Path, form: str
) -> None:
    keys, named = sample(form)
    config = {"graphs": {"agent": "langstar.agents.chat:graph"}, **keys}
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    with pytest.raises(ProjectError) as refused:
        apply_project(Settings(graphs_from=str(tmp_path / "langgraph.json")))
    line = str(refused.value)
    assert line.startswith(f"langgraph.json {named}: "), line
    assert line.endswith(REFUSED[form]), line
    assert "\n" not in line


def test_a_javascript_graph_stops_start_up_before_anything_else_is_applied(
    tmp_path: Path,
) -> None:
    # As LangGraph's JS templates write it: node_version, and a TypeScript graph.
    with pytest.raises(ProjectError, match=r"^langgraph\.json graphs\.agent: "):
        served(tmp_path, node_version="20", graphs={"agent": {"path": "./src/agent.mts:graph"}},
               encryption={"path": "./enc.ts:enc"})  # fmt: skip


def test_keys_that_only_widen_a_way_in_langstar_lacks_are_ignored_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="langstar.project"):
        auth = served(
            tmp_path, auth={"path": "./auth.py:auth", "allow_langsmith_api_keys": True}
        ).auth
    assert auth.mode == "project"
    assert "auth.allow_langsmith_api_keys ignored" in caplog.text
    assert "auth.allow_langsmith_api_keys" in IGNORED
    assert {"python_version", "node_version", "ui", "priority", "auth.cache"} <= set(IGNORED)


def test_langstar_serve_refuses_a_javascript_project_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "graph.ts").write_text("export const graph = builder.compile();\n")
    config = {"node_version": "20", "graphs": {"agent": "./src/graph.ts:graph"}}
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    result = langstar_in(tmp_path, "serve")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("langstar: configuration error: langgraph.json graphs.agent: "), last
