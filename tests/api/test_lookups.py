"""Ticket look-up with verification, masking, throttling; train status and timetable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import TODAY, Api, assert_error


async def test_lookup_with_id_or_phone_digits_shows_masked_details(api: Api) -> None:
    order = api.seeded.orders[0]
    for verification in (order["id_number"][-4:], order["phone"][-4:]):
        resp = await api.post("/api/v1/tickets/lookup", role="ivr",
                              json={"order_no": order["order_no"], "verification": verification})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["order_no"] == order["order_no"]
        assert body["id_number"] == order["id_number"][:4] + "*" * 10 + order["id_number"][-4:]
        assert body["phone"] == order["phone"][:3] + "****" + order["phone"][-4:]
        assert "*" in body["passenger_name"]
        ticket = body["tickets"][0]
        assert ticket["train_number"][0] in "GDCZTK"
        assert ticket["departure"] and ticket["arrival"] and ticket["coach"]
        assert ticket["status"] in {"paid", "changed", "refunded", "used", "waitlisted"}


async def test_nine_digits_alone_are_an_order_number(api: Api) -> None:
    order = api.seeded.orders[1]
    resp = await api.post("/api/v1/tickets/lookup", json={
        "order_no": order["order_no"][1:], "verification": order["phone"][-4:]})
    assert resp.status_code == 200


async def test_unknown_order_and_wrong_verification_look_the_same(api: Api) -> None:
    order = api.seeded.orders[2]
    wrong = "0000" if not order["phone"].endswith("0000") else "1111"
    a = await api.post("/api/v1/tickets/lookup", json={"order_no": order["order_no"],
                                                       "verification": wrong,
                                                       "caller_number": "13900000001"})
    b = await api.post("/api/v1/tickets/lookup", json={"order_no": "E000000001",
                                                       "verification": "1234",
                                                       "caller_number": "13900000002"})
    assert_error(a, 404, "order_not_found")
    assert a.json() == b.json()


@pytest.mark.parametrize("body, field", [
    ({"order_no": "E12", "verification": "1234"}, "body.order_no"),
    ({"order_no": "E123456789", "verification": "12a4"}, "body.verification"),
    ({"order_no": "E123456789"}, "body.verification"),
    ({"order_no": "E123456789", "verification": "1234", "caller_number": "abc"},
     "body.caller_number"),
])
async def test_malformed_lookup_is_422_naming_the_field(api: Api, body: dict[str, str],
                                                        field: str) -> None:
    err = assert_error(await api.post("/api/v1/tickets/lookup", json=body), 422,
                       "invalid_request")
    assert field in [d["field"] for d in err["details"]]


async def test_garbage_order_numbers_are_not_found_not_errors(api: Api) -> None:
    resp = await api.post("/api/v1/tickets/lookup",
                          json={"order_no": "X12345678901", "verification": "1234"})
    assert_error(resp, 404, "order_not_found")


async def test_non_json_body_is_422(api: Api) -> None:
    resp = await api.post("/api/v1/tickets/lookup", content=b"{not json",
                          headers={"Content-Type": "application/json"})
    assert_error(resp, 422, "invalid_request")


async def test_train_status_on_a_date(api: Api) -> None:
    resp = await api.get("/api/v1/timetable", params={"from": "北京南", "to": "上海虹桥",
                                                      "date": TODAY.isoformat()})
    assert resp.status_code == 200, resp.text
    trains = resp.json()
    assert trains and all(t["train_number"][0] in "GT" for t in trains)
    assert [t["departure"] for t in trains] == sorted(t["departure"] for t in trains)
    number = trains[0]["train_number"]
    status = await api.get(f"/api/v1/trains/{number.lower()}/status",
                           params={"date": TODAY.isoformat()}, role="ivr")
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["train_number"] == number and body["origin"] == "北京南"
    assert body["destination"] == "上海虹桥"
    assert body["status"] in {"on_time", "delayed", "cancelled"}
    assert (body["delay_minutes"] > 0) == (body["status"] == "delayed")


async def test_train_status_errors(api: Api) -> None:
    assert_error(await api.get("/api/v1/trains/G9999/status",
                               params={"date": TODAY.isoformat()}), 404, "train_not_found")
    far = (TODAY + timedelta(days=300)).isoformat()
    assert_error(await api.get("/api/v1/trains/G101/status", params={"date": far}), 404,
                 "train_not_found")
    assert_error(await api.get("/api/v1/trains/hello/status"), 422, "invalid_request")
    assert_error(await api.get("/api/v1/trains/G101/status", params={"date": "12/01"}), 422,
                 "invalid_request")


async def test_timetable_by_city_and_unknown_station(api: Api) -> None:
    resp = await api.get("/api/v1/timetable", params={"from": "北京", "to": "广州",
                                                      "date": TODAY.isoformat()})
    assert resp.status_code == 200
    assert {t["from_station"] for t in resp.json()} == {"北京西"}
    assert_error(await api.get("/api/v1/timetable", params={"from": "火星", "to": "上海"}), 404,
                 "station_not_found")
    assert_error(await api.get("/api/v1/timetable", params={"from": "北京"}), 422,
                 "invalid_request")


async def test_days_at_the_ends_of_the_calendar_answer_instead_of_failing(api: Api) -> None:
    for day in ("0001-01-01", "9999-12-31"):
        for path, role, params in (
                ("/api/v1/timetable", "agent", {"from": "北京南", "to": "上海虹桥"}),
                ("/api/v1/trains/G101/status", "ivr", {}),
                ("/api/v1/lost-items", "supervisor", {})):
            resp = await api.get(path, params={**params, "date": day}, role=role)
            assert resp.status_code in (200, 404), (path, day, resp.text)
