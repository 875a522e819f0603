"""Settings: defaults, the TOML file, the environment, and one clear line for bad values."""

from __future__ import annotations

import logging
import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
import pytest

from langstar.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_config_file_lists_exactly_the_defaults() -> None:
    shipped = tomllib.loads((ROOT / "config" / "langstar.toml").read_text())
    assert msgspec.convert(shipped, Settings) == Settings()
    assert msgspec.to_builtins(Settings()) == shipped


def test_every_key_in_the_config_file_is_commented() -> None:
    lines = (ROOT / "config" / "langstar.toml").read_text().splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert lines[number - 1].startswith("#"), f"no comment above: {line}"


def test_environment_overrides_sections_and_top_level_keys(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        env={
            "LANGSTAR_SERVER__PORT": "9000",
            "LANGSTAR_DATA_DIR": "/srv/langstar",
            "LANGSTAR_RUNS__CONFIGURABLE_KEYS": '["user_id", "model"]',
            "LANGSTAR_GRAPHS__OTHER": "pkg.mod:graph",
            "DATABASE_URL": "postgresql://u:p@db.internal:6432/app",
            "UNRELATED": "x",
        },
    )
    assert settings.server.port == 9000
    assert settings.data_dir == "/srv/langstar"
    assert settings.runs.configurable_keys == ["user_id", "model"]
    assert settings.graphs["other"] == "pkg.mod:graph"
    assert settings.database.url == "postgresql://u:p@db.internal:6432/app"
    assert not settings.uses_embedded_database


def test_langstar_config_names_another_file(tmp_path: Path) -> None:
    path = tmp_path / "prod.toml"
    path.write_text('log_level = "warning"\n[server]\nport = 9100\n')
    settings = load_settings(env={"LANGSTAR_CONFIG": str(path), "LANGSTAR_SERVER__PORT": "9200"})
    assert settings.log_level == "warning"
    assert settings.server.port == 9200  # the environment wins over the file


BUILT_IN = "langstar.agents.chat:graph"


def test_a_graph_from_the_environment_is_served_beside_the_built_in_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a project's folder: no config/langstar.toml
    settings = load_settings(env={"LANGSTAR_GRAPHS__ECHO": "./echo.py:graph"})
    assert settings.graphs == {"agent": BUILT_IN, "echo": "./echo.py:graph"}


def test_graphs_in_a_settings_file_are_served_beside_the_built_in_agent(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[graphs]\necho = "./echo.py:graph"\n')
    settings = load_settings(env={"LANGSTAR_CONFIG": str(path)})
    assert settings.graphs == {"agent": BUILT_IN, "echo": "./echo.py:graph"}


def test_an_empty_graph_spec_leaves_that_graph_out_the_built_in_agent_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        env={"LANGSTAR_GRAPHS__AGENT": "", "LANGSTAR_GRAPHS__ECHO": "./echo.py:graph"}
    )
    assert settings.graphs == {"echo": "./echo.py:graph"}
    path = tmp_path / "mine.toml"
    path.write_text('[graphs]\nagent = ""\necho = "./echo.py:graph"\n')
    assert load_settings(env={"LANGSTAR_CONFIG": str(path)}).graphs == {"echo": "./echo.py:graph"}


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.server.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "key", "problem"),
    [
        ({"LANGSTAR_SERVER__PORT": "70000"}, "server.port", "<= 65535"),
        ({"LANGSTAR_SERVER__PORT": "eighty"}, "server.port", "Expected `int`"),
        ({"LANGSTAR_SERVER__BOGUS": "1"}, "server.bogus", "unknown key"),
        ({"LANGSTAR_A__B__C": "1"}, "LANGSTAR_A__B__C", "unknown setting"),
        ({"LANGSTAR_SERVR__PORT": "1"}, "LANGSTAR_SERVR__PORT", "did you mean 'server'"),
        ({"LANGSTAR_SERVER__PROT": "1"}, "server.prot", "unknown key"),
        ({"LANGSTAR_MODEL__PROVIDER": "magic"}, "model.provider", "Invalid enum value"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "database.url", "postgresql://"),
        ({"DATABASE_URL": "postgresql://u@h:99999/db"}, "database.url", "ort"),
        ({"DATABASE_URL": "postgresql://u@h:5432"}, "database.url", "no database name"),
        ({"LANGSTAR_GRAPHS__X": "no_colon"}, "graphs.x", "module:attr"),
        ({"LANGSTAR_DATABASE__DIRECT_URL": "pgbouncer:6432"}, "database.direct_url", "postgresql"),
        ({"LANGSTAR_DATABASE__POOLER": "statement"}, "database.pooler", "Invalid enum value"),
        ({"LANGSTAR_DATABASE__PREPARED_STATEMENTS": "yes"}, "database.prepared_statements", "enum"),
        ({"LANGSTAR_DATABASE__POLL_SECONDS": "0"}, "database.poll_seconds", ">= 0.1"),
        ({"LANGSTAR_RUNS__RECURSION_LIMIT": "500"}, "runs.recursion_limit", "max_recursion"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], key: str, problem: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env=env)
    assert raised.value.key == key
    assert problem in raised.value.problem


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="file not found"):
        load_settings(env={"LANGSTAR_CONFIG": str(tmp_path / "absent.toml")})


def test_cli_stops_with_exit_code_2_and_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "langstar", "serve"],
        env={"LANGSTAR_SERVER__PORT": "70000", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "server.port" in lines[0]


def test_cli_port_flag_is_checked_too(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "langstar", "serve", "--port", "0"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "server.port" in result.stderr


def test_a_variable_a_setting_names_is_that_settings_value_not_a_setting() -> None:
    secret = {"LANGSTAR_JWT_SECRET": "s" * 40}
    assert load_settings(env={**secret, "LANGSTAR_AUTH__MODE": "jwt"}).auth.mode == "jwt"
    renamed = {"LANGSTAR_MY_KEY": "k", "LANGSTAR_MODEL__API_KEY_ENV": "LANGSTAR_MY_KEY"}
    assert load_settings(env=renamed).model.api_key_env == "LANGSTAR_MY_KEY"


def test_a_langstar_variable_without_a_section_separator_that_names_no_setting_is_ignored() -> None:
    # Other tools name their own variables so (LANGSTAR_DIR, LANGSTAR_HOME); they are not ours.
    env = {
        "LANGSTAR_DIR": "/opt/langstar",
        "LANGSTAR_HOME": "/home/me",
        "LANGSTAR_LOG_LEVEL": "debug",
    }
    assert load_settings(env=env) == Settings(log_level="debug")


def test_an_ignored_variable_close_to_a_settings_name_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="langstar.settings"):
        assert load_settings(env={"LANGSTAR_LOG_LEVL": "debug"}) == Settings()
        load_settings(env={"LANGSTAR_JWT_SECRT": "s" * 40})
    assert "LANGSTAR_LOG_LEVL" in caplog.text
    assert "did you mean LANGSTAR_LOG_LEVEL?" in caplog.text
    assert "did you mean LANGSTAR_JWT_SECRET?" in caplog.text
    assert "s" * 40 not in caplog.text  # a variable's value may be a secret


def test_the_database_url_can_be_read_from_a_file(tmp_path: Path) -> None:
    url = "postgresql://app:s3cret@db.example.com:5432/langstar?sslmode=verify-full"
    (tmp_path / "url").write_text(url + "\n")
    env = {"LANGSTAR_DATABASE__URL_FILE": str(tmp_path / "url")}
    settings = load_settings(None, env)
    assert settings.database.url == url
    assert not settings.uses_embedded_database
