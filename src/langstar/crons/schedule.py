"""Schedules: standard five-field cron expressions in an IANA timezone, read by croniter."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from langstar.errors import InvalidError


def check_schedule(schedule: str) -> str:
    """The schedule, if it is a standard cron expression (minute hour day month weekday)."""
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise InvalidError(
            "schedule",
            f"{schedule!r} is not a cron schedule of five fields (minute hour "
            "day-of-month month day-of-week), such as '*/5 * * * *' for every five minutes",
        )
    return schedule


def check_timezone(name: str | None) -> str:
    """An IANA timezone name (UTC when none is given)."""
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidError("timezone", f"{name!r} is not an IANA timezone name") from None
    return name


def next_fire(schedule: str, timezone: str, after: datetime) -> datetime:
    """The first time after `after` the schedule names, read in its timezone, in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    found: datetime = croniter(schedule, local).get_next(datetime)
    return found.astimezone(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """A time from a request; one without an offset is taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
