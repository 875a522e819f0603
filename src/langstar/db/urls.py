"""Derive what SQLAlchemy and psycopg need from one libpq URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo


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


# What each long-lived connection says about itself unless the URL says otherwise: its
# name in pg_stat_activity, and TCP keepalives, which keep a connection that waits for
# work from being cut as idle by a NAT or load balancer, and detect one cut silently.
SESSION_DEFAULTS = {
    "application_name": "langstar",
    "keepalives": "1",
    "keepalives_idle": "60",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}


def with_session_defaults(libpq_url: str) -> str:
    """The connection string langstar's own connections use: the URL plus `SESSION_DEFAULTS`.

    A parameter the URL already names (`?application_name=...`) is kept as it is.
    """
    given = conninfo_to_dict(libpq_url)
    extra = {key: value for key, value in SESSION_DEFAULTS.items() if key not in given}
    return make_conninfo(libpq_url, **extra) if extra else libpq_url
