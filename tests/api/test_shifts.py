"""Shifts on both engines through the API: supervisors write, agents read their own, roster."""

from __future__ import annotations

from tests.api.conftest import Api, assert_error
from tests.api.test_agents import make_agent


async def test_shift_routes_and_roles(api: Api) -> None:
    number, token = await make_agent(api.seeded.url)
    other, _ = await make_agent(api.seeded.url)
    mine = {"Authorization": f"Bearer {token}"}
    body = {"agent": number, "start": "2026-12-01T08:00", "end": "2026-12-01T17:00",
            "note": "早班"}
    assert_error(await api.post("/api/v1/shifts", "agent", json=body), 403, "forbidden")
    resp = await api.post("/api/v1/shifts", "supervisor", json=body)
    assert resp.status_code == 201, resp.text
    shift = resp.json()
    assert (shift["agent"], shift["center"], shift["timezone"], shift["start"], shift["end"],
            shift["created_by"]) == (number, "北京", "Asia/Shanghai",
                                     "2026-12-01T08:00:00+08:00", "2026-12-01T17:00:00+08:00",
                                     "test-supervisor")
    # An offset given is kept: 01:00 UTC is 09:00 in Beijing, inside the first shift.
    clash = {"agent": number, "start": "2026-12-01T01:00:00Z", "end": "2026-12-01T03:00:00Z"}
    assert_error(await api.post("/api/v1/shifts", "supervisor", json=clash), 409,
                 "shift_overlap")
    other_body = {**body, "agent": other, "start": "2026-12-01T12:00"}
    assert (await api.post("/api/v1/shifts", "admin", json=other_body)).status_code == 201
    backwards = {**body, "start": "2026-12-02T17:00", "end": "2026-12-02T08:00"}
    assert_error(await api.post("/api/v1/shifts", "supervisor", json=backwards), 422,
                 "invalid_shift")
    assert_error(await api.post("/api/v1/shifts", "supervisor",
                                json={**body, "agent": "99999"}), 404, "not_found")

    # The agent reads its own shifts only; the supervisor reads anyone's.
    day = {"from": "2026-12-01", "to": "2026-12-01"}
    own = await api.get("/api/v1/shifts", None, params=day, headers=mine)
    assert [s["agent"] for s in own.json()] == [number]
    assert_error(await api.get("/api/v1/shifts", None, params={**day, "agent": other},
                               headers=mine), 403, "forbidden")
    theirs = await api.get("/api/v1/shifts", "supervisor", params={**day, "agent": other})
    assert [s["agent"] for s in theirs.json()] == [other]
    assert (await api.get("/api/v1/shifts", "supervisor",
                          params={"from": "2026-12-02", "agent": number})).json() == []
    week_before = await api.get("/api/v1/shifts", "supervisor",
                                params={"to": "2026-12-07", "agent": number})
    assert [s["id"] for s in week_before.json()] == [shift["id"]]
    assert (await api.get("/api/v1/shifts", "supervisor", params={
        "from": "2026-12-02", "to": "2026-12-01", "agent": number})).json() == []

    # Roster at 13:00: both scheduled; the agent that logged in is present.
    ready = await api.post(f"/api/v1/agents/{number}/state", None, json={"state": "ready"},
                           headers=mine)
    assert ready.status_code == 200, ready.text
    resp = await api.get("/api/v1/shifts/roster", "supervisor",
                         params={"center": "北京", "date": "2026-12-01", "time": "13:00"})
    assert resp.status_code == 200, resp.text
    roster = resp.json()
    assert roster["at"] == "2026-12-01T13:00:00+08:00"
    mine_rows = {r["agent"]: (r["status"], r["state"]) for r in roster["rows"]
                 if r["agent"] in (number, other)}
    assert mine_rows == {number: ("present", "ready"), other: ("absent", "logged_out")}
    assert roster["present"] >= 1 and roster["absent"] >= 1
    assert_error(await api.get("/api/v1/shifts/roster", None, params={"center": "北京"},
                               headers=mine), 403, "forbidden")
    assert_error(await api.get("/api/v1/shifts/roster", "supervisor",
                               params={"center": "广州"}), 404, "not_found")

    assert (await api.request("DELETE", f"/api/v1/shifts/{shift['id']}", "agent",
                              headers=mine)).status_code == 403
    assert (await api.request("DELETE", f"/api/v1/shifts/{shift['id']}",
                              "supervisor")).status_code == 204
    assert_error(await api.request("DELETE", f"/api/v1/shifts/{shift['id']}", "supervisor"),
                 404, "not_found")
    await api.post(f"/api/v1/agents/{number}/state", None, json={"state": "logged_out"},
                   headers=mine)


async def test_days_at_the_ends_of_the_calendar_answer_instead_of_failing(api: Api) -> None:
    for params in ({"to": "0001-01-05"}, {"from": "9999-12-30"},
                   {"from": "0001-01-01", "to": "0001-01-01"},
                   {"from": "9999-12-31", "to": "9999-12-31"}):
        resp = await api.get("/api/v1/shifts", "supervisor", params=params)
        assert resp.status_code in (200, 400), (params, resp.text)
    for params in ({"date": "0001-01-01", "time": "00:00"},
                   {"date": "9999-12-31", "time": "23:59"}):
        resp = await api.get("/api/v1/shifts/roster", "supervisor",
                             params={"center": "北京", **params})
        assert resp.status_code in (200, 400), (params, resp.text)
