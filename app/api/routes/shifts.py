"""Shifts 班务: supervisors schedule agents per center; the roster shows scheduled vs logged in."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from app.acd import shifts as svc
from app.acd.agents import AgentError, AgentNotFound
from app.api.deps import Session, require, roles_doc
from app.api.errors import ApiError, documented
from app.api.schemas import IsoDate, QueryDatetime
from app.core.clock import add_days, now
from app.db.models import Role
from app.services.auth import Principal

router = APIRouter(prefix="/api/v1/shifts", tags=["shifts"], responses=documented(401, 403))
WRITE = (Role.SUPERVISOR,)
READ = (Role.AGENT, Role.SUPERVISOR)
Writer = Annotated[Principal, Depends(require(*WRITE))]
Reader = Annotated[Principal, Depends(require(*READ))]
LIST_DAYS = 7
ShiftId = Annotated[int, Path(ge=1, le=2_147_483_647)]
TIMES = ("Times are local to the shift's center (its time zone, Asia/Shanghai by default) and "
         "answered with their UTC offset. ")


class ShiftIn(BaseModel):
    agent: str = Field(pattern=r"^\d{4,6}$", description="the agent's 工号")
    start: QueryDatetime = Field(
        description="ISO 8601; without an offset it is read in the center's time zone",
        examples=["2026-12-01T08:00"])
    end: QueryDatetime = Field(description="after start, at most 16 hours later",
                               examples=["2026-12-01T17:00"])
    center: str | None = Field(None, max_length=40,
                               description="center name or code (default: the agent's own)")
    note: str | None = Field(None, max_length=200, description="e.g. 早班")


class ShiftOut(BaseModel):
    id: int
    agent: str = Field(description="工号")
    agent_name: str
    center: str
    timezone: str
    start: datetime
    end: datetime
    note: str | None
    created_by: str


class RosterRowOut(BaseModel):
    agent: str = Field(description="工号")
    name: str
    scheduled: bool = Field(description="a shift of this center covers the moment")
    logged_in: bool = Field(description="live ACD state is not logged_out")
    status: str = Field(description="present (scheduled, logged in), absent (scheduled, logged "
                        "out) or extra (logged in without a shift)")
    state: str
    reason: str | None
    shift: ShiftOut | None


class RosterOut(BaseModel):
    center: str
    timezone: str
    at: datetime
    scheduled: int
    present: int
    absent: int
    extra: int
    rows: list[RosterRowOut]


def _bad(exc: AgentError) -> ApiError:
    if isinstance(exc, AgentNotFound | svc.ShiftNotFound) or str(exc).startswith(
            "unknown center"):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, svc.ShiftError) and "already has shift" in str(exc):
        return ApiError(409, "shift_overlap", str(exc))
    return ApiError(422, "invalid_shift", str(exc))


def _out(shift: Any) -> ShiftOut:
    return ShiftOut.model_validate(svc.shift_json(shift))


@router.post("", status_code=201, response_model=ShiftOut,
             summary="Schedule an agent for one shift",
             responses=documented(404, 409, e404="no such agent or center",
                                  e409="the agent has an overlapping shift"),
             description=roles_doc(*WRITE) + " " + TIMES)
async def add_shift(body: ShiftIn, session: Session, user: Writer) -> ShiftOut:
    try:
        shift = await svc.add_shift(session, body.agent, body.start, body.end,
                                    by=user.name, center=body.center, note=body.note)
    except AgentError as exc:
        raise _bad(exc) from None
    out = _out(shift)
    await session.commit()
    return out


@router.get("", response_model=list[ShiftOut], summary="Shifts overlapping a range of days",
            responses=documented(404, e404="no such agent or center"),
            description=roles_doc(*READ) + " An agent reads only its own shifts. Days are "
            f"inclusive, in the center's time zone (default: today and the next {LIST_DAYS - 1} "
            f"days; `to` alone: the {LIST_DAYS} days up to it; `to` before `from`: none). " + TIMES)
async def list_shifts(
    session: Session, user: Reader,
    center: Annotated[str | None, Query(max_length=40, description="name or code")] = None,
    agent: Annotated[str | None, Query(max_length=6, description="工号")] = None,
    date_from: Annotated[IsoDate | None, Query(alias="from")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to")] = None,
) -> list[ShiftOut]:
    if user.role == Role.AGENT:
        if agent not in (None, user.name):
            raise ApiError(403, "forbidden", f"agent {user.name} may read only its own shifts")
        agent = user.name
    try:
        tz = await svc.zone_of(session, center)
        span = LIST_DAYS - 1
        first = date_from or (add_days(date_to, -span) if date_to
                              else now().astimezone(tz).date())
        last = date_to or add_days(first, span)
        if last < first:
            return []
        begins, ends = svc.day_bounds(tz, first, last)
        found = await svc.list_shifts(session, begins=begins, ends=ends, center=center,
                                      agent=agent)
    except AgentError as exc:
        raise _bad(exc) from None
    return [_out(s) for s in found]


@router.get("/roster", response_model=RosterOut,
            summary="Who is scheduled vs logged in at a center",
            responses=documented(404, e404="no such center"),
            description=roles_doc(*WRITE) + " The center's agents at one moment (default now): "
            "scheduled ones first, then agents logged in without a shift; states are the live "
            "ones from the ACD. `date` alone means that day at the current local time of day; "
            "`time` (HH:MM) picks the moment of that day. " + TIMES)
async def roster(
    session: Session, user: Writer,
    center: Annotated[str, Query(max_length=40, description="name or code")],
    day: Annotated[IsoDate | None, Query(alias="date", description="YYYY-MM-DD")] = None,
    at_time: Annotated[str | None, Query(alias="time", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                         description="HH:MM")] = None,
) -> RosterOut:
    try:
        tz = await svc.zone_of(session, center)
        local_now = now().astimezone(tz)
        clock: time = svc.parse_clock(at_time) if at_time else local_now.time()
        at = datetime.combine(day or local_now.date(), clock, tzinfo=tz)
        where, rows = await svc.roster(session, center, at)
    except AgentError as exc:
        raise _bad(exc) from None
    out = [RosterRowOut.model_validate(r.json()) for r in rows]
    return RosterOut(center=where.name, timezone=where.timezone, at=at,
                     scheduled=sum(r.scheduled for r in out),
                     present=sum(r.status == "present" for r in out),
                     absent=sum(r.status == "absent" for r in out),
                     extra=sum(r.status == "extra" for r in out), rows=out)


@router.delete("/{shift_id:int}", status_code=204, summary="Delete a shift",
               responses=documented(404, e404="no such shift"), description=roles_doc(*WRITE))
async def remove_shift(shift_id: ShiftId, session: Session, user: Writer) -> Response:
    try:
        await svc.remove_shift(session, shift_id)
    except AgentError as exc:
        raise _bad(exc) from None
    await session.commit()
    return Response(status_code=204)
