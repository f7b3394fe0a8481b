"""What the wallboard reads from the database once, at start: today's finished waits (the
center's day) and every agent with its state; the event feed keeps both current after that."""

from __future__ import annotations

from datetime import UTC, date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from app.acd.states import agent_snapshot
from app.db.models import Center, QueueEntry, QueueResult
from app.db.session import Database
from app.wall.board import UNKNOWN_CENTER, AgentRow, Ended, day_start


async def finished_today(db: Database, day: date) -> list[Ended]:
    """Waits answered, or ended otherwise, since the center's midnight."""
    start = day_start(day).astimezone(UTC)
    origin, to = aliased(Center), aliased(Center)
    query = (
        select(QueueEntry.queue, origin.name, QueueEntry.result, QueueEntry.wait_seconds,
               to.name)
        .outerjoin(origin, origin.id == QueueEntry.center_id)
        .outerjoin(to, to.id == QueueEntry.overflow_to_center_id)
        .where(or_(
            QueueEntry.answered_at >= start,
            and_(QueueEntry.left_at >= start, QueueEntry.result != QueueResult.CONNECTED),
        ))
        .order_by(QueueEntry.id)
    )
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    return [Ended(queue, center or UNKNOWN_CENTER, result.value if result else "", wait, over)
            for queue, center, result, wait, over in rows]


async def agent_rows(db: Database, number: str | None = None) -> list[AgentRow]:
    async with db.session() as session:
        found = await agent_snapshot(session, number)
    return [AgentRow(number=s.number, name=s.name, center=s.center, state=s.state.value,
                     reason=s.reason, since=s.since.timestamp() if s.since else None)
            for s in found if s.enabled]
