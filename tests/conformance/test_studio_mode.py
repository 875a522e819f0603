"""Studio mode on a real server, beside `langgraph dev` serving the same project: from this
machine, Studio's `x-auth-scheme: langsmith` makes the caller LangGraph's `StudioUser` on
both, and the project's Studio branches run alike; langstar without the mode, and both
with the project's `disable_studio_auth`, leave it to the project's auth (401); from
another address of this machine, langstar refuses it."""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.langgraph_dev import langgraph_dev
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "studio"
STUDIO = {"x-auth-scheme": "langsmith"}


@pytest.fixture(scope="module")
def database(postgres: PostgresForTests) -> Iterator[str]:
    with postgres.migrated("studio") as url:
        yield url


def project(folder: Path, **auth: Any) -> Path:
    """The studio project copied to `folder`, its langgraph.json's `auth` given `auth` too."""
    shutil.copytree(PROJECT, folder)
    config = json.loads((folder / "langgraph.json").read_text())
    config["auth"].update(auth)
    (folder / "langgraph.json").write_text(json.dumps(config))
    return folder


@contextmanager
def langstar(database: str, folder: Path, studio_mode: bool) -> Iterator[ServerProcess]:
    env = {
        "DATABASE_URL": database,
        "LANGSTAR_AUTH__MODE": "",  # the project's auth.path turns authentication on
        "LANGSTAR_SERVER__HOST": "0.0.0.0",  # to be called from another address too
        **({"LANGSTAR_AUTH__STUDIO_MODE": "true"} if studio_mode else {}),
    }
    server = ServerProcess(env, folder, "--langgraph-json", str(folder / "langgraph.json"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def what_studio_is_shown(url: str) -> tuple[dict[str, Any], str]:
    """The metadata the project's handlers stamp on Studio's thread, and what its graph
    answers Studio."""
    studio = get_client(url=url, headers=STUDIO)
    thread = await studio.threads.create(metadata={"title": "t"})
    said = {"messages": [{"role": "user", "content": "hi"}]}
    answer = await studio.runs.wait(thread["thread_id"], "echo", input=said)
    assert isinstance(answer, dict)
    return thread["metadata"], answer["messages"][-1]["content"]


def refused(url: str, **headers: str) -> tuple[int, str]:
    answer = httpx.post(url + "/threads", json={}, headers={**STUDIO, **headers}, timeout=30)
    return answer.status_code, answer.json().get("detail", "")


def another_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # nothing is sent: this only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


async def test_studio_mode_lets_studio_in_from_this_machine_as_langgraph_dev_does(
    database: str, tmp_path: Path
) -> None:
    folder = project(tmp_path / "studio")
    with langstar(database, folder, studio_mode=True) as server, langgraph_dev(folder) as dev:
        shown = {name: await what_studio_is_shown(url) for name, url in
                 (("langstar", server.url), ("langgraph dev", dev))}  # fmt: skip
    expected = (
        {"title": "t", "made_in": "studio, as langgraph-studio-user"},
        "langgraph-studio-user (langgraph-studio-user) said: hi",
    )
    assert shown == {"langstar": expected, "langgraph dev": expected}


async def test_without_studio_mode_or_with_disable_studio_auth_the_projects_auth_decides(
    database: str, tmp_path: Path
) -> None:
    with langstar(database, project(tmp_path / "off"), studio_mode=False) as server:
        assert refused(server.url) == (401, "Invalid or missing token")
    folder = project(tmp_path / "disabled", disable_studio_auth=True)
    with langstar(database, folder, studio_mode=True) as server, langgraph_dev(folder) as dev:
        assert refused(server.url) == (401, "Invalid or missing token")
        assert refused(dev) == (401, "Invalid or missing token")


def test_in_studio_mode_the_header_from_another_address_of_this_machine_is_refused(
    database: str, tmp_path: Path
) -> None:
    address = another_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    with langstar(database, project(tmp_path / "studio"), studio_mode=True) as server:
        there = server.url.replace("127.0.0.1", address)
        for headers in ({}, {"x-forwarded-for": "127.0.0.1"}):
            status, detail = refused(there, **headers)
            assert (status, "only from this machine" in detail) == (401, True), headers
        assert refused(server.url)[0] == 200  # the same request, from this machine
