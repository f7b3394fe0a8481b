"""Shifts 班务: who is scheduled when at which center, and the roster of scheduled vs logged in.

Times are entered and shown in the center's time zone (centers.timezone, Asia/Shanghai by
default) and stored in UTC. A shift whose end is not after its start on the same day runs
overnight (22:00-06:00). One agent's shifts never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.acd.agents import AgentError, center_by_name, get_agent
from app.acd.states import AgentSnapshot, agent_snapshot
from app.core.clock import add_days, as_utc, now, utc_bound
from app.db.models import AgentStateName, Center, Shift

DEFAULT_TIMEZONE = "Asia/Shanghai"
MAX_SHIFT = timedelta(hours=16)
MAX_DAYS = 31


class ShiftError(AgentError):
    """A shift request that cannot be done; the message says why and what to do."""


class ShiftNotFound(ShiftError):
    pass


def zone(center: Center) -> ZoneInfo:
    try:
        return ZoneInfo(center.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ShiftError(f"center {center.name} has an unknown time zone "
                         f"{center.timezone!r}") from None


def parse_clock(text: str) -> time:
    """HH:MM (24-hour) as a time of day."""
    try:
        return datetime.strptime(text.strip(), "%H:%M").time()
    except ValueError:
        raise ShiftError(f"time {text!r} is not HH:MM (24-hour), e.g. 08:00") from None


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ShiftError(f"date {text!r} is not YYYY-MM-DD, e.g. 2026-12-01") from None


def local_span(center: Center, day: date, start: time, end: time) -> tuple[datetime, datetime]:
    """A shift's start and end on day in the center's zone; end <= start runs overnight."""
    tz = zone(center)
    begins = datetime.combine(day, start, tzinfo=tz)
    ends = datetime.combine(day, end, tzinfo=tz)
    if ends <= begins:
        ends += timedelta(days=1)
    return begins, ends


def in_zone(center: Center, moment: datetime) -> datetime:
    """A naive moment is read in the center's zone; an aware one keeps its offset."""
    return moment.replace(tzinfo=zone(center)) if moment.tzinfo is None else moment


async def zone_of(session: AsyncSession, center: str | None) -> ZoneInfo:
    """The named center's zone, or the default one when no center is named."""
    return zone(await center_by_name(session, center)) if center else ZoneInfo(DEFAULT_TIMEZONE)


def day_bounds(tz: ZoneInfo, first: date, last: date) -> tuple[datetime, datetime]:
    """From the first day's local midnight to the midnight after the last day."""
    if last < first:
        raise ShiftError(f"the last day {last} is before the first day {first}")
    after = add_days(last, 1)
    end = (datetime.combine(after, time(), tzinfo=tz) if after > last
           else datetime.combine(last, time.max, tzinfo=tz))  # the calendar's last day
    return datetime.combine(first, time(), tzinfo=tz), end


async def _overlapping(session: AsyncSession, agent_id: int, begins: datetime,
                       ends: datetime) -> Shift | None:
    return await session.scalar(
        select(Shift).where(Shift.agent_id == agent_id, Shift.starts_at < utc_bound(ends),
                            Shift.ends_at > utc_bound(begins)).limit(1)
    )


async def add_shift(session: AsyncSession, agent_number: str, begins: datetime, ends: datetime,
                    *, by: str, center: str | None = None, note: str | None = None) -> Shift:
    """One shift for the agent at its own center (or the center named); aware datetimes."""
    agent = await get_agent(session, agent_number)
    where = await center_by_name(session, center) if center else agent.center
    begins, ends = in_zone(where, begins), in_zone(where, ends)
    if ends <= begins:
        raise ShiftError("the shift must end after it starts")
    if ends - begins > MAX_SHIFT:
        raise ShiftError(f"a shift lasts at most {MAX_SHIFT.seconds // 3600} hours; "
                         "split longer duty into several shifts")
    clash = await _overlapping(session, agent.id, begins, ends)
    if clash is not None:
        tz = zone(where)
        raise ShiftError(
            f"agent {agent.number} already has shift {clash.id} "
            f"({as_utc(clash.starts_at).astimezone(tz):%Y-%m-%d %H:%M}-"
            f"{as_utc(clash.ends_at).astimezone(tz):%H:%M}) overlapping this one"
        )
    shift = Shift(center_id=where.id, agent_id=agent.id, starts_at=begins.astimezone(UTC),
                  ends_at=ends.astimezone(UTC), note=note or None, created_by=by,
                  created_at=now())
    session.add(shift)
    await session.flush()
    return await get_shift(session, shift.id)


async def add_daily(session: AsyncSession, agent_number: str, first: date, start: time,
                    end: time, *, days: int = 1, by: str, center: str | None = None,
                    note: str | None = None) -> list[Shift]:
    """The same shift on `days` consecutive days from first (all or none are added)."""
    if not 1 <= days <= MAX_DAYS:
        raise ShiftError(f"days must be 1 to {MAX_DAYS}")
    agent = await get_agent(session, agent_number)
    where = await center_by_name(session, center) if center else agent.center
    added = []
    for n in range(days):
        begins, ends = local_span(where, first + timedelta(days=n), start, end)
        added.append(await add_shift(session, agent_number, begins, ends, by=by,
                                     center=where.name, note=note))
    return added


def _query() -> Select[Shift]:
    return select(Shift).options(selectinload(Shift.agent), selectinload(Shift.center))


async def get_shift(session: AsyncSession, shift_id: int) -> Shift:
    shift = await session.scalar(_query().where(Shift.id == shift_id))
    if shift is None:
        raise ShiftNotFound(f"no shift {shift_id}: `hotline shifts list` shows the ids")
    return shift


async def list_shifts(session: AsyncSession, *, begins: datetime, ends: datetime,
                      center: str | None = None, agent: str | None = None) -> list[Shift]:
    """Shifts overlapping [begins, ends), by start time, optionally of one center or agent."""
    query = _query().where(Shift.starts_at < utc_bound(ends),
                           Shift.ends_at > utc_bound(begins))
    if center:
        query = query.where(Shift.center_id == (await center_by_name(session, center)).id)
    if agent:
        query = query.where(Shift.agent_id == (await get_agent(session, agent)).id)
    return list(await session.scalars(query.order_by(Shift.starts_at, Shift.id)))


async def remove_shift(session: AsyncSession, shift_id: int) -> Shift:
    shift = await get_shift(session, shift_id)
    await session.delete(shift)
    await session.flush()
    return shift


def shift_json(shift: Shift) -> dict[str, object]:
    """A shift as the CLI and the API show it: local times with their UTC offset."""
    tz = zone(shift.center)
    return {
        "id": shift.id, "agent": shift.agent.number, "agent_name": shift.agent.name,
        "center": shift.center.name, "timezone": shift.center.timezone,
        "start": as_utc(shift.starts_at).astimezone(tz).isoformat(),
        "end": as_utc(shift.ends_at).astimezone(tz).isoformat(),
        "note": shift.note, "created_by": shift.created_by,
    }


@dataclass(frozen=True)
class RosterRow:
    """One agent at the roster's moment: scheduled or not, logged in or not."""

    number: str
    name: str
    scheduled: bool
    shift: Shift | None
    state: AgentStateName
    reason: str | None

    @property
    def logged_in(self) -> bool:
        return self.state != AgentStateName.LOGGED_OUT

    @property
    def status(self) -> str:
        # present: on shift and logged in; absent: on shift, logged out; extra: logged in
        # without a shift now.
        if self.scheduled:
            return "present" if self.logged_in else "absent"
        return "extra"

    def json(self) -> dict[str, object]:
        return {"agent": self.number, "name": self.name, "scheduled": self.scheduled,
                "logged_in": self.logged_in, "status": self.status, "state": self.state.value,
                "reason": self.reason,
                "shift": shift_json(self.shift) if self.shift is not None else None}


async def roster(session: AsyncSession, center: str, at: datetime) -> tuple[Center,
                                                                             list[RosterRow]]:
    """Who is scheduled at `at` in the center, and who of the center's agents is logged in
    now (live states from the ACD): scheduled agents first, then extra ones, by 工号."""
    where = await center_by_name(session, center)
    at = in_zone(where, at)
    on_now = await session.scalars(
        _query().where(Shift.center_id == where.id, Shift.starts_at <= utc_bound(at),
                       Shift.ends_at > utc_bound(at))
    )
    by_agent = {s.agent.number: s for s in on_now}
    live: dict[str, AgentSnapshot] = {s.number: s for s in await agent_snapshot(session)}
    rows = []
    for number, snap in live.items():
        shift = by_agent.get(number)
        if shift is None and (snap.center_code != where.code
                              or snap.state == AgentStateName.LOGGED_OUT):
            continue
        rows.append(RosterRow(number=number, name=snap.name, scheduled=shift is not None,
                              shift=shift, state=snap.state, reason=snap.reason))
    rows.sort(key=lambda r: (not r.scheduled, r.number))
    return where, rows
