"""Train status and timetable search."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from app.core.clock import hhmm
from app.db.models import RunStatus, Station, Train, TrainRun, TrainStop

TRAIN_NUMBER = re.compile(r"^[GDCZTK]\d{1,4}$")


def normalise_train_number(raw: str) -> str | None:
    text = re.sub(r"\s", "", raw).upper()
    return text if TRAIN_NUMBER.match(text) else None


@dataclass(frozen=True)
class TrainStatusView:
    train_number: str
    run_date: date
    status: str
    delay_minutes: int
    origin: str
    destination: str
    departure: str | None
    arrival: str | None
    last_station: str | None


@dataclass(frozen=True)
class TimetableEntry:
    train_number: str
    train_type: str
    from_station: str
    to_station: str
    departure: str | None
    arrival: str | None
    duration_minutes: int
    status: str
    delay_minutes: int


async def train_status(
    session: AsyncSession, number: str, run_date: date
) -> TrainStatusView | None:
    normalised = normalise_train_number(number)
    if normalised is None:
        return None
    run = await session.scalar(
        select(TrainRun)
        .join(Train)
        .where(Train.number == normalised, TrainRun.run_date == run_date)
        .options(
            selectinload(TrainRun.train).selectinload(Train.stops).selectinload(TrainStop.station),
            selectinload(TrainRun.last_station),
        )
    )
    if run is None:
        return None
    stops = run.train.stops
    return TrainStatusView(
        train_number=run.train.number,
        run_date=run.run_date,
        status=run.status.value,
        delay_minutes=run.delay_minutes if run.status == RunStatus.DELAYED else 0,
        origin=stops[0].station.name,
        destination=stops[-1].station.name,
        departure=hhmm(stops[0].depart_min),
        arrival=hhmm(stops[-1].arrive_min),
        last_station=run.last_station.name if run.last_station else None,
    )


async def resolve_stations(session: AsyncSession, name: str) -> list[int]:
    """A station by name or code, or every station of a city ('北京' -> 北京南, 北京西)."""
    text = name.strip()
    rows = await session.scalars(
        select(Station.id).where(
            or_(Station.name == text, Station.code == text.upper(), Station.city == text)
        )
    )
    return list(rows)


async def timetable(
    session: AsyncSession, from_name: str, to_name: str, run_date: date
) -> list[TimetableEntry] | None:
    """Trains running on run_date that stop at from_name and later at to_name.

    None when a station is unknown (so the caller can say which), [] when no train runs.
    """
    from_ids = await resolve_stations(session, from_name)
    to_ids = await resolve_stations(session, to_name)
    if not from_ids or not to_ids:
        return None
    dep, arr = aliased(TrainStop), aliased(TrainStop)
    src, dst = aliased(Station), aliased(Station)
    rows = await session.execute(
        select(
            Train.number,
            Train.type,
            src.name,
            dst.name,
            dep.depart_min,
            arr.arrive_min,
            TrainRun.status,
            TrainRun.delay_minutes,
        )
        .join(dep, dep.train_id == Train.id)
        .join(arr, arr.train_id == Train.id)
        .join(src, src.id == dep.station_id)
        .join(dst, dst.id == arr.station_id)
        .join(TrainRun, TrainRun.train_id == Train.id)
        .where(
            dep.station_id.in_(from_ids),
            arr.station_id.in_(to_ids),
            dep.seq < arr.seq,
            TrainRun.run_date == run_date,
        )
        .order_by(dep.depart_min, Train.number)
    )
    return [
        TimetableEntry(
            train_number=number,
            train_type=ttype.value,
            from_station=from_station,
            to_station=to_station,
            departure=hhmm(depart),
            arrival=hhmm(arrive),
            duration_minutes=(arrive or 0) - (depart or 0),
            status=status.value,
            delay_minutes=delay,
        )
        for number, ttype, from_station, to_station, depart, arrive, status, delay in rows
    ]
