"""Cluster nodes watch each other through the database.

Each node writes its heartbeat every few seconds while its PBX and app are both up. A node
silent for longer than SILENT_AFTER (its PBX died, its app died and was not restarted, its
machine went away) has what it left open closed by another: its calls' records
(`platform_restart`, ended by the platform), queue entries and agent legs, and the agents who
were ringing, talking or wrapping up on its calls go back to ready. One node does it (a claim
in the database); the silent node, once back, beats again and recovers what is left itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from app.acd.recovery import Closed, close_left_behind
from app.core.clock import now
from app.db.models import PlatformNode
from app.db.session import Database

log = logging.getLogger(__name__)

BEAT_EVERY = 3.0  # seconds between heartbeats (and looks at the others)
SILENT_AFTER = 30.0  # a node without a heartbeat this long is taken for dead (an app
# restarted by `hotline cluster run` is back well before: its calls are adopted, not closed)


async def beat(db: Database, node: str) -> None:
    async with db.session() as session:
        row = await session.get(PlatformNode, node)
        if row is None:
            session.add(PlatformNode(name=node, seen_at=now()))
        else:
            row.seen_at, row.closed_at, row.closed_by = now(), None, None
        await session.commit()


async def claim_silent(db: Database, me: str, silent_after: float = SILENT_AFTER) -> list[str]:
    """Nodes silent for `silent_after` s whose leftovers nobody closed yet, claimed by `me`."""
    cutoff = now() - timedelta(seconds=silent_after)
    claimed: list[str] = []
    async with db.session() as session:
        names = list(await session.scalars(select(PlatformNode.name).where(
            PlatformNode.name != me, PlatformNode.seen_at < cutoff,
            PlatformNode.closed_at.is_(None))))
        for name in names:
            won = await session.execute(
                update(PlatformNode)
                .where(PlatformNode.name == name, PlatformNode.seen_at < cutoff,
                       PlatformNode.closed_at.is_(None))
                .values(closed_at=now(), closed_by=me)
                .execution_options(synchronize_session=False))
            if getattr(won, "rowcount", 0) == 1:
                claimed.append(name)
        await session.commit()
    return claimed


async def close_silent(db: Database, me: str, silent_after: float = SILENT_AFTER
                       ) -> dict[str, Closed]:
    closed: dict[str, Closed] = {}
    for name in await claim_silent(db, me, silent_after):
        closed[name] = await close_left_behind(db, set(), agents=True, node=name,
                                               callbacks=False)
        log.warning("node %s silent for %.0f s: closed what it left open: %s", name,
                    silent_after, closed[name])
    return closed


async def keep_watch(db: Database, me: str, alive: Callable[[], bool],
                     on_closed: Callable[[], None] = lambda: None,
                     every: float = BEAT_EVERY, silent_after: float = SILENT_AFTER) -> None:
    """Forever: beat while `alive()`, and close the leftovers of nodes gone silent
    (`on_closed` then: agents were freed, the distributor may have work)."""
    while True:
        try:
            if alive():
                await beat(db, me)
                if await close_silent(db, me, silent_after):
                    on_closed()
        except (OSError, SQLAlchemyError) as exc:
            log.warning("cluster heartbeat failed: %s", exc)
        await asyncio.sleep(every)
