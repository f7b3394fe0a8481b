"""Clock and timetable arithmetic in the railway's time zone (China Standard Time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import overload

CST = timezone(timedelta(hours=8), "CST")


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return datetime.now(CST).date()


def at_minutes(run_date: date, minutes: int) -> datetime:
    """A timetable time (minutes after the run day's midnight, CST) as an aware datetime."""
    midnight = datetime(run_date.year, run_date.month, run_date.day, tzinfo=CST)
    return midnight + timedelta(minutes=minutes)


def hhmm(minutes: int | None) -> str | None:
    if minutes is None:
        return None
    return f"{(minutes // 60) % 24:02d}:{minutes % 60:02d}"


@overload
def as_utc(moment: datetime) -> datetime: ...


@overload
def as_utc(moment: None) -> None: ...


def as_utc(moment: datetime | None) -> datetime | None:
    """An aware datetime: SQLite hands stored ones back naive, and everything is stored in UTC.
    None stays None (a column not set yet)."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_days(day: date, days: int) -> date:
    """`day` moved by `days`, held at the calendar's first or last day instead of failing
    (a range asked for at the very ends of the calendar)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def utc_bound(moment: datetime) -> datetime:
    """A query bound given with any zone, in UTC. A moment at the very ends of the calendar
    (0001-01-01 with a zone east of UTC) has no UTC form: it becomes that end itself."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        end = datetime.min if moment.year == 1 else datetime.max
        return end.replace(tzinfo=UTC)
