"""The dialplan services' tables through the API, on both engines: engineers edit them; values
the schema cannot refuse get 400 with a message that says what to change."""

from __future__ import annotations

from tests.api.conftest import Api, assert_error

API = "/api/v1/dialplan"


async def test_a_number_is_blocked_listed_and_unblocked_by_engineers_only(api: Api) -> None:
    body = {"reason": "harassing calls", "expires_at": "2030-01-01T00:00:00+08:00"}
    assert_error(await api.request("PUT", f"{API}/blocklist/13912345678", "supervisor",
                                   json=body), 403, "forbidden")
    resp = await api.request("PUT", f"{API}/blocklist/13912345678", "engineer", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["expires_at"] == "2029-12-31T16:00:00Z"
    listed = (await api.request("GET", f"{API}/blocklist", "engineer")).json()
    assert [b["number"] for b in listed] == ["13912345678"]
    assert (await api.request("DELETE", f"{API}/blocklist/13912345678",
                              "engineer")).status_code == 204
    assert_error(await api.request("DELETE", f"{API}/blocklist/13912345678", "engineer"),
                 404, "not_found")


async def test_a_number_that_is_no_phone_number_is_refused_by_the_schema(api: Api) -> None:
    for path, body in ((f"{API}/blocklist/0", {"reason": "x"}),
                       (f"{API}/special-passengers/12a45", {}),
                       (f"{API}/routes/+", {"flow": "hotline"})):
        assert_error(await api.request("PUT", path, "engineer", json=body), 422,
                     "invalid_request")


async def test_rules_the_schema_cannot_express_are_a_400_that_says_what_to_change(
        api: Api) -> None:
    cases = [
        (f"{API}/hours", [{"weekday": 5, "opens": "09:00", "closes": "08:00"}],
         "closing must be after opening"),
        (f"{API}/periods/spring", {"kind": "holiday", "first_day": "2027-02-01",
                                   "last_day": "2027-02-03", "opens": "08:00"},
         "give both opening and closing time, or neither"),
        (f"{API}/periods/spring", {"kind": "peak", "first_day": "2027-02-03",
                                   "last_day": "2027-02-01"}, "is before the first"),
        (f"{API}/blocklist/13912345678", {"reason": "x", "expires_at": "2030-01-01T00:00:00"},
         "time zone"),
        (f"{API}/routes/95105", {"flow": "no-such-flow"}, "no flow named 'no-such-flow'"),
    ]
    for path, body, says in cases:
        error = assert_error(await api.request("PUT", path, "engineer", json=body), 400,
                             "bad_dialplan_input")
        assert says in error["message"], (path, error)
    # Nothing of it was kept.
    assert (await api.request("GET", f"{API}/hours", "engineer")).json() == []
    assert (await api.request("GET", f"{API}/periods", "engineer")).json() == []
