"""Stored call records through the API: filters, one call with its steps, roles, masking."""

from __future__ import annotations

import time
import uuid
from typing import Any

from app.core.calltrace import CallTrace
from app.db.models import CallOutcome, QueueResult
from app.db.session import Database
from app.services import call_records
from tests.api.conftest import Api, assert_error


async def store_call(url: str, caller: str, outcome: CallOutcome,
                     transcript: str | None = None) -> str:
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
        if transcript is not None:
            trace.step("speech", intent="complaint", transcript=transcript)
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


async def test_numbers_in_transcripts_are_masked_except_for_supervisors(api: Api) -> None:
    said = "我的电话是幺三八零零幺三八零零零身份证110101199003071234"
    call_id = await store_call(api.seeded.url, "13500001111", CallOutcome.SELF_SERVICE, said)
    supervisor = (await api.get(f"/api/v1/calls/{call_id}", role="supervisor")).json()
    assert supervisor["steps"][-1]["detail"]["transcript"] == said
    qa = (await api.get(f"/api/v1/calls/{call_id}", role="qa")).json()
    assert qa["steps"][-1]["detail"] == {
        "intent": "complaint", "transcript": "我的电话是幺三八********身份证1101**************"}


async def test_live_calls_mask_numbers_in_steps_for_engineers_and_qa(api: Api) -> None:
    from types import SimpleNamespace

    import httpx

    from app.api.main import create_app
    from app.config import Settings
    from app.core.calltrace import RecentCalls

    recent = RecentCalls()
    trace = CallTrace(call_id="live-1", caller="13500002222", called="12306")
    trace.step("speech", intent="complaint", transcript="电话13912345678")
    recent.add(trace)
    db = Database(api.seeded.url)
    app = create_app(Settings(), db, SimpleNamespace(ari=SimpleNamespace(recent=recent)))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        def get(role: str) -> Any:
            return client.get("/api/v1/calls/recent/live-1", headers={
                "Authorization": f"Bearer {api.seeded.tokens[role]}"})

        for role, shown in (("agent", "电话13912345678"), ("supervisor", "电话13912345678"),
                            ("engineer", "电话139********"), ("qa", "电话139********")):
            body = (await get(role)).json()
            assert body["steps"][0]["transcript"] == shown, role
            assert body["caller"] == "135****2222"
    await db.dispose()
