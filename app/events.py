"""One feed of the platform's call, queue and agent events.

Published once, where the thing happens; the screen pop, the wallboard, statistics and
recording subscribe. Publishing never blocks and never fails the publisher: a subscriber that
falls behind loses its oldest events (counted in `dropped`), not the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PlatformEvent:
    kind: ClassVar[str] = "event"
    call_id: str | None = None
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, kw_only=True)
class CallStarted(PlatformEvent):
    kind: ClassVar[str] = "call.started"
    caller: str = ""  # masked
    called: str = ""


@dataclass(frozen=True, kw_only=True)
class CallEnded(PlatformEvent):
    kind: ClassVar[str] = "call.ended"
    outcome: str = ""
    reason: str | None = None
    ended_by: str = ""  # caller, agent, platform, platform_shutdown, pbx_restart, ...


@dataclass(frozen=True, kw_only=True)
class QueueJoined(PlatformEvent):
    kind: ClassVar[str] = "queue.joined"
    queue: str
    priority: bool = False
    entry_id: int | None = None
    center: str | None = None  # the center the caller entered at (None without an ACD)


@dataclass(frozen=True, kw_only=True)
class QueueLeft(PlatformEvent):
    kind: ClassVar[str] = "queue.left"
    queue: str
    result: str
    wait_seconds: float | None = None
    entry_id: int | None = None
    center: str | None = None


@dataclass(frozen=True, kw_only=True)
class AgentStateChanged(PlatformEvent):
    kind: ClassVar[str] = "agent.state"
    agent: str
    state: str
    reason: str | None = None
    seconds: float | None = None  # how long the state lasts when known (wrap-up)


@dataclass(frozen=True, kw_only=True)
class AgentMonitored(PlatformEvent):
    """A supervisor started (active) or stopped listening in, whispering or barging."""

    kind: ClassVar[str] = "agent.monitored"
    agent: str
    mode: str  # listen, whisper, barge
    supervisor: str
    active: bool


Filter = Callable[[PlatformEvent], bool]


class Subscription:
    def __init__(self, feed: EventFeed, accept: Filter | None, maxsize: int) -> None:
        self.feed = feed
        self.accept = accept
        self.queue: asyncio.Queue[PlatformEvent] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: PlatformEvent) -> None:
        if self.accept is not None and not self.accept(event):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> PlatformEvent | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self.feed.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[PlatformEvent]:
        while True:
            yield await self.queue.get()


class EventFeed:
    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []
        self.published = 0

    def subscribe(self, accept: Filter | None = None, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, accept, maxsize)
        self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    def publish(self, event: PlatformEvent) -> None:
        self.published += 1
        for sub in list(self._subscribers):
            try:
                sub.offer(event)
            except Exception:  # a broken filter must not fail the call that published
                log.exception("event subscriber failed on %s", event.kind)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
