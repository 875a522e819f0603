"""A short soak in every test run (the long one is `uv run python -m tests.soak`)."""

from __future__ import annotations

import argparse

import pytest

from tests.soak.__main__ import run
from tests.support.postgres import PostgresForTests


def test_a_short_soak_with_a_database_restart_loses_no_turn(postgres: PostgresForTests) -> None:
    if postgres.embedded is None:
        pytest.skip("restarting PostgreSQL needs the embedded server")
    url = postgres.create_database("soak")
    args = argparse.Namespace(users=4, threads=2, minutes=0.25, restart_db=True)
    try:
        figures = run(args, url, postgres.embedded.restart)
    finally:
        postgres.drop_database(url)
    assert figures.db_restarts == 1
    assert figures.turns_done > 20
    assert figures.server_errors == 0
    assert figures.turns_lost == 0
