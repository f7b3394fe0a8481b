"""What each AGI route answers: channel variables computed from the database.

Each function returns every variable it is documented to set, so the dialplan never sees a
half-answered route; app/agi/server.py sends them (or DEFAULTS when the function is too slow).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agi.models import (
    BlockedNumber,
    CalendarPeriod,
    CalledRoute,
    PeriodKind,
    SpecialPassenger,
    WeeklyHours,
)
from app.core.clock import CST
from app.db.models import CallRecord

DEFAULT_FLOW = "hotline"
REPEAT_WINDOW = timedelta(hours=24)

# What the dialplan gets when a route cannot answer in time: the caller is served as anyone.
DEFAULTS: dict[str, dict[str, str]] = {
    "caller_profile": {"HOTLINE_PRIORITY": "0", "HOTLINE_LANG": "zh", "HOTLINE_BLOCKED": "0",
                       "HOTLINE_REPEAT": "0"},
    # Open: agents are offered; the ACD still says so when nobody is logged in.
    "business_hours": {"HOTLINE_OPEN": "1", "HOTLINE_MODE": "normal"},
    "route": {"HOTLINE_FLOW": DEFAULT_FLOW},
}


async def caller_profile(session: AsyncSession, caller: str, now: datetime,
                         count: bool = True) -> dict[str, str]:
    blocked = await session.scalar(
        select(BlockedNumber).where(
            BlockedNumber.number == caller,
            or_(BlockedNumber.expires_at.is_(None), BlockedNumber.expires_at > now),
        )
    )
    if blocked is not None and count:
        blocked.hits += 1
        await session.commit()
    special = await session.scalar(
        select(func.count()).select_from(SpecialPassenger).where(SpecialPassenger.number == caller)
    )
    lang = await session.scalar(
        select(CallRecord.language).where(CallRecord.caller == caller)
        .order_by(CallRecord.started_at.desc()).limit(1)
    )
    repeat = await session.scalar(
        select(func.count()).select_from(CallRecord).where(
            CallRecord.caller == caller, CallRecord.started_at >= now - REPEAT_WINDOW
        )
    )
    return {
        "HOTLINE_PRIORITY": "1" if special else "0",
        "HOTLINE_LANG": lang or "zh",
        "HOTLINE_BLOCKED": "1" if blocked is not None else "0",
        "HOTLINE_REPEAT": str(repeat or 0),
    }


def _within(moment: time, opens: time, closes: time) -> bool:
    # closes 00:00 is midnight at the end of the day (00:00-00:00: all day).
    if closes == time(0):
        return moment >= opens
    return opens <= moment < closes


def _period_open(period: CalendarPeriod, moment: time) -> bool:
    if period.opens is None or period.closes is None:
        return period.kind == PeriodKind.PEAK  # a peak without hours: all day; a holiday: closed
    return _within(moment, period.opens, period.closes)


async def business_hours(session: AsyncSession, now: datetime) -> dict[str, str]:
    """Open now for agents? A period covering today (peak before holiday) overrides the weekly
    hours; without any weekly hours the hotline is open around the clock."""
    local = now.astimezone(CST)
    day: date = local.date()
    moment = local.time().replace(tzinfo=None)
    periods = list(await session.scalars(
        select(CalendarPeriod).where(CalendarPeriod.first_day <= day,
                                     CalendarPeriod.last_day >= day)
    ))
    periods.sort(key=lambda p: (p.kind != PeriodKind.PEAK, p.first_day))
    if periods:
        period = periods[0]
        return {"HOTLINE_OPEN": "1" if _period_open(period, moment) else "0",
                "HOTLINE_MODE": period.kind.value}
    hours = list(await session.scalars(select(WeeklyHours)))
    if not hours:
        return dict(DEFAULTS["business_hours"])
    today = [h for h in hours if h.weekday == local.weekday()]
    is_open = any(_within(moment, h.opens, h.closes) for h in today)
    return {"HOTLINE_OPEN": "1" if is_open else "0", "HOTLINE_MODE": "normal"}


async def route(session: AsyncSession, called: str) -> dict[str, str]:
    flow = await session.scalar(select(CalledRoute.flow).where(CalledRoute.called == called))
    return {"HOTLINE_FLOW": flow or DEFAULT_FLOW}
