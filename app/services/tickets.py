"""Ticket and order look-up with verification: what the IVR speaks and the agent sees."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Row, Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.clock import hhmm
from app.db.models import Order, Station, Ticket, Train, TrainRun, TrainStop
from app.services.masking import mask_id_number, mask_name, mask_phone
from app.services.throttle import Attempt, LookupThrottle

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


def verification_matches(order: Order, verification: str) -> bool:
    """The last 4 characters of the ID number (X allowed) or of the phone number."""
    code = verification.strip().upper()
    if len(code) != 4:
        return False
    return order.id_number.upper().endswith(code) or order.phone.endswith(code)


async def lookup_order(
    session: AsyncSession,
    order_no: str,
    verification: str,
    throttle: LookupThrottle,
    *,
    caller: str | None = None,
    user_id: int | None = None,
) -> OrderView | None:
    """The order's masked details, or None for an unknown order or a wrong verification alike.

    Every path (the IVR, the API) comes through here: a failure counts against the order
    number, the caller and the API user; while one of them is locked the look-up raises
    OrderLocked even when the verification is right, so a lock cannot be probed.
    """
    number = normalise_order_no(order_no)
    if number is None:
        return None  # not an order number: nothing to guess, nothing to count
    attempt = Attempt(number, caller=caller, user_id=user_id)
    async with throttle.attempt(session, attempt):
        rows = (await session.execute(ORDER_QUERY, {"number": number})).all()
        # An unknown number counts too: failures must not tell which orders exist.
        if not rows or not verification_matches(rows[0][0], verification):
            await throttle.failed(session, attempt)
            return None
    return _view(rows)


OrderRow = Row[Order, Ticket, str, date, str, str, int | None, int | None]


def _view(rows: Sequence[OrderRow]) -> OrderView:
    order: Order = rows[0][0]
    tickets = [
        TicketView(
            train_number=train_no,
            run_date=run_date,
            from_station=from_name,
            to_station=to_name,
            departure=hhmm(dep),
            arrival=hhmm(arr),
            coach=t.coach,
            seat=t.seat,
            seat_class=t.seat_class,
            price_yuan=t.price_cents / 100,
            status=t.status.value,
        )
        for _, t, train_no, run_date, from_name, to_name, dep, arr in rows
        if t is not None
    ]
    return OrderView(
        order_no=order.order_no,
        passenger_name=mask_name(order.passenger_name),
        id_number=mask_id_number(order.id_number),
        phone=mask_phone(order.phone) or "",
        tickets=tickets,
    )


def order_query() -> Select[Order, Ticket, str, date, str, str, int | None, int | None]:
    """One indexed query: the order, its tickets, their trains, stations and timetable times."""
    src, dst = aliased(Station), aliased(Station)
    dep, arr = aliased(TrainStop), aliased(TrainStop)
    return (
        select(
            Order,
            Ticket,
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
