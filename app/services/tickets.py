"""Ticket and order look-up with verification: what the IVR speaks and the agent sees."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from app.core.clock import hhmm
from app.db.models import Order, Station, Ticket, TicketStatus, Train, TrainRun, TrainStop
from app.services.masking import mask_id_number, mask_name, mask_phone

ORDER_NO = re.compile(r"^E\d{9}$")


@dataclass(frozen=True)
class TicketView:
    train_number: str
    run_date: date
    from_station: str
    to_station: str
    departure: str | None
    arrival: str | None
    coach: str
    seat: str
    seat_class: str
    price_yuan: float
    status: str


@dataclass(frozen=True)
class OrderView:
    order_no: str
    passenger_name: str  # masked
    id_number: str  # masked
    phone: str  # masked
    tickets: list[TicketView]


def normalise_order_no(raw: str) -> str | None:
    """'e123456789', 'E 123 456 789' or the 9 digits alone (the IVR's keypad) -> E123456789."""
    text = re.sub(r"[\s-]", "", raw).upper()
    if text.isdigit() and len(text) == 9:
        text = "E" + text
    return text if ORDER_NO.match(text) else None


def verification_matches(id_number: str, phone: str, verification: str) -> bool:
    """The last 4 characters of the ID number (X allowed) or of the phone number."""
    code = verification.strip().upper()
    if len(code) != 4:
        return False
    return id_number.upper().endswith(code) or phone.endswith(code)


async def lookup_order(
    db: AsyncSession | AsyncConnection, order_no: str, verification: str
) -> OrderView | None:
    """The order's masked details, or None for an unknown order or a wrong verification alike.

    Takes a session (the IVR's) or a bare connection (the API's busiest route, which needs no
    ORM session at all).
    """
    number = normalise_order_no(order_no)
    if number is None:
        return None
    # Plain rows: no ORM objects to build for a read-only view.
    conn = await db.connection() if isinstance(db, AsyncSession) else db
    rows = (await conn.execute(ORDER_QUERY, {"number": number})).all()
    if not rows:
        return None
    _, name, id_number, phone = rows[0][:4]
    if not verification_matches(id_number, phone, verification):
        return None
    tickets = [
        TicketView(
            train_number=train_no,
            run_date=run_date,
            from_station=from_name,
            to_station=to_name,
            departure=hhmm(dep),
            arrival=hhmm(arr),
            coach=coach,
            seat=seat,
            seat_class=seat_class,
            price_yuan=price_cents / 100,
            status=TicketStatus(status).value,
        )
        for (*_, ticket_id, coach, seat, seat_class, price_cents, status, train_no, run_date,
             from_name, to_name, dep, arr) in rows
        if ticket_id is not None
    ]
    return OrderView(
        order_no=number,
        passenger_name=mask_name(name),
        id_number=mask_id_number(id_number),
        phone=mask_phone(phone) or "",
        tickets=tickets,
    )


def order_query() -> Select[*tuple[Any, ...]]:
    """One indexed query: the order, its tickets, their trains, stations and timetable times."""
    src, dst = aliased(Station), aliased(Station)
    dep, arr = aliased(TrainStop), aliased(TrainStop)
    return (
        select(
            Order.order_no,
            Order.passenger_name,
            Order.id_number,
            Order.phone,
            Ticket.id,
            Ticket.coach,
            Ticket.seat,
            Ticket.seat_class,
            Ticket.price_cents,
            Ticket.status,
            Train.number,
            TrainRun.run_date,
            src.name,
            dst.name,
            dep.depart_min,
            arr.arrive_min,
        )
        .outerjoin(Ticket, Ticket.order_id == Order.id)
        .outerjoin(TrainRun, TrainRun.id == Ticket.run_id)
        .outerjoin(Train, Train.id == TrainRun.train_id)
        .outerjoin(src, src.id == Ticket.from_station_id)
        .outerjoin(dst, dst.id == Ticket.to_station_id)
        .outerjoin(dep, and_(dep.train_id == Train.id, dep.station_id == Ticket.from_station_id))
        .outerjoin(arr, and_(arr.train_id == Train.id, arr.station_id == Ticket.to_station_id))
        .where(Order.order_no == bindparam("number"))
        .order_by(Ticket.id)
    )


# Built once: constructing the aliased joins costs more than running the query.
ORDER_QUERY = order_query()
