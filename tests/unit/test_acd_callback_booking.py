"""A caller who books a callback and hangs up while hearing "callback booked" ended the wait
with a callback, not an abandon (statistics count callbacks apart: docs/statistics.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.acd.routing import load_routing
from app.acd.waiting import QueueVisit
from app.ari_handlers.call import CallHungUp
from app.core.calltrace import CallTrace, EndedBy
from app.db import migrate
from app.db.models import Callback, QueueEntry, QueueResult
from app.db.session import Database
from app.services import call_records


class Caller:
    """What QueueVisit needs of a call: keys, steps, and a hang-up during one prompt."""

    def __init__(self, call_id: str) -> None:
        self.id = call_id
        self.trace = CallTrace(call_id=call_id, caller="13800138000", called="12306")

    def flush_digits(self) -> None:
        pass

    async def wait_digit(self, timeout: float) -> str:
        return "1"  # 1: call me back


@pytest.mark.parametrize("hang_up_during, expected", [
    ("acd_callback_booked", QueueResult.CALLBACK),
    ("acd_no_agents", QueueResult.ABANDONED),
])
async def test_a_hang_up_after_booking_is_a_callback(
        tmp_path: Path, hang_up_during: str, expected: QueueResult) -> None:
    url = f"sqlite:///{tmp_path / 'booking.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    call = Caller("c-booking")
    async with db.session() as session:
        await call_records.open_call(session, call.trace)
        entry = await call_records.enter_queue(session, call.id, "ticket", False, "menu")
        await session.commit()
    distributor = SimpleNamespace(fresh=lambda: True, anyone_for=lambda skill: False,
                                  leave=lambda call_id: None)
    published: list[Any] = []

    async def center_id(name: str) -> None:
        return None

    acd = SimpleNamespace(db=db, rules=load_routing(), distributor=distributor,
                          events=SimpleNamespace(publish=published.append),
                          center_id=center_id, recorder=None)

    async def say(prompt: str, interrupt: bool, slots: Any = None) -> None:
        if prompt == hang_up_during:
            call.trace.ended(EndedBy.CALLER, "caller hung up")
            raise CallHungUp(call.id)

    visit = QueueVisit(acd, call, "ticket", entry.id, say, {}, "zh", False)  # type: ignore[arg-type]
    with pytest.raises(CallHungUp):
        await visit.run()
    async with db.session() as session:
        stored = await session.get(QueueEntry, entry.id)
        assert stored is not None and stored.result == expected
        booked = await session.get(Callback, 1)
        assert (booked is not None) == (expected == QueueResult.CALLBACK)
    assert published[-1].result == expected.value
    await db.dispose()
