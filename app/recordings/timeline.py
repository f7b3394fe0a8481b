"""A recorded call's story on the recording's clock, for QA replay: IVR steps, queue waits,
agents rung and connected, holds, transfers, recording pauses, the end. Offsets are seconds
from the recording's start (negative: before the recording began, e.g. the IVR part)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import as_utc
from app.db.models import CallRecord, Recording, Role
from app.services import call_records
from app.services.personal_data import detail_for

# Trace steps that say nothing a listener needs (media plumbing, copies, variables).
QUIET_STEPS = frozenset({
    "play", "play_started", "played", "interrupted", "set", "branch", "speech_started",
    "dtmf_copy_dropped", "record", "recorded", "adopted",
})
# Trace steps whose facts the queue entries and agent legs give with their own times.
STORED_ELSEWHERE = frozenset({
    "enqueue", "queue", "dequeued", "agent_ring", "agent_no_answer", "agent_connected",
    "callback_connected",
})
ENDS = frozenset({"hangup", "hangup_by_flow", "agent_hung_up"})


def category_of(kind: str, detail: dict[str, Any]) -> str:
    """ivr, queue, hold, transfer or end for a trace step's kind."""
    if kind in ENDS:
        return "end"
    if "transfer" in kind or "consult" in kind:
        return "transfer"
    if kind == "hold" and "bridge" in detail:
        return "queue"  # music on hold in the queue's holding bridge
    if "hold" in kind or kind in ("held", "resumed"):
        return "hold"
    if kind.startswith("queue"):
        return "queue"
    return "ivr"


@dataclass
class TimelineEvent:
    offset: float
    category: str  # ivr, queue, ring, connect, hold, transfer, pause, end
    kind: str
    end_offset: float | None = None  # spans: queue waits, agent talk, pauses
    agent: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timeline:
    recording_id: int
    call_id: str
    recording_started_at: datetime
    call_started_at: datetime | None
    duration_seconds: float | None
    events: list[TimelineEvent]


async def timeline(session: AsyncSession, rec: Recording, role: Role) -> Timeline:
    origin = as_utc(rec.started_at)

    def at(moment: datetime | None) -> float | None:
        return None if moment is None else round((as_utc(moment) - origin).total_seconds(), 3)

    events: list[TimelineEvent] = []
    call: CallRecord | None = await call_records.get_call(session, rec.call_id)
    for step in call.steps if call else []:
        if step.kind in QUIET_STEPS or step.kind in STORED_ELSEWHERE:
            continue
        offset = at(step.at)
        assert offset is not None
        events.append(TimelineEvent(offset, category_of(step.kind, step.detail), step.kind,
                                    detail=detail_for(role, step.detail)))
    for entry in await call_records.queue_entries(session, rec.call_id):
        offset = at(entry.entered_at)
        assert offset is not None
        events.append(TimelineEvent(
            offset, "queue", "queue", end_offset=at(entry.left_at),
            detail={"queue": entry.queue, "result": entry.result.value if entry.result else None,
                    "wait_seconds": entry.wait_seconds, "priority": entry.priority}))
    for leg, number in await call_records.agent_legs(session, rec.call_id):
        ring = at(leg.ring_at)
        assert ring is not None
        events.append(TimelineEvent(ring, "ring", "ring", agent=number,
                                    detail={"result": leg.result.value if leg.result else None}))
        if leg.answer_at is not None:
            answered = at(leg.answer_at)
            assert answered is not None
            events.append(TimelineEvent(
                answered, "connect", "connect", end_offset=at(leg.end_at), agent=number,
                detail={"talk_seconds": leg.talk_seconds, "hold_seconds": leg.hold_seconds}))
    for start, end in rec.pauses or []:
        events.append(TimelineEvent(round(float(start), 3), "pause", "pause",
                                    end_offset=round(float(end), 3)))
    if call is not None and call.ended_at is not None and not any(
            e.category == "end" for e in events):
        ended = at(call.ended_at)
        assert ended is not None
        events.append(TimelineEvent(ended, "end", "ended",
                                    detail={"ended_by": call.ended_by.value
                                            if call.ended_by else None}))
    events.sort(key=lambda e: e.offset)
    return Timeline(rec.id, rec.call_id, origin,
                    as_utc(call.started_at) if call else None, rec.duration_seconds, events)
