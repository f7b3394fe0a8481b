"""Auth and roles, work orders (SLA, transitions, history, paging), lost-and-found, masking."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.api.conftest import TODAY, Api, assert_error


async def test_no_token_bad_token_and_wrong_role(api: Api) -> None:
    body = {"order_no": "E123456789", "verification": "1234"}
    assert_error(await api.post("/api/v1/tickets/lookup", role=None, json=body), 401,
                 "unauthenticated")
    resp = await api.post("/api/v1/tickets/lookup", role=None, json=body,
                          headers={"Authorization": "Bearer htl_nope"})
    assert_error(resp, 401, "unauthenticated")
    err = assert_error(await api.post("/api/v1/tickets/lookup", role="qa", json=body), 403,
                       "forbidden")
    assert err["details"]["admitted_roles"] == ["admin", "agent", "ivr"]
    # admin is admitted everywhere
    assert (await api.post("/api/v1/tickets/lookup", role="admin", json=body)).status_code == 404


@pytest.mark.parametrize("method, path, allowed, refused", [
    ("GET", "/api/v1/work-orders", ["agent", "supervisor", "qa"], ["ivr", "engineer"]),
    ("GET", "/api/v1/lost-items", ["ivr", "agent", "supervisor"], ["qa", "engineer"]),
    ("GET", "/api/v1/timetable?from=北京&to=上海", ["ivr", "agent"], ["qa", "supervisor"]),
])
async def test_each_route_admits_its_roles(api: Api, method: str, path: str,
                                           allowed: list[str], refused: list[str]) -> None:
    for role in allowed:
        assert (await api.request(method, path, role)).status_code == 200, role
    for role in refused:
        assert_error(await api.request(method, path, role), 403, "forbidden")


async def create(api: Api, **extra: object) -> dict[str, object]:
    body = {"type": "complaint", "channel": "voice", "content": "列车晚点未广播",
            "caller_number": "13912345678", **extra}
    resp = await api.post("/api/v1/work-orders", role="ivr", json=body)
    assert resp.status_code == 201, resp.text
    data: dict[str, object] = resp.json()
    return data


async def test_work_order_created_with_sla_and_masked_caller(api: Api) -> None:
    wo = await create(api, call_id="call-1")
    assert wo["status"] == "new" and wo["caller_number"] == "139****5678"
    assert str(wo["number"]).startswith("GD")
    created = datetime.fromisoformat(str(wo["created_at"]))
    due = datetime.fromisoformat(str(wo["due_at"]))
    assert due - created == timedelta(hours=24)
    help_wo = await create(api, type="help")
    assert (datetime.fromisoformat(str(help_wo["due_at"]))
            - datetime.fromisoformat(str(help_wo["created_at"]))) == timedelta(hours=2)
    events = wo["events"]
    assert isinstance(events, list) and events[0]["action"] == "created"


async def test_work_order_life_cycle_and_history(api: Api) -> None:
    wo = await create(api)
    path = f"/api/v1/work-orders/{wo['id']}"
    steps = [({"to": "assigned", "unit": "北京南站"}, "assigned"),
             ({"to": "in_progress"}, "in_progress"),
             ({"to": "resolved", "note": "已致歉"}, "resolved"),
             ({"to": "closed"}, "closed"),
             ({"to": "reopened", "note": "旅客不满意"}, "reopened"),
             ({"to": "in_progress"}, "in_progress")]
    for body, status in steps:
        resp = await api.post(path + "/transitions", role="supervisor", json=body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == status
    resp = await api.post(path + "/comments", role="qa", json={"note": "回访完成"})
    data = resp.json()
    assert data["assigned_unit"] == "北京南站"
    actions = [(e["action"], e["to_status"]) for e in data["events"]]
    assert actions == [("created", "new"), ("transition", "assigned"),
                       ("transition", "in_progress"), ("transition", "resolved"),
                       ("transition", "closed"), ("transition", "reopened"),
                       ("transition", "in_progress"), ("comment", None)]
    by_number = await api.get(f"/api/v1/work-orders/{wo['number']}", role="qa")
    assert by_number.json()["id"] == wo["id"]


async def test_invalid_transitions_are_refused(api: Api) -> None:
    wo = await create(api)
    path = f"/api/v1/work-orders/{wo['id']}/transitions"
    err = assert_error(await api.post(path, json={"to": "closed"}), 409, "invalid_transition")
    assert err["details"] == {"status": "new", "allowed": ["assigned"]}
    assert_error(await api.post(path, json={"to": "assigned"}), 422, "invalid_request")
    assert_error(await api.post(path, json={"to": "done"}), 422, "invalid_request")
    assert_error(await api.post(path, role="qa", json={"to": "assigned", "unit": "x"}), 403,
                 "forbidden")
    after = await api.get(f"/api/v1/work-orders/{wo['id']}")
    assert after.json()["status"] == "new" and len(after.json()["events"]) == 1
    assert_error(await api.get("/api/v1/work-orders/999999"), 404, "work_order_not_found")


async def test_listing_filters_and_pagination_edges(api: Api) -> None:
    caller = "13800009999"
    made = [await create(api, caller_number=caller, type="suggestion") for _ in range(3)]
    resp = await api.get("/api/v1/work-orders", params={"caller_number": caller, "limit": 2})
    page = resp.json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["limit"] == 2
    assert [i["id"] for i in page["items"]] == [made[2]["id"], made[1]["id"]]
    assert page["items"][0]["events"] is None
    rest = (await api.get("/api/v1/work-orders",
                          params={"caller_number": caller, "limit": 2, "offset": 2})).json()
    assert [i["id"] for i in rest["items"]] == [made[0]["id"]]
    beyond = (await api.get("/api/v1/work-orders",
                            params={"caller_number": caller, "offset": 50})).json()
    assert beyond["items"] == [] and beyond["total"] == 3
    typed = (await api.get("/api/v1/work-orders",
                           params={"type": "suggestion", "status": "new", "limit": 100})).json()
    assert all(i["type"] == "suggestion" for i in typed["items"])
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"status": "lost"},
                {"created_from": "yesterday"}):
        assert_error(await api.get("/api/v1/work-orders", params=bad), 422, "invalid_request")


async def test_lost_items_search_and_report_with_candidates(api: Api) -> None:
    items = (await api.get("/api/v1/lost-items", role="ivr")).json()
    assert items and all(i["status"] == "held" for i in items)
    item = next(i for i in items if i["train_number"] and "包" in i["description"])
    found = (await api.get("/api/v1/lost-items", params={
        "train": item["train_number"], "date": item["run_date"], "q": "包"})).json()
    assert item["id"] in [i["id"] for i in found]
    resp = await api.post("/api/v1/lost-items/reports", role="ivr", json={
        "description": item["description"][:6] + "，可能落在车上了",
        "contact_phone": "13612345678", "train_number": item["train_number"],
        "travel_date": item["run_date"], "call_id": "call-lost-1"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["work_order"]["type"] == "lost_item"
    assert body["work_order"]["caller_number"] == "136****5678"
    assert body["work_order"]["call_id"] == "call-lost-1"
    assert body["candidates"][0]["item"]["id"] == item["id"]
    assert 0 < body["candidates"][0]["score"] <= 1
    nothing = await api.post("/api/v1/lost-items/reports", json={
        "description": "一把紫色雨伞", "contact_phone": "13612345678", "train_number": "G9999",
        "travel_date": TODAY.isoformat()})
    assert nothing.status_code == 201 and nothing.json()["candidates"] == []
    assert_error(await api.post("/api/v1/lost-items/reports", json={
        "description": "包", "contact_phone": "x"}), 422, "invalid_request")


async def test_no_unmasked_personal_data_in_any_response(api: Api) -> None:
    for order in api.seeded.orders[:5]:
        await api.post("/api/v1/tickets/lookup", json={
            "order_no": order["order_no"], "verification": order["id_number"][-4:]})
    await create(api, caller_number="13987654321")
    await api.get("/api/v1/work-orders", params={"limit": 100})
    await api.get("/api/v1/work-orders", params={"caller_number": "13987654321"})
    seen = "\n".join(api.seen)
    for order in api.seeded.orders:
        assert order["id_number"] not in seen
        assert order["phone"] not in seen
    assert "13987654321" not in seen


async def test_unknown_routes_and_methods_use_the_error_shape(api: Api) -> None:
    assert_error(await api.get("/api/v1/nope"), 404, "not_found")
    assert_error(await api.request("DELETE", "/api/v1/tickets/lookup", "agent"), 405,
                 "method_not_allowed")
    health = await api.get("/healthz", role=None)
    assert health.status_code == 200 and health.json()["database"]["connected"] is True


async def test_numbers_in_work_order_texts_are_masked_for_roles_that_do_not_handle_it(
        api: Api) -> None:
    text = ("旅客来电：身份证110101199003071234，请回电 138 0013 8000。"
            "语音转写：幺三九幺二三四五六七八")
    wo = await create(api, content=text)
    number = wo["number"]
    comment = {"note": "已联系旅客，备用电话13712345678"}
    assert (await api.post(f"/api/v1/work-orders/{number}/comments", role="agent",
                           json=comment)).status_code == 200
    for role in ("agent", "supervisor"):  # they handle the case
        one = (await api.get(f"/api/v1/work-orders/{number}", role=role)).json()
        assert one["content"] == text
        assert one["events"][-1]["note"] == comment["note"]
    for role in ("qa", "admin"):
        one = (await api.get(f"/api/v1/work-orders/{number}", role=role)).json()
        assert one["content"] == ("旅客来电：身份证1101**************，请回电 138 **** ****。"
                                  "语音转写：幺三九********")
        assert one["events"][-1]["note"] == "已联系旅客，备用电话137********"
        listed = (await api.get("/api/v1/work-orders", role=role,
                                params={"limit": 100})).json()["items"]
        shown = next(w for w in listed if w["number"] == number)
        assert shown["content"] == one["content"]
    # The IVR that filed it gets it back masked too.
    assert "110101199003071234" not in str(wo["content"])
