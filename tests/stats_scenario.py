"""A scripted day of the contact center, written into a real database through the ACD's own
record-writing code (app.acd.records, app.acd.states, app.services.call_records) on a
controlled clock, so every statistic of it is known exactly.

Timeline (seconds after 2026-11-02 09:00:00 Asia/Shanghai), agents 1001 (北京) and 1002 (上海):
  0     both agents ready
  0     9 calls to `ticket`, one after the other, answered by 1001 after waits of
        5 10 15 20 25 30 8 12 18 s (ring 2 s before the answer), talk 60 s, wrap-up 15 s
  818   1 call of 北京 overflowed to 上海: answered by 1002 after 40 s, talk 120 s, wrap 15 s
  993   3 abandons after 3 s (short), 12 s and 35 s
  1043  2 callers ask for a callback after 60 s each
  1163  1 wait ended by the platform (shutdown) after 10 s
  1173  1 self-service call (30 s, no queue; spoken choice, confirmed)
  1203  callback A: 1001 rings 3 s, answers; the passenger answers 10 s later, talks 45 s;
        wrap 15 s                                   -> offer of kind callback, answered
  1276  callback B: 1001 rings 15 s, no answer      -> offer of kind callback, agent missed
  1291  callback B again: 1002 rings 3 s, answers; the passenger is not reached in 30 s;
        wrap 15 s                                   -> offer of kind callback, unreached
  1339  1002 pauses 用餐 for 600 s
  1939  both log out
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.acd import records
from app.acd.agents import create_agent, get_agent
from app.acd.states import set_state
from app.admin.demo_data import seed_centers
from app.core.calltrace import CallTrace, EndedBy
from app.db.models import AgentLegResult, CallOutcome, QueueResult
from app.db.session import Database
from app.services import call_records

START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
DAY = "2026-11-02"
CLOCKED = ("app.acd.records", "app.acd.states", "app.acd.agents", "app.services.call_records")


@dataclass
class Clock:
    at: datetime = START

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)

    @property
    def t(self) -> float:
        return (self.at - START).total_seconds()


@dataclass
class Scenario:
    db: Database
    clock: Clock
    centers: dict[str, int] = field(default_factory=dict)
    callbacks: list[int] = field(default_factory=list)

    async def agent_state(self, number: str, state: str, reason: str | None = None) -> None:
        async with self.db.session() as session:
            await set_state(session, await get_agent(session, number), state, reason)
            await session.commit()

    async def call(self, *, branch: str, spoken: bool = False, confirmed: bool = False,
                   outcome: CallOutcome = CallOutcome.TRANSFERRED,
                   ended_by: EndedBy | None = EndedBy.CALLER,
                   queue: Any = None) -> str:
        """One call: its record, its menu choice, and `queue` (a coroutine function taking the
        call id) for what happened in the queue."""
        trace = CallTrace(call_id="s-" + uuid.uuid4().hex[:10], caller="13901001234",
                          called="01012306", started_at=self.clock.now().timestamp())
        async with self.db.session() as session:
            await call_records.open_call(session, trace)
            await session.commit()
        if spoken:
            trace.step("speech", intent=branch, confidence=0.7, transcript="…")
            if confirmed:
                trace.step("confirm", intent=branch, key="1")
            trace.step("choice", prompt="main_menu", key="1", to=branch, by="speech")
        else:
            trace.step("choice", prompt="main_menu", key="1", to=branch)
        if queue is not None:
            await queue(trace.call_id)
        trace.ended_at = self.clock.now().timestamp()
        async with self.db.session() as session:
            await call_records.close_call(session, trace, language="zh", priority=False,
                                          outcome=outcome, reason="scenario", ended_by=ended_by)
            await session.commit()
        return trace.call_id

    async def enter(self, call_id: str, center: str = "北京") -> int:
        async with self.db.session() as session:
            entry = await call_records.enter_queue(session, call_id, "ticket", False, "menu")
            await session.commit()
        await records.route_entry(self.db, entry.id, "ticket", self.centers[center])
        return entry.id

    def answered_by(self, agent: str, wait: float, talk: float, overflow: str | None = None
                    ) -> Any:
        async def queue(call_id: str) -> None:
            entry = await self.enter(call_id)
            self.clock.advance(wait - 2)
            leg = await records.start_ringing(self.db, agent, call_id, entry)
            assert leg is not None
            self.clock.advance(2)
            await records.answered(self.db, agent, leg, "chan-" + call_id)
            moved = (self.centers["北京"], self.centers[overflow]) if overflow else None
            await records.close_entry(self.db, entry, QueueResult.CONNECTED, answered=True,
                                      overflow=moved)
            self.clock.advance(talk)
            await records.talk_ended(self.db, agent, leg, 15)
            self.clock.advance(15)
            assert await records.wrap_up_done(self.db, agent)
        return queue

    def left_after(self, wait: float, result: QueueResult) -> Any:
        async def queue(call_id: str) -> None:
            entry = await self.enter(call_id)
            self.clock.advance(wait)
            if result == QueueResult.CALLBACK:
                self.callbacks.append(await records.request_callback(
                    self.db, call_id, "13901001234", "ticket", "ticket", self.centers["北京"],
                    {}))
            await records.close_entry(self.db, entry, result)
        return queue

    async def callback_attempt(self, callback_id: int, agent: str, ring: float,
                               answered: bool, connect_after: float | None, talk: float
                               ) -> None:
        """One attempt as app.acd.callbacks records it: the agent's leg and the offer; the
        agent answers (or not), the passenger is reached (or not)."""
        from app.acd import callbacks

        assert await callbacks.claim(self.db, callback_id)
        async with self.db.session() as session:
            from app.db.models import Callback

            cb = await session.get(Callback, callback_id)
            assert cb is not None and cb.call_id is not None
            call_id = cb.call_id
        leg = await records.start_ringing(self.db, agent, call_id, None)
        assert leg is not None
        entry = await records.callback_offer(self.db, callback_id, leg)
        assert entry is not None
        self.clock.advance(ring)
        if not answered:
            await records.ring_failed(self.db, agent, leg, AgentLegResult.NO_ANSWER, None)
            await records.close_entry(self.db, entry, QueueResult.AGENT_MISSED)
            await callbacks.finish(self.db, callback_id, "agent_no_answer", done=False,
                                   retry_now=True)
            return
        await records.answered(self.db, agent, leg, "cb-chan")
        assert await records.leg_entry(self.db, leg) == entry
        if connect_after is not None:
            self.clock.advance(connect_after)
            await records.close_entry(self.db, entry, QueueResult.CONNECTED, answered=True)
            self.clock.advance(talk)
        else:
            self.clock.advance(talk)
            await records.close_entry(self.db, entry, QueueResult.UNREACHED)
        await callbacks.finish(self.db, callback_id, "x", done=connect_after is not None)
        await records.talk_ended(self.db, agent, leg, 15)
        self.clock.advance(15)
        assert await records.wrap_up_done(self.db, agent)


async def write_scenario(url: str, monkeypatch: pytest.MonkeyPatch,
                         agents: tuple[str, str] = ("1001", "1002")) -> None:
    """Write the day; `agents`: the 工号 of the agents called 1001 and 1002 above."""
    a, b = agents
    clock = Clock()
    for module in CLOCKED:
        monkeypatch.setattr(f"{module}.now", clock.now)
    db = Database(url)
    try:
        async with db.session() as session:
            await seed_centers(session)
            await create_agent(session, a, name="张敏", center="北京",
                               skills={"ticket": 5}, password=f"secret-{a}")
            await create_agent(session, b, name="李强", center="上海",
                               skills={"ticket": 5}, password=f"secret-{b}")
            await session.commit()
        s = Scenario(db, clock, await records.center_ids(db))
        await s.agent_state(a, "ready")
        await s.agent_state(b, "ready")
        for wait in (5, 10, 15, 20, 25, 30, 8, 12, 18):
            await s.call(branch="order_query", queue=s.answered_by(a, wait, 60))
        await s.call(branch="order_query", queue=s.answered_by(b, 40, 120, "上海"))
        assert clock.t == 993
        for wait in (3, 12, 35):
            await s.call(branch="refund_change", outcome=CallOutcome.ABANDONED,
                         queue=s.left_after(wait, QueueResult.ABANDONED))
        for _ in range(2):
            await s.call(branch="order_query", spoken=True,
                         queue=s.left_after(60, QueueResult.CALLBACK))
        await s.call(branch="order_query", outcome=CallOutcome.PLATFORM_SHUTDOWN,
                     ended_by=EndedBy.SHUTDOWN,
                     queue=s.left_after(10, QueueResult.ENDED_BY_PLATFORM))

        async def talk_in_menu(_: str) -> None:
            clock.advance(30)

        await s.call(branch="train_status", spoken=True, confirmed=True,
                     outcome=CallOutcome.SELF_SERVICE, ended_by=EndedBy.PLATFORM,
                     queue=talk_in_menu)
        assert clock.t == 1203
        first, second = s.callbacks
        await s.callback_attempt(first, a, ring=3, answered=True, connect_after=10,
                                 talk=45)
        await s.callback_attempt(second, a, ring=15, answered=False, connect_after=None,
                                 talk=0)
        await s.callback_attempt(second, b, ring=3, answered=True, connect_after=None,
                                 talk=30)
        assert clock.t == 1339
        await s.agent_state(b, "paused", "用餐")
        clock.advance(600)
        await s.agent_state(a, "logged_out")
        await s.agent_state(b, "logged_out")
    finally:
        await db.dispose()

