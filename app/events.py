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


# The agent's call controls (app/acd/controls.py): `agent` is the agent on the call, `by` who
# asked (that agent, or a supervisor's user name).
@dataclass(frozen=True, kw_only=True)
class CallControlEvent(PlatformEvent):
    kind: ClassVar[str] = "call.control"
    agent: str
    by: str = ""


@dataclass(frozen=True, kw_only=True)
class CallHeld(CallControlEvent):
    kind: ClassVar[str] = "call.held"


@dataclass(frozen=True, kw_only=True)
class CallUnheld(CallControlEvent):
    kind: ClassVar[str] = "call.unheld"
    hold_seconds: float = 0.0  # this hold's length


@dataclass(frozen=True, kw_only=True)
class CallMuted(CallControlEvent):
    kind: ClassVar[str] = "call.muted"
    muted: bool = True


@dataclass(frozen=True, kw_only=True)
class CallTransferred(CallControlEvent):
    """The agent handed the caller on: to a queue or an agent (blind), or to the agent it
    consulted (consult, completed)."""

    kind: ClassVar[str] = "call.transferred"
    transfer: str = "blind"  # blind | consult
    to_queue: str | None = None
    to_agent: str | None = None


@dataclass(frozen=True, kw_only=True)
class CallConsultStarted(CallControlEvent):
    kind: ClassVar[str] = "call.consult_started"
    to_agent: str


@dataclass(frozen=True, kw_only=True)
class CallConsultAnswered(CallControlEvent):
    kind: ClassVar[str] = "call.consult_answered"
    to_agent: str


@dataclass(frozen=True, kw_only=True)
class CallConsultEnded(CallControlEvent):
    """The consultation ended without a transfer: cancelled, or the second agent did not
    answer or hung up. The caller is back with the first agent."""

    kind: ClassVar[str] = "call.consult_ended"
    to_agent: str
    reason: str = "cancelled"  # cancelled | no_answer | hung_up


@dataclass(frozen=True, kw_only=True)
class CallHungUpByAgent(CallControlEvent):
    kind: ClassVar[str] = "call.hung_up"


def concerns_agent(event: PlatformEvent, number: str) -> bool:
    """Whether an event is about this agent (its own state, its calls, a transfer or
    consultation that reaches it)."""
    return getattr(event, "agent", None) == number or getattr(event, "to_agent", None) == number


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
