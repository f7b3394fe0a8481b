"""Passenger-facing look-ups: orders/tickets and trains."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from app.api.deps import Session, get_database, require, roles_doc
from app.api.direct_route import DirectJsonRoute
from app.api.errors import ApiError, documented
from app.api.schemas import (
    TRAIN_NUMBER_PATH,
    IsoDate,
    LookupIn,
    OrderOut,
    TicketOut,
    TimetableEntryOut,
    TrainStatusOut,
)
from app.core.clock import today
from app.db.models import Role
from app.services.auth import Principal
from app.services.throttle import LookupThrottle, OrderLocked
from app.services.tickets import OrderView, lookup_order
from app.services.trains import normalise_train_number, timetable, train_status

# The ticket look-up is the busiest route: a plain JSON route, served without FastAPI's
# generic steps (the others here take path and query parameters and are served as usual).
router = APIRouter(prefix="/api/v1", tags=["lookups"], responses=documented(401, 403),
                   route_class=DirectJsonRoute)
PASSENGER = (Role.IVR, Role.AGENT)
Passenger = Annotated[Principal, Depends(require(*PASSENGER))]

NOT_FOUND = "no order matches this order number and verification"
LOCKED_WHAT = {"order": "order number", "caller": "calling number", "user": "API user"}


@router.post(
    "/tickets/lookup",
    response_model=OrderOut,
    summary="Order and tickets by order number plus verification",
    description="An unknown order and a wrong verification get the same 404. After "
    "repeated failed verifications the order number (and the caller, and the API user) is "
    "locked for a while: every look-up of it gets 429 with Retry-After, even a correct one. "
    + roles_doc(*PASSENGER),
    responses=documented(
        404, 429, e404="no such order, or verification failed",
        e429="too many failed verifications; Retry-After says when to try again",
    ),
)
async def ticket_lookup(body: LookupIn, request: Request, user: Passenger) -> OrderOut:
    throttle: LookupThrottle = request.app.state.lookup_throttle
    try:
        view = await lookup_order(get_database(request), body.order_no, body.verification,
                                  throttle, caller=body.caller_number, user_id=user.user_id)
    except OrderLocked as locked:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed verifications for this {LOCKED_WHAT[locked.scope]}; "
            f"try again in {locked.retry_after} s or ask an agent",
            {"locked": locked.scope, "retry_after": locked.retry_after},
            headers={"Retry-After": str(locked.retry_after)},
        ) from None
    if view is None:
        raise ApiError(404, "order_not_found", NOT_FOUND)
    return _order_out(view)


def _order_out(view: OrderView) -> OrderOut:
    # Built directly from the view, whose fields are the answer's: no second validation, and
    # no dataclasses.asdict (a deep copy of every value).
    return OrderOut.model_construct(
        order_no=view.order_no, passenger_name=view.passenger_name, id_number=view.id_number,
        phone=view.phone, tickets=[TicketOut.model_construct(**vars(t)) for t in view.tickets])


@router.get(
    "/trains/{number}/status",
    response_model=TrainStatusOut,
    summary="Live status of a train on a date",
    responses=documented(404, e404="the train does not run on that date"),
    description="On time, delayed by N minutes or cancelled, and the last station "
    "passed. " + roles_doc(*PASSENGER),
)
async def status_of_train(
    number: Annotated[
        str, Path(pattern=TRAIN_NUMBER_PATH, description="e.g. G101 (any case, spaces ignored)")
    ],
    session: Session,
    user: Passenger,
    run_date: Annotated[IsoDate | None, Query(alias="date")] = None,
) -> TrainStatusOut:
    if normalise_train_number(number) is None:
        raise ApiError(
            422,
            "invalid_request",
            f"{number!r} is not a train number (a letter G/D/C/Z/T/K and digits)",
            [{"field": "path.number", "problem": "not a train number"}],
        )
    day = run_date or today()
    view = await train_status(session, number, day)
    if view is None:
        raise ApiError(404, "train_not_found", f"train {number.upper()} does not run on {day}")
    return TrainStatusOut.model_validate(asdict(view))


@router.get(
    "/timetable",
    response_model=list[TimetableEntryOut],
    summary="Trains between two stations on a date",
    responses=documented(404, e404="unknown station"),
    description="Stations by name (北京南), telegraph code (VNP) or city (北京). "
    + roles_doc(*PASSENGER),
)
async def search_timetable(
    session: Session,
    user: Passenger,
    from_station: Annotated[str, Query(alias="from", min_length=1, max_length=40)],
    to_station: Annotated[str, Query(alias="to", min_length=1, max_length=40)],
    run_date: Annotated[IsoDate | None, Query(alias="date")] = None,
) -> list[TimetableEntryOut]:
    entries = await timetable(session, from_station, to_station, run_date or today())
    if entries is None:
        raise ApiError(
            404, "station_not_found", f"unknown station: {from_station!r} or {to_station!r}"
        )
    return [TimetableEntryOut.model_validate(asdict(e)) for e in entries]
