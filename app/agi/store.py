"""Engineers' edits of the dialplan services' tables; the API and `hotline agi` share them.

The FastAGI server keeps the tables in memory (app/agi/tables.py): a change made through the
platform's API applies to the next call, one made from another process within a second.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agi.models import (
    BlockedNumber,
    CalendarPeriod,
    CalledRoute,
    PeriodKind,
    SpecialPassenger,
    WeeklyHours,
)
from app.core.clock import now

NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
FLOW_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class StoreError(ValueError):
    """Bad input; the message says what is accepted."""


def check_number(number: str, what: str = "number") -> str:
    number = number.strip()
    if not NUMBER.match(number):
        raise StoreError(f"{what} {number!r}: 3 to 20 digits, optionally after a +")
    return number


def parse_time(text: str) -> time:
    """HH:MM; 24:00 is taken as 00:00 (midnight at the end of the day)."""
    if text.strip() == "24:00":
        return time(0)
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise StoreError(f"time {text!r}: write HH:MM, e.g. 08:00 or 24:00") from None


def parse_weekday(text: str | int) -> int:
    if isinstance(text, int) or text.isdigit():
        day = int(text)
        if 0 <= day <= 6:
            return day
    elif text.lower()[:3] in WEEKDAYS:
        return WEEKDAYS.index(text.lower()[:3])
    raise StoreError(f"weekday {text!r}: 0 (Monday) to 6 (Sunday), or mon .. sun")


def check_span(opens: time, closes: time) -> None:
    if closes != time(0) and closes <= opens:
        raise StoreError(f"hours {opens:%H:%M}-{closes:%H:%M}: closing must be after opening "
                         "(24:00 for midnight)")


# --- blocklist -----------------------------------------------------------------------------

async def block(session: AsyncSession, number: str, reason: str,
                until: datetime | None = None) -> BlockedNumber:
    number = check_number(number)
    if not reason.strip():
        raise StoreError("say why the number is blocked (reason)")
    if until is not None and until.tzinfo is None:
        raise StoreError("the expiry needs its time zone, e.g. 2026-12-31T00:00:00+08:00")
    entry = await session.scalar(select(BlockedNumber).where(BlockedNumber.number == number))
    if entry is None:
        entry = BlockedNumber(number=number, created_at=now(), hits=0, reason="")
        session.add(entry)
    # Stored in UTC like every time here (SQLite keeps no zone).
    entry.reason, entry.expires_at = reason.strip(), until and until.astimezone(UTC)
    await session.flush()
    return entry


async def unblock(session: AsyncSession, number: str) -> bool:
    result = await session.execute(delete(BlockedNumber).where(BlockedNumber.number == number))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def blocked(session: AsyncSession) -> list[BlockedNumber]:
    return list(await session.scalars(select(BlockedNumber).order_by(BlockedNumber.number)))


# --- special passengers --------------------------------------------------------------------

async def add_special(session: AsyncSession, number: str, note: str = "") -> SpecialPassenger:
    number = check_number(number)
    entry = await session.scalar(select(SpecialPassenger).where(SpecialPassenger.number == number))
    if entry is None:
        entry = SpecialPassenger(number=number, created_at=now())
        session.add(entry)
    entry.note = note.strip()
    await session.flush()
    return entry


async def remove_special(session: AsyncSession, number: str) -> bool:
    result = await session.execute(
        delete(SpecialPassenger).where(SpecialPassenger.number == number))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def specials(session: AsyncSession) -> list[SpecialPassenger]:
    return list(await session.scalars(select(SpecialPassenger).order_by(SpecialPassenger.number)))


# --- calendar ------------------------------------------------------------------------------

async def set_weekly_hours(session: AsyncSession,
                           spans: list[tuple[int, time, time]]) -> list[WeeklyHours]:
    """Replace the whole weekly table; an empty list means open around the clock."""
    for _, opens, closes in spans:
        check_span(opens, closes)
    await session.execute(delete(WeeklyHours))
    rows = [WeeklyHours(weekday=d, opens=o, closes=c) for d, o, c in sorted(spans)]
    session.add_all(rows)
    await session.flush()
    return rows


async def weekly_hours(session: AsyncSession) -> list[WeeklyHours]:
    return list(await session.scalars(
        select(WeeklyHours).order_by(WeeklyHours.weekday, WeeklyHours.opens)))


async def set_period(session: AsyncSession, name: str, kind: PeriodKind, first_day: date,
                     last_day: date, opens: time | None = None,
                     closes: time | None = None) -> CalendarPeriod:
    name = name.strip()
    if not name or len(name) > 80:
        raise StoreError("a period needs a name of 1 to 80 characters")
    if last_day < first_day:
        raise StoreError(f"period {name}: the last day {last_day} is before the first {first_day}")
    if (opens is None) != (closes is None):
        raise StoreError(f"period {name}: give both opening and closing time, or neither")
    if opens is not None and closes is not None:
        check_span(opens, closes)
    entry = await session.scalar(select(CalendarPeriod).where(CalendarPeriod.name == name))
    if entry is None:
        entry = CalendarPeriod(name=name)
        session.add(entry)
    entry.kind, entry.first_day, entry.last_day = kind, first_day, last_day
    entry.opens, entry.closes = opens, closes
    await session.flush()
    return entry


async def remove_period(session: AsyncSession, name: str) -> bool:
    result = await session.execute(delete(CalendarPeriod).where(CalendarPeriod.name == name))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def periods(session: AsyncSession) -> list[CalendarPeriod]:
    return list(await session.scalars(select(CalendarPeriod).order_by(CalendarPeriod.first_day)))


# --- called-number routes ------------------------------------------------------------------

async def set_route(session: AsyncSession, called: str, flow: str, known_flows: set[str],
                    note: str = "") -> CalledRoute:
    called = check_number(called, "called number")
    if flow not in known_flows:
        raise StoreError(f"no flow named {flow!r} (known: {', '.join(sorted(known_flows))}); "
                         "add its file to the flows folder and reload the flows first")
    entry = await session.scalar(select(CalledRoute).where(CalledRoute.called == called))
    if entry is None:
        entry = CalledRoute(called=called)
        session.add(entry)
    entry.flow, entry.note = flow, note.strip()
    await session.flush()
    return entry


async def remove_route(session: AsyncSession, called: str) -> bool:
    result = await session.execute(delete(CalledRoute).where(CalledRoute.called == called))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def routes(session: AsyncSession) -> list[CalledRoute]:
    return list(await session.scalars(select(CalledRoute).order_by(CalledRoute.called)))
