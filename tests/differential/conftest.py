"""Both servers on one project: `langgraph dev` as the reference, and langstar."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.differential.graphs import GRAPHS
from tests.support.langgraph_dev import langgraph_dev
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def differential_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("differential")
    shutil.copy(HERE / "graphs.py", folder / "graphs.py")
    config = {"dependencies": ["."], "graphs": {name: f"./graphs.py:{name}" for name in GRAPHS}}
    (folder / "langgraph.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="session")
def reference_url(differential_project: Path) -> Iterator[str]:
    """`langgraph dev`: LangGraph's own in-memory Agent Server."""
    with langgraph_dev(differential_project) as url:
        yield url


@pytest.fixture(scope="session")
def langstar_url(postgres: PostgresForTests, differential_project: Path) -> Iterator[str]:
    with postgres.migrated("differential") as url:
        server = ServerProcess(
            {"DATABASE_URL": url},
            differential_project,
            "--langgraph-json",
            str(differential_project / "langgraph.json"),
        ).start()
        try:
            yield server.url
        finally:
            server.stop()
