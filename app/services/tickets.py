"""Ticket and order look-up with verification: what the IVR speaks and the agent sees."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from app.core.clock import hhmm
from app.db.models import (
    LookupFailure,
    Order,
    Station,
    Ticket,
    TicketStatus,
    Train,
    TrainRun,
    TrainStop,
)
from app.db.raw import Row
from app.db.session import Database
from app.services.masking import mask_id_number, mask_name, mask_phone
from app.services.throttle import FAILURES_QUERY, MAX_KEYS, Attempt, LookupThrottle, order_lock_key

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
    db: Database,
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
    OrderLocked even when the verification is right, so a lock cannot be probed. A correct
    look-up only reads: the throttle's failures and the order, together (app.db.raw).
    """
    number = normalise_order_no(order_no)
    if number is None:
        return None  # not an order number: nothing to guess, nothing to count
    attempt = Attempt(number, caller=caller, user_id=user_id)
    async with throttle.attempt(db, attempt) as turn:
        values: dict[str, object] = turn.check_values() | {"number": number}
        if db.raw.name == "postgresql":
            code = verification.strip().upper()
            query = JUDGE_AND_RELEASE_QUERY
            values["code"] = code if len(code) == 4 else None
            values |= order_lock_key(attempt)
        else:
            query = JUDGE_QUERY
        (both,) = await turn.conn.fetch((db.raw.compile(query), values))
        locked = turn.locked([row[:3] for row in both if row[0] is not None])
        rows = sorted((row[3:] for row in both if row[3] is not None), key=_ticket_order)
        turn.released = any(row[0] is None and row[3] is None and row[1] for row in both)
        # An unknown number counts too: failures must not tell which orders exist.
        if locked is None and (
                not rows or not verification_matches(rows[0][2], rows[0][3], verification)):
            await turn.failed()
            rows = []
    if locked is not None:
        raise locked
    return _view(rows) if rows else None


def _ticket_order(row: Row) -> int:
    return row[4] or 0  # the ticket id; None for an order without tickets (its only row)


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)  # SQLite: ISO text


def _view(rows: Sequence[Row]) -> OrderView:
    order_no, name, id_number, phone = rows[0][:4]
    tickets = [
        TicketView(
            train_number=train_no,
            run_date=_day(run_date),
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
        order_no=order_no,
        passenger_name=mask_name(name),
        id_number=mask_id_number(id_number),
        phone=mask_phone(phone) or "",
        tickets=tickets,
    )


def order_query() -> Select[*tuple[Any, ...]]:
    """One indexed query: the order, its tickets, their trains, stations and timetable times
    (in no order: ORDER_QUERY sorts them by ticket)."""
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
    )


def judge_query() -> CompoundSelect[*tuple[Any, ...]]:
    """What judging an attempt reads, in one statement (one round trip, one hand-off): the
    throttle's failures of its keys (rows with a key) and the order's rows (key NULL)."""
    order = order_query()
    failures = FAILURES_QUERY.add_columns(*(null() for _ in order.selected_columns))
    return union_all(failures, order.with_only_columns(null(), null(), null(),
                                                       *order.selected_columns))


def judge_and_release_query() -> CompoundSelect[*tuple[Any, ...]]:
    """PostgreSQL's judge_query, releasing the order's lock (taken by the throttle) when its
    own snapshot shows a success: no failure of any key in the window, and the verification
    (param `code`, already stripped and upper-cased; NULL if not 4 characters) matching the
    last 4 characters of the ID number or of the phone, as verification_matches. A correct
    look-up then needs no round trip to release it; that row has only its second column set.
    """
    code = bindparam("code", type_=String)
    keys = [bindparam(f"key{i}", type_=String) for i in range(MAX_KEYS)]
    no_failures = ~exists().where(LookupFailure.key.in_(keys),
                                  LookupFailure.at > bindparam("since"))
    matches = exists().where(
        Order.order_no == bindparam("number"),
        or_(func.right(func.upper(Order.id_number), 4) == code, func.right(Order.phone, 4) == code))
    width = len(judge_query().selected_columns)
    release = select(
        null(), cast(func.pg_advisory_unlock(func.hashtext(bindparam("key"))), Integer),
        *(null() for _ in range(width - 2)),
    ).where(no_failures, matches)
    return union_all(judge_query(), release)


# Built once, compiled once per engine (app.db.raw).
ORDER_QUERY = order_query().order_by(Ticket.id)
JUDGE_QUERY = judge_query()
JUDGE_AND_RELEASE_QUERY = judge_and_release_query()
