"""The lifecycle's statuses and moves agree with the schema's, and lead somewhere."""

from __future__ import annotations

from typing import get_args

from langstar.db.tables import RUN_STATUSES, THREAD_STATUSES
from langstar.lifecycle import INFLIGHT, RUN_MOVES, THREAD_MOVES, RunStatus, ThreadStatus


def test_the_lifecycle_knows_exactly_the_statuses_the_schema_allows() -> None:
    assert set(get_args(RunStatus)) == set(RUN_STATUSES) == set(RUN_MOVES)
    assert set(get_args(ThreadStatus)) == set(THREAD_STATUSES) == set(THREAD_MOVES)


def test_every_run_in_flight_can_end_and_no_ended_run_moves() -> None:
    for status in INFLIGHT:
        assert RUN_MOVES[status] - set(INFLIGHT), status
    for status in set(RUN_STATUSES) - set(INFLIGHT):
        assert RUN_MOVES[status] == frozenset(), status
    assert all(moves for moves in THREAD_MOVES.values())
