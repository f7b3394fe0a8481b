"""What each AGI route answers: channel variables computed from the database.

Each function returns every variable it is documented to set, so the dialplan never sees a
half-answered route; app/agi/server.py sends them (or DEFAULTS when the function is too slow).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.agi.models import BlockedNumber, PeriodKind
from app.agi.tables import DialplanTables, Period
from app.agi.tables import load as load_tables
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


async def caller_history(session: AsyncSession, caller: str,
                         now: datetime) -> tuple[str | None, int]:
    """(language of this number's last call, its calls in the last 24 h), in one query."""
    last_lang = (select(CallRecord.language).where(CallRecord.caller == caller)
                 .order_by(CallRecord.started_at.desc()).limit(1).scalar_subquery())
    repeat = (select(func.count()).select_from(CallRecord)
              .where(CallRecord.caller == caller, CallRecord.started_at >= now - REPEAT_WINDOW)
              .scalar_subquery())
    row = (await session.execute(select(last_lang, repeat))).one()
    return row[0], int(row[1] or 0)


async def count_blocked_hit(session: AsyncSession, caller: str) -> None:
    await session.execute(update(BlockedNumber).where(BlockedNumber.number == caller)
                          .values(hits=BlockedNumber.hits + 1))
    await session.commit()


def profile_from(tables: DialplanTables, caller: str, now: datetime, lang: str | None,
                 repeat: int) -> dict[str, str]:
    return {
        "HOTLINE_PRIORITY": "1" if caller in tables.specials else "0",
        "HOTLINE_LANG": lang or "zh",
        "HOTLINE_BLOCKED": "1" if tables.is_blocked(caller, now) else "0",
        "HOTLINE_REPEAT": str(repeat),
    }


async def caller_profile(session: AsyncSession, caller: str, now: datetime,
                         count: bool = True, tables: DialplanTables | None = None
                         ) -> dict[str, str]:
    """The caller's variables; `tables` is the snapshot to read (else read now), `count`
    counts a blocked caller's hit."""
    if tables is None:
        tables = await load_tables(session)
    lang, repeat = await caller_history(session, caller, now)
    values = profile_from(tables, caller, now, lang, repeat)
    if values["HOTLINE_BLOCKED"] == "1" and count:
        await count_blocked_hit(session, caller)
    return values


def _within(moment: time, opens: time, closes: time) -> bool:
    # closes 00:00 is midnight at the end of the day (00:00-00:00: all day).
    if closes == time(0):
        return moment >= opens
    return opens <= moment < closes


def _period_open(period: Period, moment: time) -> bool:
    if period.opens is None or period.closes is None:
        return period.kind == PeriodKind.PEAK  # a peak without hours: all day; a holiday: closed
    return _within(moment, period.opens, period.closes)


def business_hours(tables: DialplanTables, now: datetime) -> dict[str, str]:
    """Open now for agents? A period covering today (peak before holiday) overrides the weekly
    hours; without any weekly hours the hotline is open around the clock."""
    local = now.astimezone(CST)
    day: date = local.date()
    moment = local.time().replace(tzinfo=None)
    periods = sorted((p for p in tables.periods if p.first_day <= day <= p.last_day),
                     key=lambda p: (p.kind != PeriodKind.PEAK, p.first_day))
    if periods:
        period = periods[0]
        return {"HOTLINE_OPEN": "1" if _period_open(period, moment) else "0",
                "HOTLINE_MODE": period.kind.value}
    if not tables.hours:
        return dict(DEFAULTS["business_hours"])
    today = [h for h in tables.hours if h.weekday == local.weekday()]
    is_open = any(_within(moment, h.opens, h.closes) for h in today)
    return {"HOTLINE_OPEN": "1" if is_open else "0", "HOTLINE_MODE": "normal"}


def route(tables: DialplanTables, called: str) -> dict[str, str]:
    return {"HOTLINE_FLOW": tables.routes.get(called, DEFAULT_FLOW)}


async def preview(session: AsyncSession, caller: str, called: str,
                  now: datetime) -> dict[str, str]:
    """Every variable a call from `caller` to `called` would get now (no hit counted)."""
    tables = await load_tables(session)
    return {**await caller_profile(session, caller, now, count=False, tables=tables),
            **business_hours(tables, now), **route(tables, called)}
