"""How langstar's connections are opened, for each pooler and prepared-statement setting."""

from __future__ import annotations

import pytest

from langstar.db.pool import Pooler, connection_kwargs
from langstar.settings import DatabaseSettings


@pytest.mark.parametrize(
    ("pooler", "prepared", "threshold"),
    [
        ("none", "auto", 0),  # PostgreSQL itself: prepared on first use, as before
        ("session", "auto", 0),  # a session keeps its prepared statements
        ("transaction", "auto", None),  # the next transaction may be on another server
        ("transaction", "on", 0),  # PgBouncer 1.21+ with max_prepared_statements
        ("none", "off", None),
    ],
)
def test_statements_are_prepared_unless_a_transaction_pooler_is_in_between(
    pooler: Pooler, prepared: str, threshold: int | None
) -> None:
    settings = DatabaseSettings(prepared_statements=prepared)  # type: ignore[arg-type]
    kwargs = connection_kwargs(settings, pooler)
    assert kwargs["prepare_threshold"] == threshold
    assert kwargs["autocommit"] is True
