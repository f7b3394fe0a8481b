"""`/api/v1/stats`: the statistics report (JSON or CSV) and the staffing helper, for
supervisors (definitions: docs/statistics.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from app.acd.routing import RoutingError, RoutingRules, load_routing
from app.api.deps import Session, require, roles_doc
from app.api.errors import ApiError, documented
from app.config import Settings
from app.db.models import Role
from app.services.auth import Principal
from app.stats import report
from app.stats.figures import Rules
from app.stats.periods import Period, PeriodError
from app.stats.staffing import MIN_OCCUPANCY, StaffingError, parse_target, staffing

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"],
                   responses=documented(400, 401, 403))
READ = (Role.SUPERVISOR,)
DAY = "YYYY-MM-DD, a day in the center's time zone"
TARGET = r"^\s*\d{1,3}(\.\d+)?\s*/\s*\d{1,5}(\.\d+)?\s*$"


class StaffingOut(BaseModel):
    agents: int
    service_level: float
    asa_s: float
    occupancy: float
    traffic_erlangs: float


class BusiestHourOut(BaseModel):
    start: str | None
    offered: int
    aht_s: float | None
    staffing: StaffingOut | None


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _routing(request: Request) -> RoutingRules:
    platform = request.app.state.platform
    acd = getattr(platform, "acd", None) if platform is not None else None
    if acd is not None:
        rules: RoutingRules = acd.rules
        return rules
    try:
        return load_routing(_settings(request).routing_file)
    except RoutingError as exc:
        raise ApiError(500, "routing_file_invalid", str(exc)) from None


def _period(request: Request, first: date, last: date, tz: str | None,
            interval: str | None = None) -> Period:
    try:
        return Period.of(first, last, tz or _settings(request).timezone, interval)
    except PeriodError as exc:
        raise ApiError(400, "bad_period", str(exc)) from None


def _rules(request: Request, short_abandon: float | None) -> Rules:
    short = short_abandon if short_abandon is not None \
        else _settings(request).short_abandon_seconds
    return report.rules_from(_routing(request), short)


@router.get(
    "", summary="Statistics of a period: rows per key and interval, and totals",
    description="Counted from the ACD's call records; the definitions are in "
    "docs/statistics.md. `format=csv` returns the same figures as a CSV file. "
    + roles_doc(*READ),
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_stats(
    request: Request, session: Session,
    user: Annotated[Principal, Depends(require(*READ))],
    date_from: Annotated[date, Query(alias="from", description=DAY)],
    date_to: Annotated[date, Query(alias="to", description=DAY + " (included)")],
    by: Literal["queue", "agent", "center", "ivr"] = "center",
    interval: Literal["15m", "hour", "day"] | None = None,
    timezone: Annotated[str | None, Query(max_length=64)] = None,
    short_abandon: Annotated[float | None, Query(ge=0, le=3600)] = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    period = _period(request, date_from, date_to, timezone, interval)
    data = await report.build(session, period, by, _rules(request, short_abandon))
    if format == "csv":
        name = f"hotline-stats-{period.first}-{period.last}-{by}.csv"
        return Response(report.as_csv(data), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return JSONResponse(data)


@router.get(
    "/staffing", response_model=StaffingOut, summary="Agents needed (Erlang C)",
    description="The fewest agents that reach the service-level target (e.g. 80/20: 80 % "
    "answered within 20 s) with occupancy at or under the cap. " + roles_doc(*READ),
)
async def get_staffing(
    user: Annotated[Principal, Depends(require(*READ))],
    calls_per_hour: Annotated[float, Query(ge=0, le=100_000)],
    aht: Annotated[float, Query(gt=0, le=7200)],
    target: Annotated[str, Query(max_length=20, pattern=TARGET)] = "80/20",
    max_occupancy: Annotated[float, Query(ge=MIN_OCCUPANCY, le=1)] = 0.85,
) -> StaffingOut:
    try:
        result = staffing(calls_per_hour, aht, parse_target(target), max_occupancy)
    except StaffingError as exc:
        raise ApiError(400, "bad_staffing_input", str(exc)) from None
    return StaffingOut(**result.as_dict())


@router.get(
    "/busiest-hour", response_model=BusiestHourOut,
    summary="The busiest hour of a period and the agents it needed",
    description="The hour with the most offered calls, the period's measured AHT, and the "
    "Erlang C staffing for that traffic. " + roles_doc(*READ),
)
async def get_busiest_hour(
    request: Request, session: Session,
    user: Annotated[Principal, Depends(require(*READ))],
    date_from: Annotated[date, Query(alias="from", description=DAY)],
    date_to: Annotated[date, Query(alias="to", description=DAY + " (included)")],
    timezone: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str, Query(max_length=20, pattern=TARGET)] = "80/20",
    max_occupancy: Annotated[float, Query(ge=MIN_OCCUPANCY, le=1)] = 0.85,
) -> BusiestHourOut:
    period = _period(request, date_from, date_to, timezone)
    try:
        goal = parse_target(target)
    except StaffingError as exc:
        raise ApiError(400, "bad_staffing_input", str(exc)) from None
    busiest = await report.busiest_hour(session, period, _rules(request, None))
    if busiest is None:
        return BusiestHourOut(start=None, offered=0, aht_s=None, staffing=None)
    staff: dict[str, Any] | None = None
    if busiest["aht_s"]:
        try:
            staff = staffing(busiest["offered"], busiest["aht_s"], goal,
                             max_occupancy).as_dict()
        except StaffingError as exc:
            raise ApiError(400, "bad_staffing_input", str(exc)) from None
    return BusiestHourOut(start=busiest["start"], offered=busiest["offered"],
                          aht_s=busiest["aht_s"],
                          staffing=StaffingOut(**staff) if staff else None)
