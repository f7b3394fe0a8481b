"""Work orders 工单 and lost-and-found (whose reports open work orders)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.api.deps import Session, require, roles_doc
from app.api.errors import ApiError, documented
from app.api.schemas import (
    CandidateOut,
    CommentIn,
    FoundItemOut,
    IsoDate,
    LostReportIn,
    LostReportOut,
    Page,
    QueryDatetime,
    TransitionIn,
    WorkOrderEventOut,
    WorkOrderIn,
    WorkOrderOut,
)
from app.core.clock import as_utc, now
from app.db.models import (
    Channel,
    Role,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderStatus,
    WorkOrderType,
)
from app.services import work_orders as svc
from app.services.auth import Principal
from app.services.lost_found import file_lost_report, search_found_items
from app.services.masking import mask_phone
from app.services.personal_data import text_for

router = APIRouter(prefix="/api/v1", responses=documented(401, 403))

CREATE = (Role.IVR, Role.AGENT, Role.SUPERVISOR)
READ = (Role.AGENT, Role.SUPERVISOR, Role.QA)
HANDLE = (Role.AGENT, Role.SUPERVISOR)
COMMENT = (Role.AGENT, Role.SUPERVISOR, Role.QA)
LOST_SEARCH = (Role.IVR, Role.AGENT, Role.SUPERVISOR)
LOST_REPORT = (Role.IVR, Role.AGENT)
MASKED_TEXT = ("Phone and ID numbers inside the content and the comments are shown to agents "
               "and supervisors, masked to the other roles. ")


def work_order_out(wo: WorkOrder, viewer: Role, with_events: bool = True) -> WorkOrderOut:
    """The work order as this role may read it: numbers in its texts masked for some roles."""
    return WorkOrderOut(
        id=wo.id,
        number=wo.number,
        type=wo.type,
        channel=wo.channel,
        caller_number=mask_phone(wo.caller_number),
        content=text_for(viewer, wo.content),
        call_id=wo.call_id,
        recording=wo.recording,
        priority=wo.priority,
        status=wo.status,
        assigned_unit=wo.assigned_unit,
        created_at=wo.created_at,
        updated_at=wo.updated_at,
        due_at=wo.due_at,
        overdue=wo.status not in (WorkOrderStatus.RESOLVED, WorkOrderStatus.CLOSED)
        and as_utc(wo.due_at) < now(),
        events=[_event_out(e, viewer) for e in wo.events] if with_events else None,
    )


def _event_out(event: WorkOrderEvent, viewer: Role) -> WorkOrderEventOut:
    out = WorkOrderEventOut.model_validate(event)
    if out.note is not None:
        out.note = text_for(viewer, out.note)
    return out


async def _get(session: Session, ident: str) -> WorkOrder:
    wo = await svc.get_work_order(session, int(ident) if ident.isdigit() else ident)
    if wo is None:
        raise ApiError(404, "work_order_not_found", f"no work order {ident}")
    return wo


@router.get(
    "/lost-items",
    response_model=list[FoundItemOut],
    tags=["lost and found"],
    summary="Search found items",
    description=roles_doc(*LOST_SEARCH),
)
async def found_items(
    session: Session,
    user: Annotated[Principal, Depends(require(*LOST_SEARCH))],
    train: Annotated[str | None, Query(max_length=10)] = None,
    run_date: Annotated[IsoDate | None, Query(alias="date")] = None,
    q: Annotated[str | None, Query(max_length=100, description="keywords, space separated")] = None,
    include_closed: bool = False,
) -> list[FoundItemOut]:
    items = await search_found_items(
        session, train, run_date, q.split() if q else None, include_closed
    )
    return [FoundItemOut.model_validate(asdict(i)) for i in items]


@router.post(
    "/lost-items/reports",
    response_model=LostReportOut,
    status_code=201,
    tags=["lost and found"],
    summary="File a lost-item report",
    description="Stores the report, opens a lost-item work order and returns the "
    "found items that match best. " + roles_doc(*LOST_REPORT),
)
async def report_lost_item(
    body: LostReportIn, session: Session, user: Annotated[Principal, Depends(require(*LOST_REPORT))]
) -> LostReportOut:
    report, wo, candidates = await file_lost_report(
        session,
        description=body.description,
        contact_phone=body.contact_phone,
        actor=user.name,
        train_number=body.train_number.upper() if body.train_number else None,
        travel_date=body.travel_date,
        channel=body.channel,
        call_id=body.call_id,
        recording=body.recording,
    )
    await session.commit()
    wo = await _get(session, str(wo.id))
    return LostReportOut(
        report_id=report.id,
        work_order=work_order_out(wo, user.role),
        candidates=[
            CandidateOut(item=FoundItemOut.model_validate(asdict(c.item)), score=c.score)
            for c in candidates
        ],
    )


@router.post(
    "/work-orders",
    response_model=WorkOrderOut,
    status_code=201,
    tags=["work orders"],
    summary="Open a work order",
    description="The due time follows the type's SLA. " + roles_doc(*CREATE),
)
async def create(
    body: WorkOrderIn, session: Session, user: Annotated[Principal, Depends(require(*CREATE))]
) -> WorkOrderOut:
    wo = await svc.create_work_order(
        session,
        type=body.type,
        channel=body.channel,
        content=body.content,
        actor=user.name,
        caller_number=body.caller_number,
        call_id=body.call_id,
        recording=body.recording,
        priority=body.priority,
    )
    await session.commit()
    return work_order_out(await _get(session, str(wo.id)), user.role)


@router.get(
    "/work-orders",
    response_model=Page[WorkOrderOut],
    tags=["work orders"],
    summary="List work orders, newest first",
    description=MASKED_TEXT + roles_doc(*READ),
)
async def list_orders(
    session: Session,
    user: Annotated[Principal, Depends(require(*READ))],
    status: WorkOrderStatus | None = None,
    type: WorkOrderType | None = None,
    channel: Channel | None = None,
    caller_number: Annotated[str | None, Query(max_length=20)] = None,
    unit: Annotated[str | None, Query(max_length=60)] = None,
    priority: bool | None = None,
    created_from: QueryDatetime | None = None,
    created_to: QueryDatetime | None = None,
    call_id: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[WorkOrderOut]:
    flt = svc.WorkOrderFilter(
        status=status,
        type=type,
        channel=channel,
        caller_number=caller_number,
        assigned_unit=unit,
        priority=priority,
        created_from=created_from,
        created_to=created_to,
        call_id=call_id,
    )
    rows, total = await svc.list_work_orders(session, flt, offset, limit)
    return Page[WorkOrderOut](
        items=[work_order_out(w, user.role, with_events=False) for w in rows],
        total=total,
        offset=offset,
        limit=limit,
    )


@router.get(
    "/work-orders/{ident}",
    response_model=WorkOrderOut,
    tags=["work orders"],
    summary="One work order with its history (by id or number)",
    responses=documented(404),
    description=MASKED_TEXT + roles_doc(*READ),
)
async def get_order(
    ident: str, session: Session, user: Annotated[Principal, Depends(require(*READ))]
) -> WorkOrderOut:
    return work_order_out(await _get(session, ident), user.role)


@router.post(
    "/work-orders/{ident}/transitions",
    response_model=WorkOrderOut,
    tags=["work orders"],
    summary="Move a work order to another status",
    responses=documented(404, 409),
    description="new → assigned (with unit) → in_progress → resolved → closed; "
    "resolved or closed → reopened. Other moves are refused with 409. " + roles_doc(*HANDLE),
)
async def move(
    ident: str,
    body: TransitionIn,
    session: Session,
    user: Annotated[Principal, Depends(require(*HANDLE))],
) -> WorkOrderOut:
    wo = await _get(session, ident)
    try:
        await svc.transition(session, wo, body.to, user.name, body.unit, body.note)
    except svc.InvalidTransition as exc:
        raise ApiError(
            409,
            "invalid_transition",
            str(exc),
            {"status": exc.current.value, "allowed": exc.allowed},
        ) from exc
    except svc.MissingUnit as exc:
        raise ApiError(
            422,
            "invalid_request",
            str(exc),
            [{"field": "body.unit", "problem": "required to assign"}],
        ) from exc
    await session.commit()
    return work_order_out(await _get(session, ident), user.role)


@router.post(
    "/work-orders/{ident}/comments",
    response_model=WorkOrderOut,
    tags=["work orders"],
    summary="Comment on a work order",
    responses=documented(404),
    description=roles_doc(*COMMENT),
)
async def add_comment(
    ident: str,
    body: CommentIn,
    session: Session,
    user: Annotated[Principal, Depends(require(*COMMENT))],
) -> WorkOrderOut:
    wo = await _get(session, ident)
    await svc.comment(session, wo, user.name, body.note)
    await session.commit()
    return work_order_out(await _get(session, ident), user.role)
