"""The screen pop's history of a number: work orders saved against a call carry its number."""

from __future__ import annotations

import uuid

from app.acd.records import recent_work_orders
from app.core.clock import now
from app.db.models import CallRecord
from app.db.session import Database
from tests.api.conftest import Api


async def test_a_work_order_saved_against_a_call_is_in_that_numbers_history(api: Api) -> None:
    call_id = "desk-" + uuid.uuid4().hex[:12]
    caller = "1390000" + str(uuid.uuid4().int % 10000).zfill(4)
    db = Database(api.seeded.url)
    async with db.session() as session:
        session.add(CallRecord(id=call_id, caller=caller, called="12306", started_at=now()))
        await session.commit()
    numbers = []
    for content in ("第一张", "第二张"):
        resp = await api.post("/api/v1/work-orders", "agent", json={
            "type": "complaint", "content": content, "call_id": call_id})
        assert resp.status_code == 201, resp.text
        assert resp.json()["caller_number"] == caller[:3] + "****" + caller[-4:]  # masked
        numbers.append(resp.json()["number"])
    listed = await api.get("/api/v1/work-orders", "agent", params={"call_id": call_id})
    assert [w["number"] for w in listed.json()["items"]] == numbers[::-1]
    history = await recent_work_orders(db, caller)
    assert [(h["number"], h["type"], h["status"]) for h in history] == [
        (numbers[1], "complaint", "new"), (numbers[0], "complaint", "new")]
    assert await recent_work_orders(db, "") == []
    await db.dispose()
