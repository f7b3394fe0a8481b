"""Stored call records for supervisors and QA: filters, one call with every step."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.api.deps import Session, require, roles_doc
from app.api.errors import ApiError, documented
from app.api.schemas import QueryDatetime, UtcDatetime
from app.core.calltrace import EndedBy
from app.db.models import CallOutcome, CallRecord, Role
from app.services import call_records
from app.services.auth import Principal
from app.services.masking import mask_phone
from app.services.personal_data import detail_for

router = APIRouter(prefix="/api/v1/calls", tags=["calls"], responses=documented(401, 403))
READ = (Role.SUPERVISOR, Role.QA)


class CallStepOut(BaseModel):
    seq: int
    at: UtcDatetime
    kind: str
    detail: dict[str, Any]


class QueueEntryOut(BaseModel):
    queue: str
    priority: bool
    reason: str
    entered_at: UtcDatetime
    left_at: UtcDatetime | None
    result: str | None
    wait_seconds: float | None = None
    skill: str | None = None
    center: str | None = None
    overflow_from: str | None = None
    overflow_to: str | None = None
    answered_at: UtcDatetime | None = None
    kind: str = "live"  # live: the caller waited; callback: one callback attempt
    transferred: bool = False  # an agent transferred the caller into this queue


class AgentLegOut(BaseModel):
    agent: str
    ring_at: UtcDatetime
    answer_at: UtcDatetime | None
    end_at: UtcDatetime | None
    result: str | None
    talk_seconds: float | None  # without the holds
    hold_seconds: float | None
    wrap_up_seconds: float | None
    kind: str = "queue"  # queue (offered by the ACD), transfer (blind), consult
    hold_count: int = 0
    from_agent: str | None = None  # who transferred the caller to this leg or consulted it
    transfer: str | None = None  # this leg handed the caller on: blind or consult
    transferred_to_queue: str | None = None
    transferred_to_agent: str | None = None


class CallOut(BaseModel):
    id: str
    caller: str | None
    called: str
    sip_call_id: str | None
    language: str
    priority: bool
    started_at: UtcDatetime
    answered_at: UtcDatetime | None
    ended_at: UtcDatetime | None
    outcome: CallOutcome | None
    outcome_reason: str | None
    ended_by: EndedBy | None = None  # who ended it: the caller, an agent, or a platform fault
    steps: list[CallStepOut] | None = None
    queue_entries: list[QueueEntryOut] | None = None
    agent_legs: list[AgentLegOut] | None = None


class CallPage(BaseModel):
    items: list[CallOut]
    total: int
    offset: int
    limit: int


def call_out(c: CallRecord) -> CallOut:
    return CallOut(
        id=c.id,
        caller=mask_phone(c.caller),
        called=c.called,
        sip_call_id=c.sip_call_id,
        language=c.language,
        priority=c.priority,
        started_at=c.started_at,
        answered_at=c.answered_at,
        ended_at=c.ended_at,
        outcome=c.outcome,
        outcome_reason=c.outcome_reason,
        ended_by=c.ended_by,
    )


@router.get(
    "", response_model=CallPage, summary="Stored calls, newest first", description=roles_doc(*READ)
)
async def list_calls(
    session: Session,
    user: Annotated[Principal, Depends(require(*READ))],
    started_from: QueryDatetime | None = None,
    started_to: QueryDatetime | None = None,
    caller: Annotated[str | None, Query(max_length=40)] = None,
    outcome: CallOutcome | None = None,
    sip_call_id: Annotated[str | None, Query(max_length=255)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CallPage:
    flt = call_records.CallFilter(
        started_from=started_from,
        started_to=started_to,
        caller=caller,
        outcome=outcome,
        sip_call_id=sip_call_id,
    )
    rows, total = await call_records.list_calls(session, flt, offset, limit)
    return CallPage(items=[call_out(c) for c in rows], total=total, offset=offset, limit=limit)


@router.get(
    "/{call_id}",
    response_model=CallOut,
    summary="One call with every step",
    responses=documented(404),
    description="Verification keys are never stored; phone and ID numbers in the steps' texts "
    "(transcripts) are masked except for supervisors. " + roles_doc(*READ),
)
async def get_call(
    call_id: str, session: Session, user: Annotated[Principal, Depends(require(*READ))]
) -> CallOut:
    record = await call_records.get_call(session, call_id)
    if record is None:
        raise ApiError(404, "call_not_found", f"no call {call_id}")
    centers = await call_records.center_names(session)
    out = call_out(record)
    out.steps = [
        CallStepOut(seq=s.seq, at=s.at, kind=s.kind, detail=detail_for(user.role, s.detail))
        for s in record.steps
    ]
    out.queue_entries = [
        QueueEntryOut(
            queue=q.queue,
            priority=q.priority,
            reason=q.reason,
            entered_at=q.entered_at,
            left_at=q.left_at,
            result=q.result,
            wait_seconds=q.wait_seconds,
            skill=q.skill,
            center=centers.get(q.center_id) if q.center_id else None,
            overflow_from=centers.get(q.overflow_from_center_id)
            if q.overflow_from_center_id else None,
            overflow_to=centers.get(q.overflow_to_center_id) if q.overflow_to_center_id else None,
            answered_at=q.answered_at,
            kind=q.kind,
            transferred=q.transferred_from_leg_id is not None,
        )
        for q in await call_records.queue_entries(session, call_id)
    ]
    legs = await call_records.agent_legs(session, call_id)
    by_leg = {leg.id: number for leg, number in legs}
    by_agent = {leg.agent_id: number for leg, number in legs}  # a transfer's agent was rung
    out.agent_legs = [AgentLegOut(agent=number, ring_at=leg.ring_at, answer_at=leg.answer_at,
                                  end_at=leg.end_at, result=leg.result,
                                  talk_seconds=leg.talk_seconds, hold_seconds=leg.hold_seconds,
                                  wrap_up_seconds=leg.wrap_up_seconds, kind=leg.kind.value,
                                  hold_count=leg.hold_count or 0,
                                  from_agent=by_leg.get(leg.from_leg_id or 0),
                                  transfer=leg.transfer_kind.value if leg.transfer_kind else None,
                                  transferred_to_queue=leg.transfer_queue,
                                  transferred_to_agent=by_agent.get(leg.transfer_agent_id or 0))
                      for leg, number in legs]
    return out
