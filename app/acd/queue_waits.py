"""Callers waiting in each queue now, with how long each has waited: the open live entries of
the queue table (shared by every node), of calls that have not ended."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import as_utc
from app.db.models import CallRecord, OfferKind, QueueEntry
from app.pbx.live import seconds_since, shown_number


class WaitingCaller(BaseModel):
    call_id: str = Field(description="the call (its PBX channel id)")
    caller: str = Field(description="caller number, masked")
    priority: bool
    entered_at: datetime
    wait_seconds: int


class QueueWaits(BaseModel):
    queue: str
    waiting: int
    longest_wait_seconds: int
    callers: list[WaitingCaller] = Field(description="the longest waiting first")


async def queue_waits(session: AsyncSession, now: datetime) -> list[QueueWaits]:
    """Every queue with callers waiting (an agent may be ringing for one), by name."""
    rows = await session.execute(
        select(QueueEntry.queue, QueueEntry.call_id, QueueEntry.priority,
               QueueEntry.entered_at, CallRecord.caller)
        .join(CallRecord, CallRecord.id == QueueEntry.call_id)
        .where(QueueEntry.left_at.is_(None), QueueEntry.kind == OfferKind.LIVE,
               CallRecord.ended_at.is_(None))
        .order_by(QueueEntry.entered_at))
    by_queue: dict[str, list[WaitingCaller]] = {}
    for queue, call_id, priority, entered, caller in rows:
        by_queue.setdefault(queue, []).append(WaitingCaller(
            call_id=call_id, caller=shown_number(caller), priority=priority,
            entered_at=as_utc(entered), wait_seconds=seconds_since(entered, now)))
    return [QueueWaits(queue=q, waiting=len(c), longest_wait_seconds=c[0].wait_seconds,
                       callers=c) for q, c in sorted(by_queue.items())]
