"""SQLite's write lock: how long the call path's transactions hold it, and the watch that
reports a long hold with the code that took it.

A transaction holds the database's single write lock from its first INSERT/UPDATE/DELETE to
its commit. Every statement in between is a hand-off to the connection's thread and back
through the event loop, so under load each one stretches the hold by a loop turn: the tests
count those statements (a real SQLite file, the real services)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.acd import records
from app.acd.agents import create_agent, get_agent
from app.acd.recovery import close_left_behind
from app.acd.states import set_state
from app.admin.demo_data import seed_centers
from app.core.calltrace import CallTrace, EndedBy
from app.db import migrate
from app.db.models import (
    AgentLegResult,
    CallOutcome,
    CallStep,
    Recording,
    RecordingSegment,
    RecordingStatus,
)
from app.db.session import Database
from app.db.sqlite_driver import WriteSpan, WriteWatch
from app.recordings.recorder import finalise
from app.services import call_records


class Spans(list[WriteSpan]):
    """Every write transaction's span, slow or not."""

    def ended(self, span: WriteSpan) -> None:
        self.append(span)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    async with database.session() as session:
        await seed_centers(session)
        for number in ("1001", "1002"):
            await create_agent(session, number, name=f"a{number}", center="北京",
                               skills={"ticket": 5}, password="password-1")
            await set_state(session, await get_agent(session, number), "ready", by="system")
        await session.commit()
    yield database
    await database.dispose()


@pytest.fixture
def spans(db: Database, monkeypatch: pytest.MonkeyPatch) -> Spans:
    found = Spans()
    assert db.write_watch is not None
    monkeypatch.setattr(db.write_watch, "seconds", 1e-9)  # every transaction
    monkeypatch.setattr(db.write_watch, "ended", found.ended)
    return found


def only(spans: Spans) -> WriteSpan:
    assert len(spans) == 1, spans
    found = spans.pop()
    return found


async def open_call(db: Database, call_id: str, steps: int = 0) -> CallTrace:
    trace = CallTrace(call_id, "13800138000", "12306")
    async with db.session() as session:
        await call_records.open_call(session, trace)
        await session.commit()
    for n in range(steps):
        trace.step("prompt", prompt="welcome", n=n)
    return trace


async def test_a_call_record_is_closed_with_its_steps_in_three_statements(
        db: Database, spans: Spans) -> None:
    trace = await open_call(db, "c1", steps=30)
    trace.ended(EndedBy.CALLER, "hung up")
    spans.clear()
    async with db.session() as session:
        await call_records.close_call(session, trace, language="zh", priority=False,
                                      outcome=CallOutcome.HUNG_UP_IN_MENU, reason=None,
                                      ended_by=EndedBy.CALLER)
        await session.commit()
    # The record's update, every step in one insert, the commit (one insert per step before).
    assert only(spans).statements == 3
    async with db.session() as session:
        stored = list(await session.scalars(select(CallStep).where(CallStep.call_id == "c1")
                                            .order_by(CallStep.seq)))
    assert [s.seq for s in stored] == list(range(30))
    assert stored[4].kind == "prompt" and stored[4].detail == {"prompt": "welcome", "n": 4}
    assert stored[0].at is not None


async def test_agent_leg_changes_take_the_lock_after_every_read(db: Database,
                                                                spans: Spans) -> None:
    await open_call(db, "c1")
    leg = await records.start_ringing(db, "1001", "c1", None)
    assert leg is not None
    spans.clear()
    await records.answered(db, "1001", leg, "chan-1")
    # The leg's and the state's changes, the state's history row, the commit: the agent and
    # its state were read before (the leg's change used to be flushed by those reads).
    assert only(spans).statements == 4
    await records.talk_ended(db, "1001", leg, 5.0, handover=records.Handover(
        records.TransferKind.BLIND, agent="1002"))
    assert only(spans).statements == 4
    second = await records.start_ringing(db, "1002", "c1", None)
    assert second is not None
    spans.clear()
    assert await records.ring_failed(db, "1002", second, AgentLegResult.NO_ANSWER,
                                     "chan-2") == "ready"
    assert only(spans).statements == 4


async def test_a_finalised_recording_reads_its_segments_before_writing(
        db: Database, spans: Spans, tmp_path: Path) -> None:
    from app.config import Settings

    await open_call(db, "c1")
    leg = await records.start_ringing(db, "1001", "c1", None)
    assert leg is not None
    async with db.session() as session:
        rec = Recording(call_id="c1", status=RecordingStatus.RECORDING,
                        raw_path=str(tmp_path / "c1.raw"), started_at=records.now(), pauses=[])
        session.add(rec)
        await session.flush()
        session.add(RecordingSegment(recording_id=rec.id, leg_id=leg, agent_id=1,
                                     start_offset=0.0))
        await session.commit()
    spans.clear()
    await finalise(Settings(state_dir=tmp_path), db, rec.id)  # no raw file: missing
    # The recording's and the segment's updates and the commit.
    assert only(spans).statements == 3
    async with db.session() as session:
        done = await session.get(Recording, rec.id)
        assert done is not None and done.status == RecordingStatus.MISSING


async def test_closing_what_a_restart_left_reads_everything_before_writing(
        db: Database, spans: Spans) -> None:
    for n in range(5):
        await open_call(db, f"c{n}")
        async with db.session() as session:
            await call_records.enter_queue(session, f"c{n}", "general", False, "test")
            await session.commit()
    spans.clear()
    closed = await close_left_behind(db, set(), agents=False)
    assert (closed.calls, closed.entries) == (5, 5)
    # The records' update, the entries' update, the commit: no read in between.
    assert only(spans).statements == 3


async def test_other_writers_are_free_while_talk_ended_looks_agents_up(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow step inside talk_ended before its first change: another connection can write
    meanwhile (the leg's change used to be flushed by the agents' look-ups, taking the lock
    across them)."""
    await open_call(db, "c1")
    leg = await records.start_ringing(db, "1001", "c1", None)
    assert leg is not None
    await records.answered(db, "1001", leg, "chan-1")
    others: list[str] = []
    real_get_agent = records.get_agent

    async def slow_get_agent(*args: object, **kwargs: object) -> object:
        found = await real_get_agent(*args, **kwargs)  # type: ignore[arg-type]
        # What a long await here does to everyone else: a writer on another connection,
        # refused at once if the lock is held (no busy wait).
        other = sqlite3.connect(db.url.split(":///", 1)[1], timeout=0)
        try:
            other.execute("update centers set name = name")
            other.commit()
            others.append("written")
        except sqlite3.OperationalError as exc:
            others.append(str(exc))
        finally:
            other.close()
        return found

    monkeypatch.setattr(records, "get_agent", slow_get_agent)
    await records.talk_ended(db, "1001", leg, 1.0, handover=records.Handover(
        records.TransferKind.BLIND, agent="1002"))
    assert others == ["written", "written"]


async def test_a_hold_over_the_set_time_is_logged_with_the_code_that_took_the_lock(
        db: Database, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    assert db.write_watch is not None
    monkeypatch.setattr(db.write_watch, "seconds", 0.05)
    await open_call(db, "c1")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="app.db.sqlite_driver"):
        async with db.session() as session:
            await call_records.enter_queue(session, "c1", "general", False, "test")
            await asyncio.sleep(0.1)  # a slow await (the PBX, say) before the commit
            await session.commit()
    [held] = [r.getMessage() for r in caplog.records]
    assert "write lock" in held and "2 statements" in held
    assert "app/services/call_records.py:" in held and "enter_queue" in held, held


async def test_nothing_is_logged_by_default(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    db = Database(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        with caplog.at_level(logging.WARNING, logger="app.db.sqlite_driver"):
            async with db.engine.begin() as conn:
                await conn.exec_driver_sql("create table t (id integer primary key)")
                await conn.exec_driver_sql("insert into t values (1)")
                await asyncio.sleep(0.01)
        assert db.write_watch is not None and db.write_watch.seconds == 0
        assert not caplog.records
    finally:
        await db.dispose()


def test_the_watch_logs_only_holds_over_its_time(caplog: pytest.LogCaptureFixture) -> None:
    watch = WriteWatch(2.0)
    with caplog.at_level(logging.WARNING, logger="app.db.sqlite_driver"):
        watch.ended(WriteSpan(0.0, "app/x.py:1 f", statements=3, seconds=1.5))
        assert not caplog.records
        watch.ended(WriteSpan(0.0, "app/x.py:1 f", statements=3, seconds=2.5,
                              commit_seconds=0.25))
    [record] = caplog.records
    assert "2.50 s" in record.getMessage() and "3 statements" in record.getMessage()
    assert "the commit 0.25 s" in record.getMessage()
    assert "app/x.py:1 f" in record.getMessage()
