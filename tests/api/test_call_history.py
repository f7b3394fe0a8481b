"""Stored call records through the API: filters, one call with its steps, roles, masking."""

from __future__ import annotations

import time
import uuid

from app.core.calltrace import CallTrace
from app.db.models import CallOutcome, QueueResult
from app.db.session import Database
from app.services import call_records
from tests.api.conftest import Api, assert_error


async def store_call(url: str, caller: str, outcome: CallOutcome) -> str:
    trace = CallTrace(call_id="c-" + uuid.uuid4().hex[:8], caller=caller, called="12306",
                      sip_call_id="sip-" + uuid.uuid4().hex[:8])
    db = Database(url)
    async with db.session() as session:
        await call_records.open_call(session, trace)
        await session.commit()
        trace.answered_at = time.time()
        trace.step("prompt", prompt="main_menu", lang="zh")
        trace.step("dtmf", digit="1")
        trace.step("choice", key="1", to="order_query")
        trace.ended_at = time.time()
        entry = await call_records.enter_queue(session, trace.call_id, "general", False, "x")
        await call_records.leave_queue(session, entry.id, QueueResult.ABANDONED)
        await call_records.close_call(session, trace, language="zh", priority=False,
                                      outcome=outcome, reason="test")
        await session.commit()
    await db.dispose()
    return trace.call_id


async def test_calls_are_listed_filtered_and_shown_with_steps(api: Api) -> None:
    caller = "1350000" + str(uuid.uuid4().int)[:4]
    done = await store_call(api.seeded.url, caller, CallOutcome.SELF_SERVICE)
    gave_up = await store_call(api.seeded.url, caller, CallOutcome.ABANDONED)
    page = (await api.get("/api/v1/calls", role="supervisor", params={"caller": caller})).json()
    assert page["total"] == 2 and {c["id"] for c in page["items"]} == {done, gave_up}
    assert all(c["caller"] == caller[:3] + "****" + caller[-4:] for c in page["items"])
    only = (await api.get("/api/v1/calls", role="qa",
                          params={"caller": caller, "outcome": "abandoned"})).json()
    assert [c["id"] for c in only["items"]] == [gave_up]
    one = (await api.get(f"/api/v1/calls/{done}", role="qa")).json()
    assert [s["kind"] for s in one["steps"]] == ["prompt", "dtmf", "choice"]
    assert one["steps"][2]["detail"] == {"key": "1", "to": "order_query"}
    assert one["queue_entries"][0]["result"] == "abandoned"
    assert caller not in "\n".join(api.seen)


async def test_call_history_errors(api: Api) -> None:
    assert_error(await api.get("/api/v1/calls/nope", role="qa"), 404, "call_not_found")
    assert_error(await api.get("/api/v1/calls", role="ivr"), 403, "forbidden")
    assert_error(await api.get("/api/v1/calls", role="qa", params={"outcome": "won"}), 422,
                 "invalid_request")
    assert_error(await api.get("/api/v1/calls", role="qa", params={"started_from": "x"}), 422,
                 "invalid_request")
