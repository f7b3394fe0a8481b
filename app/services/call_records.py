"""Stored call records: who called, what happened step by step, how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.calltrace import CallTrace, EndedBy
from app.core.clock import as_utc, now
from app.db.models import (
    Agent,
    AgentLeg,
    CallOutcome,
    CallRecord,
    CallStep,
    Center,
    QueueEntry,
    QueueResult,
)


def carried_by(node: str) -> ColumnElement[bool]:
    """Calls of this node, and calls from before nodes were kept (anyone's to recover)."""
    return or_(CallRecord.node == node, CallRecord.node.is_(None))


def _ts(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


async def open_call(session: AsyncSession, trace: CallTrace, reopen: bool = False) -> None:
    """The record of a call as it starts, so live calls are listed too. `reopen`: a call
    picked up after a restart keeps the record it has (made with the start it had)."""
    if reopen and await session.get(CallRecord, trace.call_id) is not None:
        return
    session.add(
        CallRecord(
            id=trace.call_id,
            caller=trace.caller,
            called=trace.called,
            sip_call_id=trace.sip_call_id or None,
            started_at=_ts(trace.started_at) or datetime.now(UTC),
            node=trace.node,
        )
    )
    await session.flush()


async def close_call(
    session: AsyncSession,
    trace: CallTrace,
    *,
    language: str,
    priority: bool,
    outcome: CallOutcome,
    reason: str | None,
    ended_by: EndedBy | None = None,
) -> None:
    """Complete the record in one transaction: steps, times and outcome together."""
    record = await session.get(CallRecord, trace.call_id)
    if record is None:
        record = CallRecord(
            id=trace.call_id,
            caller=trace.caller,
            called=trace.called,
            started_at=_ts(trace.started_at) or datetime.now(UTC),
        )
        session.add(record)
    record.sip_call_id = trace.sip_call_id or record.sip_call_id
    record.answered_at = _ts(trace.answered_at)
    record.ended_at = _ts(trace.ended_at) or datetime.now(UTC)
    record.language = language
    record.priority = priority
    record.outcome = outcome
    record.outcome_reason = reason
    record.ended_by = ended_by
    record.node = record.node or trace.node
    steps = [{"call_id": trace.call_id, "seq": seq, "at": _ts(step["t"]), "kind": step["kind"],
              "detail": {k: v for k, v in step.items() if k not in ("t", "kind")}}
             for seq, step in enumerate(trace.steps)]
    await session.flush()
    if steps:
        # One statement for all the steps: added one by one, each is an INSERT of its own (the
        # ORM wants its id back), each a round trip while the write lock is held.
        await session.execute(insert(CallStep), steps)


async def enter_queue(
    session: AsyncSession, call_id: str, queue: str, priority: bool, reason: str
) -> QueueEntry:
    entry = QueueEntry(
        call_id=call_id, queue=queue, priority=priority, reason=reason, entered_at=now()
    )
    session.add(entry)
    await session.flush()
    return entry


async def leave_queue(session: AsyncSession, entry_id: int, result: QueueResult) -> None:
    """Close a queue entry with how the wait ended and how long it lasted."""
    entry = await session.get(QueueEntry, entry_id)
    if entry is not None and entry.left_at is None:
        left = now()
        entered = as_utc(entry.entered_at)
        entry.left_at = left
        entry.result = QueueResult(result)
        entry.wait_seconds = round((left - entered).total_seconds(), 3)
        await session.flush()


@dataclass(frozen=True)
class CallFilter:
    started_from: datetime | None = None
    started_to: datetime | None = None
    caller: str | None = None
    outcome: CallOutcome | None = None
    sip_call_id: str | None = None


async def list_calls(
    session: AsyncSession, flt: CallFilter, offset: int, limit: int
) -> tuple[list[CallRecord], int]:
    conditions: list[Any] = []
    if flt.started_from is not None:
        conditions.append(CallRecord.started_at >= flt.started_from)
    if flt.started_to is not None:
        conditions.append(CallRecord.started_at < flt.started_to)
    if flt.caller is not None:
        conditions.append(CallRecord.caller == flt.caller)
    if flt.outcome is not None:
        conditions.append(CallRecord.outcome == flt.outcome)
    if flt.sip_call_id is not None:
        conditions.append(CallRecord.sip_call_id == flt.sip_call_id)
    query = select(CallRecord).where(*conditions)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(CallRecord.started_at.desc()).offset(offset).limit(limit)
    )
    return list(rows), total


async def get_call(session: AsyncSession, call_id: str) -> CallRecord | None:
    return await session.scalar(
        select(CallRecord)
        .where(CallRecord.id == call_id)
        .options(selectinload(CallRecord.steps))
        .execution_options(populate_existing=True)
    )


async def queue_entries(session: AsyncSession, call_id: str) -> list[QueueEntry]:
    return list(await session.scalars(select(QueueEntry).where(QueueEntry.call_id == call_id)
                                      .order_by(QueueEntry.id)))


async def agent_legs(session: AsyncSession, call_id: str) -> list[tuple[AgentLeg, str]]:
    """Each agent rung for this call, with the agent's 工号, in ring order."""
    rows = await session.execute(
        select(AgentLeg, Agent.number).join(Agent, Agent.id == AgentLeg.agent_id)
        .where(AgentLeg.call_id == call_id).order_by(AgentLeg.id))
    return [(leg, number) for leg, number in rows]


async def center_names(session: AsyncSession) -> dict[int, str]:
    return {c.id: c.name for c in await session.scalars(select(Center))}
