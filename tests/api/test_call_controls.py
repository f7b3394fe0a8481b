"""The call-control routes' answers without telephony: roles, bodies, an API-only node."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, assert_error


@pytest.mark.parametrize("action", ["hold", "unhold", "complete", "cancel", "hangup"])
async def test_controls_need_the_running_platform(api: Api, action: str) -> None:
    assert_error(await api.post(f"/api/v1/calls/c1/{action}", "agent"), 503, "no_telephony")
    assert_error(await api.post(f"/api/v1/calls/c1/{action}", "supervisor"), 503,
                 "no_telephony")


async def test_only_agents_and_supervisors_control_calls(api: Api) -> None:
    for role in ("qa", "engineer", "ivr"):
        assert_error(await api.post("/api/v1/calls/c1/hold", role), 403, "forbidden")
    assert (await api.post("/api/v1/calls/c1/hold", None)).status_code == 401


async def test_bodies_are_checked(api: Api) -> None:
    both = await api.post("/api/v1/calls/c1/transfer", "supervisor",
                          json={"queue": "ticket", "agent": "1002"})
    assert both.status_code == 422 and "either queue or agent" in both.text
    neither = await api.post("/api/v1/calls/c1/transfer", "supervisor", json={})
    assert neither.status_code == 422
    bad_agent = await api.post("/api/v1/calls/c1/consult", "supervisor", json={"agent": "x"})
    assert bad_agent.status_code == 422
    no_flag = await api.post("/api/v1/calls/c1/mute", "supervisor", json={})
    assert no_flag.status_code == 422
    fine = await api.post("/api/v1/calls/c1/transfer", "supervisor", json={"agent": "1002"})
    assert_error(fine, 503, "no_telephony")
