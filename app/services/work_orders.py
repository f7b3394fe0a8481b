"""Work orders 工单: creation with SLA, the status machine, comments, history, listing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.clock import CST, now
from app.db.models import (
    CallRecord,
    Channel,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderStatus,
    WorkOrderType,
)

S = WorkOrderStatus

# Hours to resolve, per type: help requests are urgent, praise can wait.
SLA_HOURS = {
    WorkOrderType.HELP: 2,
    WorkOrderType.COMPLAINT: 24,
    WorkOrderType.CONSULTATION: 24,
    WorkOrderType.LOST_ITEM: 72,
    WorkOrderType.SUGGESTION: 168,
    WorkOrderType.PRAISE: 168,
}

TRANSITIONS: dict[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    S.NEW: frozenset({S.ASSIGNED}),
    S.ASSIGNED: frozenset({S.ASSIGNED, S.IN_PROGRESS}),  # re-assigning to another unit
    S.IN_PROGRESS: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.ASSIGNED, S.IN_PROGRESS}),
}


class InvalidTransition(ValueError):
    def __init__(self, current: WorkOrderStatus, wanted: WorkOrderStatus) -> None:
        self.current = current
        self.wanted = wanted
        self.allowed = sorted(s.value for s in TRANSITIONS[current])
        super().__init__(
            f"a work order that is {current.value} cannot become {wanted.value}; "
            f"allowed: {', '.join(self.allowed) or 'none'}"
        )


class MissingUnit(ValueError):
    pass


@dataclass(frozen=True)
class WorkOrderFilter:
    status: WorkOrderStatus | None = None
    type: WorkOrderType | None = None
    channel: Channel | None = None
    caller_number: str | None = None
    assigned_unit: str | None = None
    priority: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    call_id: str | None = None


async def create_work_order(
    session: AsyncSession,
    *,
    type: WorkOrderType,
    channel: Channel,
    content: str,
    actor: str,
    caller_number: str | None = None,
    call_id: str | None = None,
    recording: str | None = None,
    priority: bool = False,
) -> WorkOrder:
    created = now()
    if caller_number is None and call_id:  # saved against a call: the call's number
        known = await session.scalar(select(CallRecord.caller).where(CallRecord.id == call_id))
        caller_number = known[:20] if known else None
    wo = WorkOrder(
        number=uuid.uuid4().hex[:20],
        type=type,
        channel=channel,
        content=content,
        caller_number=caller_number,
        call_id=call_id,
        recording=recording,
        priority=priority,
        status=S.NEW,
        created_at=created,
        updated_at=created,
        due_at=created + timedelta(hours=SLA_HOURS[type]),
    )
    session.add(wo)
    await session.flush()
    # A number a caller can write down and read back: GD + date + sequence.
    wo.number = f"GD{created.astimezone(CST):%y%m%d}{wo.id:06d}"
    session.add(
        WorkOrderEvent(
            work_order_id=wo.id,
            at=created,
            actor=actor,
            action="created",
            to_status=S.NEW.value,
            note=None,
        )
    )
    await session.flush()
    return wo


async def get_work_order(session: AsyncSession, ident: int | str) -> WorkOrder | None:
    column = WorkOrder.id if isinstance(ident, int) else WorkOrder.number
    return await session.scalar(
        select(WorkOrder)
        .where(column == ident)
        .options(selectinload(WorkOrder.events))
        .execution_options(populate_existing=True)
    )


async def transition(
    session: AsyncSession,
    wo: WorkOrder,
    to: WorkOrderStatus,
    actor: str,
    unit: str | None = None,
    note: str | None = None,
) -> WorkOrder:
    if to not in TRANSITIONS[wo.status]:
        raise InvalidTransition(wo.status, to)
    if to == S.ASSIGNED:
        if not unit:
            raise MissingUnit("assigning needs the unit (station or train crew) to assign to")
        wo.assigned_unit = unit
    at = now()
    session.add(
        WorkOrderEvent(
            work_order_id=wo.id,
            at=at,
            actor=actor,
            action="transition",
            from_status=wo.status.value,
            to_status=to.value,
            note=note,
            data={"unit": unit} if unit else None,
        )
    )
    wo.status = to
    wo.updated_at = at
    await session.flush()
    await session.refresh(wo, ["events"])
    return wo


async def comment(session: AsyncSession, wo: WorkOrder, actor: str, note: str) -> WorkOrder:
    at = now()
    session.add(
        WorkOrderEvent(work_order_id=wo.id, at=at, actor=actor, action="comment", note=note)
    )
    wo.updated_at = at
    await session.flush()
    await session.refresh(wo, ["events"])
    return wo


async def list_work_orders(
    session: AsyncSession, flt: WorkOrderFilter, offset: int, limit: int
) -> tuple[list[WorkOrder], int]:
    query = select(WorkOrder)
    conditions = []
    if flt.status is not None:
        conditions.append(WorkOrder.status == flt.status)
    if flt.type is not None:
        conditions.append(WorkOrder.type == flt.type)
    if flt.channel is not None:
        conditions.append(WorkOrder.channel == flt.channel)
    if flt.caller_number is not None:
        conditions.append(WorkOrder.caller_number == flt.caller_number)
    if flt.assigned_unit is not None:
        conditions.append(WorkOrder.assigned_unit == flt.assigned_unit)
    if flt.priority is not None:
        conditions.append(WorkOrder.priority == flt.priority)
    if flt.created_from is not None:
        conditions.append(WorkOrder.created_at >= flt.created_from)
    if flt.created_to is not None:
        conditions.append(WorkOrder.created_at < flt.created_to)
    if flt.call_id is not None:
        conditions.append(WorkOrder.call_id == flt.call_id)
    query = query.where(*conditions)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).offset(offset).limit(limit)
    )
    return list(rows), total
