"""The dialplan services' tables as one in-memory snapshot.

They are small and change only when engineers edit them, while every call asks for them three
times: reading them from memory keeps the database off each call's set-up path (only the
caller's own history is read per call). The FastAGI server reloads the snapshot every second
and at once after an edit through its own process's API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agi.models import (
    BlockedNumber,
    CalendarPeriod,
    CalledRoute,
    PeriodKind,
    SpecialPassenger,
    WeeklyHours,
)
from app.core.clock import as_utc


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    first_day: date
    last_day: date
    opens: time | None
    closes: time | None


@dataclass(frozen=True)
class Hours:
    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True)
class DialplanTables:
    blocked: dict[str, datetime | None]  # number -> expiry (None: until removed)
    specials: frozenset[str]
    routes: dict[str, str]  # called number -> flow
    periods: tuple[Period, ...]
    hours: tuple[Hours, ...]

    def is_blocked(self, caller: str, now: datetime) -> bool:
        if caller not in self.blocked:
            return False
        expires = self.blocked[caller]
        return expires is None or as_utc(expires) > now


async def load(session: AsyncSession) -> DialplanTables:
    blocked = {number: expires for number, expires in
               await session.execute(select(BlockedNumber.number, BlockedNumber.expires_at))}
    specials = frozenset(await session.scalars(select(SpecialPassenger.number)))
    routes = {called: flow for called, flow in
              await session.execute(select(CalledRoute.called, CalledRoute.flow))}
    periods = tuple(Period(*row) for row in await session.execute(
        select(CalendarPeriod.kind, CalendarPeriod.first_day, CalendarPeriod.last_day,
               CalendarPeriod.opens, CalendarPeriod.closes)))
    hours = tuple(Hours(*row) for row in await session.execute(
        select(WeeklyHours.weekday, WeeklyHours.opens, WeeklyHours.closes)))
    return DialplanTables(blocked, specials, routes, periods, hours)
