"""Logging: readable text by default, or one JSON object per line (`log_format = "json"`).

Each line carries what is known where it was written: the request's id, the run and
thread a run's lines are about, and the user. They come from context variables that
the access log, the authentication middleware and the run executor set.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: ContextVar[str | None] = ContextVar("langstar_request_id", default=None)
RUN_ID: ContextVar[str | None] = ContextVar("langstar_run_id", default=None)
THREAD_ID: ContextVar[str | None] = ContextVar("langstar_thread_id", default=None)
USER: ContextVar[str | None] = ContextVar("langstar_user", default=None)
_FIELDS = {"request_id": REQUEST_ID, "run_id": RUN_ID, "thread_id": THREAD_ID, "user": USER}
TEXT = "%(levelname)s %(name)s: %(message)s"


class WithContext(logging.Filter):
    """Adds the request, run, thread and user of the moment to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _FIELDS.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class _Json(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601, UTC
        )

    def add_fields(
        self, log_data: dict[str, object], record: logging.LogRecord, message: dict[str, object]
    ) -> None:
        super().add_fields(log_data, record, message)
        for name in _FIELDS:  # only what is known: no nulls on every line
            if log_data.get(name) is None:
                log_data.pop(name, None)


def configure(level: str, fmt: Literal["text", "json"]) -> None:
    """Send every logger's lines (uvicorn's too) to stderr, as text or JSON."""
    handler = logging.StreamHandler()
    handler.addFilter(WithContext())
    handler.setFormatter(_Json() if fmt == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # langstar writes one line per request itself (`langstar.access`).
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
