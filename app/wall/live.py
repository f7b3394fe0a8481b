"""The live wallboard: one board fed by the event feed, one broadcaster for every screen.

Events are taken into the board as they are published (the feed's filter runs in publish), so
nothing queues per event. A change wakes the broadcaster, which encodes one update and hands the
same text to every connected screen; bursts are coalesced into at most one update per
`push_every` seconds. A screen that cannot keep up loses its queued updates and gets a fresh
snapshot instead (it never slows the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from app.acd.routing import RoutingRules
from app.db.session import Database
from app.events import EventFeed, PlatformEvent, Subscription
from app.wall.board import UNKNOWN_CENTER, Board
from app.wall.seed import agent_rows, finished_today

log = logging.getLogger(__name__)

PUSH_EVERY = 0.1  # seconds: at most one update per this, bursts coalesced
CLIENT_BACKLOG = 8  # updates a screen may have queued before it is resynchronised
RESYNC = None  # queued instead of updates: send the screen a full snapshot
CLOSED = ""  # queued when the screen went away: its sender stops
MAX_SOURCES = 200  # events listed per update (for latency measurement)


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


class Screen:
    """One connected wallboard: the updates waiting to be sent to it."""

    def __init__(self) -> None:
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(CLIENT_BACKLOG)
        self.resyncs = 0

    def offer(self, text: str) -> None:
        if self.outbox.full():
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.outbox.put_nowait(RESYNC)
            self.resyncs += 1
            return
        self.outbox.put_nowait(text)

    def close(self) -> None:
        """The screen went away: whatever was queued is dropped, its sender stops."""
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.outbox.put_nowait(CLOSED)

    async def next(self) -> str | None:
        return await self.outbox.get()


class Wall:
    def __init__(self, db: Database, rules: RoutingRules, events: EventFeed,
                 short_abandon: float, push_every: float = PUSH_EVERY) -> None:
        self.db = db
        self.events = events
        self.board = Board(rules, short_abandon)
        self.push_every = push_every
        self.screens: set[Screen] = set()
        self.sources: list[tuple[str, float]] = []  # events since the last update
        self.seq = 0
        self.pushes = 0
        self._wake = asyncio.Event()
        self._last_push = float("-inf")
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Seed today's counts and the agents from the database, then follow the feed. Runs
        before calls are taken, so no event falls between the read and the subscription."""
        self.board.seed(await finished_today(self.db, self.board.day),
                        await agent_rows(self.db))
        self.follow()

    def follow(self) -> None:
        """Take the feed's events from now on and push the changes to the screens."""
        self._sub = self.events.subscribe(self._take, maxsize=1)
        self._task = asyncio.create_task(self._pushing(), name="wallboard")

    async def stop(self) -> None:
        if self._sub is not None:
            self._sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _take(self, event: PlatformEvent) -> bool:
        try:
            if self.board.apply(event):
                if len(self.sources) < MAX_SOURCES:
                    self.sources.append((event.kind, event.at))
                self._wake.set()
        except Exception:  # a bad event must not stop the board
            log.exception("wallboard could not take %s", event.kind)
        return False  # applied here: nothing to queue

    async def _pushing(self) -> None:
        while True:
            await self._wake.wait()
            gap = self._last_push + self.push_every - time.monotonic()
            if gap > 0:
                await asyncio.sleep(gap)  # coalesce a burst into one update
            self._wake.clear()
            try:
                await self._complete_new_agents()
                self.push()
            except Exception:
                log.exception("wallboard update failed")
            self._last_push = time.monotonic()

    async def _complete_new_agents(self) -> None:
        """Agents created after the start show up with their name and center."""
        for number in [n for n in self.board.changed_agents
                       if self.board.agents.get(n) is not None
                       and self.board.agents[n].center == UNKNOWN_CENTER]:
            for row in await agent_rows(self.db, number):
                known = self.board.agents[number]
                row.state, row.reason, row.since = known.state, known.reason, known.since
                row.call_id, row.queue, row.monitored = known.call_id, known.queue, known.monitored
                self.board.agents[number] = row

    def push(self) -> None:
        self.seq += 1
        self.pushes += 1
        message = self.board.delta()
        message["seq"] = self.seq
        message["sources"] = self.sources
        message["pushed_at"] = time.time()  # sources -> pushed_at: the time spent here
        self.sources = []
        text = encode(message)
        for screen in self.screens:
            screen.offer(text)

    def snapshot(self) -> dict[str, Any]:
        message = self.board.snapshot()
        message["seq"] = self.seq
        return message

    def connect(self) -> Screen:
        screen = Screen()
        self.screens.add(screen)
        return screen

    def disconnect(self, screen: Screen) -> None:
        self.screens.discard(screen)
