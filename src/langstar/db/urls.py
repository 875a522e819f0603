"""Derive what SQLAlchemy and psycopg need from one libpq URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def sqlalchemy_url(libpq_url: str) -> str:
    """`postgresql://...` as SQLAlchemy's async psycopg dialect spells it."""
    parts = urlsplit(libpq_url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


def with_database(libpq_url: str, database: str) -> str:
    """The same server, another database."""
    parts = urlsplit(libpq_url)
    return urlunsplit(parts._replace(path="/" + database))


def redact(libpq_url: str) -> str:
    """The URL with its password hidden, for log lines and error messages."""
    parts = urlsplit(libpq_url)
    if parts.password is None:
        return libpq_url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
