"""Verified TLS to PostgreSQL, and its password from a file rather than the environment.

The server here is one of its own (`tests/support/tls_postgres.py`): TCP only over TLS
with a certificate from a CA the test makes, and a password required.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.server import ServerProcess
from tests.support.settings import settings_for
from tests.support.tls_postgres import ROLE, TlsPostgres, openssl_bindir, start_tls_postgres


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[TlsPostgres]:
    bindir = openssl_bindir()
    if bindir is None:
        pytest.skip("needs a PostgreSQL built with OpenSSL (Debian's postgresql package)")
    server = start_tls_postgres(bindir)
    yield server
    server.stop()


def langstar(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # DATABASE_URL is cleared: the URL comes from where each test says.
    full_env = {**os.environ, "DATABASE_URL": "", "LANGSTAR_AUTH__MODE": "none", **env}
    return subprocess.run(
        [sys.executable, "-m", "langstar", *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def secret_file(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)  # libpq ignores a passfile that others can read
    return path


def say(text: str) -> dict[str, object]:
    return {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}}


def test_migrates_and_serves_over_verified_tls_with_the_url_from_a_file(
    tls_postgres: TlsPostgres, tmp_path: Path
) -> None:
    url = tls_postgres.url(tls_postgres.create_database())
    env = {
        "LANGSTAR_DATABASE__URL_FILE": str(secret_file(tmp_path / "url", url + "\n")),
        "LANGSTAR_LOG_LEVEL": "debug",
    }
    upgrade = langstar(tmp_path, env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    server = ServerProcess(env, tmp_path).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            thread = client.post("/threads", json={}).json()["thread_id"]
            answer = client.post(f"/threads/{thread}/runs/wait", json=say("over tls"))
            assert answer.status_code == 200, answer.text
            assert "over tls" in answer.json()["messages"][-1]["content"]
        # Every connection the server holds is encrypted and named.
        with psycopg.connect(tls_postgres.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
                " WHERE a.usename = %s AND a.application_name = 'langstar'",
                (ROLE,),
            ).fetchall()
        assert rows
        assert all(ssl for (ssl,) in rows)
    finally:
        server.stop()
    output = upgrade.stdout + upgrade.stderr + server.read_log()
    assert tls_postgres.password not in output
    assert "serving PostgreSQL at" in server.read_log()  # the URL is logged, redacted


def test_a_server_certificate_from_another_ca_is_refused_at_start(
    tls_postgres: TlsPostgres, tmp_path: Path
) -> None:
    database = tls_postgres.create_database()
    url = tls_postgres.url(database, sslrootcert=str(tls_postgres.wrong_ca_file))
    for command in (["serve", "--port", "1"], ["db", "upgrade"]):
        result = langstar(tmp_path, {"DATABASE_URL": url}, *command)
        assert result.returncode == 1, (command, result.stderr)
        assert "certificate verify failed" in result.stderr
        assert "TLS" in result.stderr
        assert "Traceback" not in result.stderr
        assert tls_postgres.password not in result.stderr
        assert f"{ROLE}:***@127.0.0.1" in result.stderr  # which database, without the secret


async def test_the_password_can_come_from_a_libpq_passfile(
    tls_postgres: TlsPostgres, tmp_path: Path, make_app: MakeApp
) -> None:
    database = tls_postgres.create_database()
    line = f"127.0.0.1:{tls_postgres.port}:{database}:{ROLE}:{tls_postgres.password}\n"
    passfile = secret_file(tmp_path / "pgpass", line)
    url = tls_postgres.url(database, password=False, passfile=str(passfile))
    upgrade = langstar(tmp_path, {"DATABASE_URL": url}, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    async with asgi_client(make_app(settings_for(url, tmp_path))) as client:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        answer = await client.post(f"/threads/{thread}/runs/wait", json=say("from a passfile"))
        assert answer.status_code == 200, answer.text
    # Without the file the same URL is refused: the password did come from it.
    passfile.unlink()
    refused = langstar(tmp_path, {"DATABASE_URL": url}, "db", "current")
    assert refused.returncode == 1
    assert "password" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("make_file", "problem"),
    [
        (lambda path: path, "cannot read"),  # missing
        (lambda path: path.mkdir() or path, "cannot read"),  # a directory
        (lambda path: secret_file(path, "\n"), "is empty"),
        (lambda path: secret_file(path, "mysql://u:hunter2@h/db"), "expected a postgresql://"),
    ],
)
def test_an_unusable_url_file_stops_start_naming_it(
    tmp_path: Path, make_file: object, problem: str
) -> None:
    path = make_file(tmp_path / "url")  # type: ignore[operator]
    result = langstar(tmp_path, {"LANGSTAR_DATABASE__URL_FILE": str(path)}, "serve", "--port", "1")
    assert result.returncode == 2
    assert "database.url_file" in result.stderr
    assert problem in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_url_file_and_a_url_together_are_refused(tmp_path: Path) -> None:
    path = secret_file(tmp_path / "url", "postgresql://u:p@localhost/db")
    env = {"LANGSTAR_DATABASE__URL_FILE": str(path), "DATABASE_URL": "postgresql://x@y/z"}
    result = langstar(tmp_path, env, "serve", "--port", "1")
    assert result.returncode == 2
    assert "database.url_file: set it or database.url" in result.stderr
