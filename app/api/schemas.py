"""Request and response bodies of the API (pydantic v2)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

from app.db.models import Channel, WorkOrderStatus, WorkOrderType

T = TypeVar("T")



def _with_zone(moment: datetime) -> datetime:
    # Times are stored in UTC; SQLite hands them back without their zone.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Every datetime the API answers with carries its zone (RFC 3339 date-time).
UtcDatetime = Annotated[datetime, AfterValidator(_with_zone)]

_NUMBER = re.compile(r"^\s*[-+]?\d+(\.\d*)?\s*$")


def _iso_only(value: object) -> object:
    # pydantic would read a bare number as a Unix time; the API documents ISO 8601 only.
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("ISO 8601 text is needed, e.g. 2026-12-01 or 2026-12-01T08:00:00+08:00")
    return value


# Dates and datetimes given to the API: ISO 8601 text only, as documented.
QueryDatetime = Annotated[datetime, BeforeValidator(_iso_only)]
IsoDate = Annotated[date, BeforeValidator(_iso_only)]
IsoTime = Annotated[time, BeforeValidator(_iso_only)]

# Path form of a train number; the route normalises it (spaces, case).
TRAIN_NUMBER_PATH = r"^\s*[GDCZTKgdcztk](\s*\d){1,4}\s*$"

PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?\d{3,20}$")]


class LookupIn(BaseModel):
    order_no: str = Field(
        min_length=9,
        max_length=20,
        examples=["E123456789"],
        description="order number: E + 9 digits (the 9 digits alone also work)",
    )
    verification: str = Field(
        pattern=r"^[0-9Xx]{4}$",
        examples=["1234"],
        description="last 4 characters of the ID number or of the phone",
    )
    caller_number: PhoneNumber | None = Field(
        None, description="the calling number, so failures are throttled per caller"
    )


class TicketOut(BaseModel):
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


class OrderOut(BaseModel):
    order_no: str
    passenger_name: str = Field(description="masked")
    id_number: str = Field(description="masked, e.g. 1101**********1234")
    phone: str = Field(description="masked, e.g. 138****8000")
    tickets: list[TicketOut]


class TrainStatusOut(BaseModel):
    train_number: str
    run_date: date
    status: str = Field(description="on_time, delayed or cancelled")
    delay_minutes: int
    origin: str
    destination: str
    departure: str | None
    arrival: str | None
    last_station: str | None


class TimetableEntryOut(BaseModel):
    train_number: str
    train_type: str
    from_station: str
    to_station: str
    departure: str | None
    arrival: str | None
    duration_minutes: int
    status: str
    delay_minutes: int


class FoundItemOut(BaseModel):
    id: int
    train_number: str | None
    run_date: date | None
    coach: str | None
    description: str
    category: str
    kept_at: str
    status: str
    found_at: UtcDatetime


class LostReportIn(BaseModel):
    description: str = Field(min_length=2, max_length=1000)
    contact_phone: PhoneNumber
    train_number: str | None = Field(None, pattern=r"^[GDCZTKgdcztk]\d{1,4}$")
    travel_date: IsoDate | None = None
    channel: Channel = Channel.VOICE
    call_id: str | None = Field(None, max_length=64)
    recording: str | None = Field(None, max_length=255)


class CandidateOut(BaseModel):
    item: FoundItemOut
    score: float


class WorkOrderEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: UtcDatetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None


class WorkOrderOut(BaseModel):
    id: int
    number: str
    type: WorkOrderType
    channel: Channel
    caller_number: str | None = Field(description="masked")
    content: str
    call_id: str | None
    recording: str | None
    priority: bool
    status: WorkOrderStatus
    assigned_unit: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    due_at: UtcDatetime
    overdue: bool
    events: list[WorkOrderEventOut] | None = None


class LostReportOut(BaseModel):
    report_id: int
    work_order: WorkOrderOut
    candidates: list[CandidateOut]


class WorkOrderIn(BaseModel):
    type: WorkOrderType
    channel: Channel = Channel.VOICE
    content: str = Field(min_length=1, max_length=4000)
    caller_number: PhoneNumber | None = None
    call_id: str | None = Field(None, max_length=64)
    recording: str | None = Field(None, max_length=255)
    priority: StrictBool = False


class TransitionIn(BaseModel):
    to: WorkOrderStatus
    unit: str | None = Field(
        None, min_length=1, max_length=60, description="station or train crew; required to assign"
    )
    note: str | None = Field(None, max_length=2000)


class CommentIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int
