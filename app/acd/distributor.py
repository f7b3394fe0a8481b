"""The distributor: matches waiting callers with ready agents and offers each pair to the
caller's own call task, which rings the agent and bridges.

State lives in the database (agent states, queue entries, agent legs), so it survives and can be
recovered; the distributor keeps only who waits on this node and which agents it has offered.
A round runs when something changes (a caller joins or leaves, an agent is released) and at
least once a second (agents changed by the API or by feature codes, overflow timers). A round
reads the agents from the database only when its copy is older than a second: in between, the
agent state changes published on the event feed keep the copy current, so ringing an agent
waits for no query. The copy only proposes: the ring itself re-checks the agent's state in the
database (records.start_ringing).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from app.acd.routing import RoutingRules
from app.acd.selection import AgentState as ViewState
from app.acd.selection import (
    AgentView,
    Assignment,
    WaitingCall,
    eligible_anywhere,
    next_assignments,
)
from app.acd.states import agent_snapshot
from app.ari_handlers.models import Notice
from app.db.session import Database
from app.events import AgentStateChanged, EventFeed, PlatformEvent, Subscription

log = logging.getLogger(__name__)

ROUND_EVERY = 1.0  # seconds between rounds when nothing happens
RETRY = 5.0  # seconds before an agent who did not answer a caller is offered that caller again


class AgentOffered(Notice):
    """Delivered to a waiting caller's call: ring this agent now."""

    assignment: Any = None  # app.acd.selection.Assignment


@dataclass
class Waiter:
    call_id: str
    deliver: Any  # the call's deliver(event)
    waiting: WaitingCall
    entry_id: int
    offered_to: str | None = None  # agent currently offered / ringing
    failed: dict[str, float] = field(default_factory=dict)  # agent -> when it did not answer


class Distributor:
    def __init__(self, db: Database, rules: RoutingRules, events: EventFeed) -> None:
        # Callbacks due now (as waiting calls) and who rings an agent for one: set by the ACD.
        self.due_callbacks: Callable[[], Awaitable[list[WaitingCall]]] | None = None
        self.ring_callback: Callable[[Assignment], None] | None = None
        self.db = db
        self.rules = rules
        self.events = events
        self.waiters: dict[str, Waiter] = {}
        self.reserved: dict[str, str] = {}  # agent number -> call id it is offered to
        self.agents: list[AgentView] = []
        self.due: list[WaitingCall] = []  # callbacks due, as of the last read
        self.due_read = float("-inf")
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self.rounds = 0
        self.last_round = float("-inf")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="acd-distributor")
        # Subscribed before start() returns: no agent change is missed. The copy of the agents
        # is updated as the change is published (the filter runs in publish), not a loop turn
        # later.
        sub = self.events.subscribe(self.apply)
        self._listener = asyncio.create_task(self._listen(sub), name="acd-agent-changes")

    async def stop(self) -> None:
        for task in (self._task, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def apply(self, event: PlatformEvent) -> bool:
        """Apply an agent's new state to the copy; True (wake a round) when it became ready."""
        if not isinstance(event, AgentStateChanged):
            return False
        for i, agent in enumerate(self.agents):
            if agent.number == event.agent:
                # A talk that ended starts the agent's idle time (longest idle goes first).
                idle = event.at if event.state == "wrap_up" else agent.idle_since
                self.agents[i] = dataclasses.replace(
                    agent, state=cast(ViewState, event.state), idle_since=idle)
                break
        return event.state == "ready"

    async def _listen(self, sub: Subscription) -> None:
        """An agent made ready elsewhere (API, feature code) gets a caller at once."""
        try:
            while True:
                if await sub.get() is not None:
                    self.kick()
        finally:
            sub.close()

    # --- the callers' side -------------------------------------------------------------------
    def join(self, call_id: str, deliver: Any, waiting: WaitingCall, entry_id: int) -> Waiter:
        waiter = Waiter(call_id, deliver, waiting, entry_id)
        self.waiters[call_id] = waiter
        self.kick()
        return waiter

    def leave(self, call_id: str) -> None:
        waiter = self.waiters.pop(call_id, None)
        if waiter is not None and waiter.offered_to is not None:
            self.reserved.pop(waiter.offered_to, None)
        self.kick()

    def release(self, call_id: str, agent: str, answered: bool = True) -> None:
        """The offer of `agent` to `call_id` is over (no answer, rejected, or the talk ended).
        An agent who did not answer is tried again for this caller only after the others
        (or after RETRY seconds), like app_queue's `retry`."""
        if self.reserved.get(agent) == call_id:
            del self.reserved[agent]
        waiter = self.waiters.get(call_id)
        if waiter is not None and waiter.offered_to == agent:
            waiter.offered_to = None
            if not answered:
                waiter.failed[agent] = time.monotonic()
        self.kick()

    def anyone_for(self, skill: str) -> bool:
        """Whether any agent anywhere is logged in with the skill (from the last round)."""
        return eligible_anywhere(skill, self.agents)

    def position(self, call_id: str) -> int:
        """1-based place among the callers of the same queue waiting before this one."""
        me = self.waiters.get(call_id)
        if me is None:
            return 0
        ahead = [w for w in self.waiters.values()
                 if w.waiting.queue == me.waiting.queue and w.offered_to is None
                 and (w.waiting.priority, -w.waiting.entered_at)
                 > (me.waiting.priority, -me.waiting.entered_at)]
        return len(ahead) + 1

    # --- agents ------------------------------------------------------------------------------
    def publish_state(self, agent: str, state: str, reason: str | None = None,
                      call_id: str | None = None, seconds: float | None = None) -> None:
        self.events.publish(AgentStateChanged(agent=agent, state=state, reason=reason,
                                              call_id=call_id, seconds=seconds))

    def kick(self) -> None:
        self._kick.set()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), ROUND_EVERY)
            self._kick.clear()
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("distribution round failed")
                await asyncio.sleep(0.5)

    def fresh(self, within: float = ROUND_EVERY) -> bool:
        """Whether the agents were read from the database within the last `within` s."""
        return time.monotonic() - self.last_round < within

    async def read_agents(self) -> None:
        self.last_round = time.monotonic()
        async with self.db.session() as session:
            snapshot = await agent_snapshot(session)
        self.agents = [
            AgentView(number=s.number, center=s.center, state=s.state.value,
                      skills=s.skills, expert=s.expert,
                      idle_since=s.last_call_end_at.timestamp() if s.last_call_end_at else None)
            for s in snapshot if s.enabled
        ]

    async def due_now(self) -> list[WaitingCall]:
        """Callbacks due, read at most once a second (they are due minutes apart)."""
        if self.due_callbacks is None:
            return []
        if time.monotonic() - self.due_read >= ROUND_EVERY:
            self.due_read = time.monotonic()
            self.due = await self.due_callbacks()
        return self.due

    def unready(self, agent: str) -> None:
        """The database says the agent is not ready after all: no offer until the next read."""
        self.agents = [a for a in self.agents if a.number != agent]

    async def round(self) -> list[Assignment]:
        self.rounds += 1
        if not self.fresh():
            await self.read_agents()
        free = [a for a in self.agents if a.number not in self.reserved]
        waiting = [w.waiting for w in self.waiters.values() if w.offered_to is None]
        if self.due_callbacks is not None and self.ring_callback is not None:
            busy = set(self.reserved.values())
            waiting += [c for c in await self.due_now() if c.call_id not in busy]
        if not waiting:
            return []
        recent = time.monotonic() - RETRY
        exclude = {w.call_id: {a for a, at in w.failed.items() if at > recent}
                   for w in self.waiters.values() if w.failed}
        made = next_assignments(waiting, free, time.time(), self.rules, exclude)
        for assignment in made:
            agent = assignment.agent.number
            if assignment.call.callback:
                assert self.ring_callback is not None
                self.reserved[agent] = assignment.call.call_id
                # Claimed now: not offered again from the list read before.
                self.due = [c for c in self.due if c.call_id != assignment.call.call_id]
                self.ring_callback(assignment)
                continue
            waiter = self.waiters[assignment.call.call_id]
            self.reserved[agent] = waiter.call_id
            waiter.offered_to = agent
            waiter.deliver(AgentOffered(type="AgentOffered", channel_id=waiter.call_id,
                                        assignment=assignment))
        return made
