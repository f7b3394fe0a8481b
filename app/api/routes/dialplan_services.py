"""The dialplan services' tables, for telecom engineers: blocklist, special passengers, the
business calendar and called-number routes (app/agi). Changes apply to the next call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from app.agi import answers, store
from app.agi.models import PeriodKind
from app.api.deps import Session, require, roles_doc
from app.api.errors import ApiError, documented
from app.api.schemas import IsoDate, IsoTime, QueryDatetime, UtcDatetime
from app.core.clock import now
from app.db.models import Role
from app.ivr.library import flow_names
from app.services.auth import Principal

router = APIRouter(prefix="/api/v1/dialplan", tags=["dialplan services"],
                   responses=documented(401, 403))
EDIT = (Role.ENGINEER,)
Engineer = Annotated[Principal, Depends(require(*EDIT))]
DOC = roles_doc(*EDIT)


async def _apply_to_calls(request: Request) -> AsyncIterator[None]:
    """After an edit is committed, the platform's FastAGI server rereads the tables at once."""
    yield
    platform = getattr(request.app.state, "platform", None)
    if platform is not None and platform.agi is not None:
        await platform.agi.reload_tables()


CHANGES = [Depends(_apply_to_calls)]
Number = Annotated[str, Path(pattern=store.NUMBER.pattern,
                             description="3 to 20 digits, optionally after a +")]
PeriodName = Annotated[str, Path(min_length=1, max_length=80)]


class BlockIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200, examples=["harassing calls"])
    expires_at: QueryDatetime | None = Field(None,
                                             description="with time zone; none: until removed")


class BlockedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    number: str
    reason: str
    expires_at: UtcDatetime | None
    created_at: UtcDatetime
    hits: int = Field(description="calls refused so far")


class SpecialIn(BaseModel):
    note: str = Field("", max_length=200)


class SpecialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    number: str
    note: str
    created_at: UtcDatetime


class HoursSpan(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    weekday: int = Field(ge=0, le=6, description="0 Monday .. 6 Sunday")
    opens: IsoTime
    closes: IsoTime = Field(description="00:00 means midnight at the end of the day")


class PeriodIn(BaseModel):
    kind: PeriodKind
    first_day: IsoDate
    last_day: IsoDate
    opens: IsoTime | None = None
    closes: IsoTime | None = Field(None, description="with opens; neither: a holiday is closed "
                                "all day, a peak open all day")


class PeriodOut(PeriodIn):
    model_config = ConfigDict(from_attributes=True)
    name: str


class RouteIn(BaseModel):
    flow: str = Field(min_length=1, max_length=60, examples=["hotline"])
    note: str = Field("", max_length=200)


class RouteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    called: str
    flow: str
    note: str


# Rules the schema cannot express (closing after opening, a known flow, an expiry with its
# zone): 400 with this code and a message that says what to change.
BAD_INPUT = "bad_dialplan_input"
REFUSED = documented(400, e400=f"{BAD_INPUT}: the values break a rule the schema cannot "
                     "express (the message says which)")


def _bad(exc: store.StoreError) -> ApiError:
    return ApiError(400, BAD_INPUT, str(exc))


def _missing(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what}")


@router.get("/blocklist", summary="Blocked numbers", description=DOC)
async def list_blocked(session: Session, _: Engineer) -> list[BlockedOut]:
    return [BlockedOut.model_validate(b) for b in await store.blocked(session)]


@router.put("/blocklist/{number}", dependencies=CHANGES,
            summary="Block a number (or change its reason and expiry)",
            description="Its callers hear a short message and are hung up. " + DOC,
            responses=REFUSED)
async def put_blocked(number: Number, body: BlockIn, session: Session, _: Engineer) -> BlockedOut:
    try:
        entry = await store.block(session, number, body.reason, body.expires_at)
    except store.StoreError as exc:
        raise _bad(exc) from None
    await session.commit()
    return BlockedOut.model_validate(entry)


@router.delete("/blocklist/{number}", dependencies=CHANGES,
               status_code=204, summary="Unblock a number",
               description=DOC, responses=documented(404))
async def delete_blocked(number: Number, session: Session, _: Engineer) -> None:
    if not await store.unblock(session, number):
        raise _missing(f"blocked number {number}")
    await session.commit()


@router.get("/special-passengers", summary="Registered special passengers (重点旅客)",
            description=DOC)
async def list_specials(session: Session, _: Engineer) -> list[SpecialOut]:
    return [SpecialOut.model_validate(s) for s in await store.specials(session)]


@router.put("/special-passengers/{number}", dependencies=CHANGES,
            summary="Register a special passenger's number",
            description="Their calls get HOTLINE_PRIORITY=1 (priority in the queues). " + DOC,
            responses=REFUSED)
async def put_special(number: Number, body: SpecialIn, session: Session,
                      _: Engineer) -> SpecialOut:
    try:
        entry = await store.add_special(session, number, body.note)
    except store.StoreError as exc:
        raise _bad(exc) from None
    await session.commit()
    return SpecialOut.model_validate(entry)


@router.delete("/special-passengers/{number}", dependencies=CHANGES,
               status_code=204,
               summary="Remove a special passenger's number", description=DOC,
               responses=documented(404))
async def delete_special(number: Number, session: Session, _: Engineer) -> None:
    if not await store.remove_special(session, number):
        raise _missing(f"special passenger {number}")
    await session.commit()


@router.get("/hours", summary="Agents' weekly opening hours (China Standard Time)",
            description="Empty: open around the clock. " + DOC)
async def get_hours(session: Session, _: Engineer) -> list[HoursSpan]:
    return [HoursSpan.model_validate(h) for h in await store.weekly_hours(session)]


@router.put("/hours", dependencies=CHANGES,
            summary="Replace the weekly opening hours",
            description="A day may have several spans; a day without one is closed. " + DOC,
            responses=REFUSED)
async def put_hours(body: list[HoursSpan], session: Session, _: Engineer) -> list[HoursSpan]:
    try:
        rows = await store.set_weekly_hours(
            session, [(s.weekday, s.opens, s.closes) for s in body])
    except store.StoreError as exc:
        raise _bad(exc) from None
    await session.commit()
    return [HoursSpan.model_validate(h) for h in rows]


@router.get("/periods", summary="Holidays and peak periods (春运)", description=DOC)
async def list_periods(session: Session, _: Engineer) -> list[PeriodOut]:
    return [PeriodOut.model_validate(p) for p in await store.periods(session)]


@router.put("/periods/{name}", dependencies=CHANGES,
            summary="Add or change a holiday or peak period",
            description="On its days it replaces the weekly hours; HOTLINE_MODE names its "
            "kind. " + DOC, responses=REFUSED)
async def put_period(name: PeriodName, body: PeriodIn, session: Session, _: Engineer) -> PeriodOut:
    try:
        entry = await store.set_period(session, name, body.kind, body.first_day, body.last_day,
                                       body.opens, body.closes)
    except store.StoreError as exc:
        raise _bad(exc) from None
    await session.commit()
    return PeriodOut.model_validate(entry)


@router.delete("/periods/{name}", dependencies=CHANGES,
               status_code=204, summary="Remove a period",
               description=DOC, responses=documented(404))
async def delete_period(name: PeriodName, session: Session, _: Engineer) -> None:
    if not await store.remove_period(session, name):
        raise _missing(f"period {name}")
    await session.commit()


@router.get("/routes", summary="Menu variants of called numbers",
            description="Numbers without a route run the flow `hotline`. " + DOC)
async def list_routes(session: Session, _: Engineer) -> list[RouteOut]:
    return [RouteOut.model_validate(r) for r in await store.routes(session)]


@router.put("/routes/{called}", dependencies=CHANGES,
            summary="Give a called number its menu variant (a flow)",
            description="The flow must exist in the flows folder. New calls to the number run "
            "it at once, without a restart. " + DOC, responses=REFUSED)
async def put_route(called: Number, body: RouteIn, request: Request, session: Session,
                    _: Engineer) -> RouteOut:
    known = flow_names(request.app.state.settings.flows_dir)
    try:
        entry = await store.set_route(session, called, body.flow, known, body.note)
    except store.StoreError as exc:
        raise _bad(exc) from None
    await session.commit()
    return RouteOut.model_validate(entry)


@router.delete("/routes/{called}", dependencies=CHANGES,
               status_code=204, summary="Remove a number's menu variant",
               description=DOC, responses=documented(404))
async def delete_route(called: Number, session: Session, _: Engineer) -> None:
    if not await store.remove_route(session, called):
        raise _missing(f"route for {called}")
    await session.commit()


@router.get("/preview", summary="What the dialplan services would answer now",
            description="The channel variables a call from `caller` to `called` would get "
            "(the blocklist's hit counter is not touched). " + DOC)
async def preview(caller: str, called: str, session: Session,
                  _: Engineer) -> dict[str, str]:
    return await answers.preview(session, caller, called, now())
