"""Agents on both engines: creation with SIP and API identities, states, history, routes."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from sqlalchemy import select

from app.acd import agents as svc
from app.acd.features import REFUSED, apply_feature
from app.acd.identity import IdentityError
from app.acd.states import StateError, agent_snapshot, record_no_answer, set_state, state_history
from app.db.models import AgentStateName, Role, User
from app.db.session import Database
from app.services.auth import issue_token, verify_password
from tests.api.conftest import Api, Seeded, assert_error

S = AgentStateName


def new_number() -> str:
    return str(100000 + uuid.uuid4().int % 900000)


async def make_agent(url: str, *, center: str = "北京", password: str = "pass-1234") -> tuple[
        str, str]:
    """A new agent and its API token."""
    number = new_number()
    db = Database(url)
    async with db.session() as session:
        await svc.create_agent(session, number, name="测试坐席", center=center,
                               skills={"ticket": 5, "english": 2}, password=password)
        token = await issue_token(session, number)
        await session.commit()
    await db.dispose()
    return number, token


async def test_create_agent_makes_sip_and_api_identities(seeded: Seeded) -> None:
    number, _ = await make_agent(seeded.url, password="s3cret-pw")
    db = Database(seeded.url)
    async with db.session() as session:
        agent = await svc.get_agent(session, number)
        assert agent.center.name == "北京" and agent.enabled and not agent.expert
        assert agent.sip_ha1 == hashlib.md5(f"{number}:hotline:s3cret-pw".encode()).hexdigest()
        user = await session.scalar(select(User).where(User.name == number))
        assert user is not None and user.role == Role.AGENT and agent.user_id == user.id
        assert user.password_hash and "s3cret-pw" not in user.password_hash
        assert verify_password("s3cret-pw", user.password_hash)
        assert not verify_password("wrong-pw", user.password_hash)
        [snap] = await agent_snapshot(session, number)
        assert snap.state == S.LOGGED_OUT and snap.skills == {"ticket": 5, "english": 2}
        assert snap.center_code == "bj" and snap.since is not None and snap.since.tzinfo

        with pytest.raises(svc.AgentError, match="exists already"):
            await svc.create_agent(session, number, name="x", center="北京")
        with pytest.raises(svc.AgentError, match=r"known centers: 北京 \(bj\), 上海"):
            await svc.create_agent(session, new_number(), name="x", center="广州")
        with pytest.raises(IdentityError, match="4 to 6 digits"):
            await svc.create_agent(session, "12a4", name="x", center="北京")
        with pytest.raises(svc.AgentError, match="at least 8"):
            await svc.create_agent(session, new_number(), name="x", center="北京",
                                   password="short")
        generated = await svc.create_agent(session, new_number(), name="y", center="sh")
        assert generated.generated_password and generated.agent.center.name == "上海"
    await db.dispose()


async def test_skills_password_and_disable(seeded: Seeded) -> None:
    number, _ = await make_agent(seeded.url)
    db = Database(seeded.url)
    async with db.session() as session:
        agent = await svc.set_skills(session, number, {"english": 9, "complaint": 1})
        assert {s.skill: s.level for s in agent.skills} == {"english": 9, "complaint": 1}
        with pytest.raises(IdentityError, match="out of range"):
            await svc.set_skills(session, number, {"ticket": 0})
        old = agent.sip_ha1
        assert await svc.set_password(session, number, "another-pw") is None
        assert agent.sip_ha1 != old
        await set_state(session, agent, "ready")
        await svc.disable_agent(session, number)
        await session.commit()
        [snap] = await agent_snapshot(session, number)
        assert not snap.enabled and snap.state == S.LOGGED_OUT
        assert number not in [n for n, _ in await svc.sip_accounts(session)]
        user = await session.scalar(select(User).where(User.name == number))
        assert user is not None and not user.active
        assert verify_password("another-pw", user.password_hash)
        with pytest.raises(StateError, match="disabled"):
            await set_state(session, agent, "ready")
    await db.dispose()


async def test_state_transitions_and_history(seeded: Seeded) -> None:
    number, _ = await make_agent(seeded.url)
    db = Database(seeded.url)
    async with db.session() as session:
        agent = await svc.get_agent(session, number)
        with pytest.raises(StateError, match="logged_out: cannot go to paused"):
            await set_state(session, agent, "paused")
        await set_state(session, agent, "ready", by="feature_code")
        await set_state(session, agent, "paused", "用餐")
        with pytest.raises(StateError, match="pause reason"):
            await set_state(session, agent, "paused", "napping")
        await set_state(session, agent, "ready")
        await set_state(session, agent, "ringing", by="system")
        with pytest.raises(StateError):
            await set_state(session, agent, "wrap_up")
        await set_state(session, agent, "on_call", by="system")
        with pytest.raises(StateError):
            await set_state(session, agent, "ready")
        await set_state(session, agent, "wrap_up", by="system")
        [snap] = await agent_snapshot(session, number)
        assert snap.last_call_end_at is not None
        await set_state(session, agent, "ready", by="system")
        await set_state(session, agent, "ready")  # again: no change, no history row
        await set_state(session, agent, "logged_out", by="supervisor")
        await session.commit()
        history = [(e.state.value, e.reason, e.by) for e in await state_history(session, agent)]
    await db.dispose()
    assert history == [
        ("logged_out", None, "system"), ("ready", None, "feature_code"),
        ("paused", "用餐", "self"), ("ready", None, "self"), ("ringing", None, "system"),
        ("on_call", None, "system"), ("wrap_up", None, "system"), ("ready", None, "system"),
        ("logged_out", None, "supervisor"),
    ]


async def test_two_missed_calls_in_a_row_pause_the_agent(seeded: Seeded) -> None:
    number, _ = await make_agent(seeded.url)
    db = Database(seeded.url)
    async with db.session() as session:
        agent = await svc.get_agent(session, number)
        await set_state(session, agent, "ready")
        await set_state(session, agent, "ringing", by="system")
        row = await record_no_answer(session, agent)
        assert (row.state, row.missed_in_row) == (S.READY, 1)
        # An answered call in between resets the count.
        await set_state(session, agent, "ringing", by="system")
        await set_state(session, agent, "on_call", by="system")
        await set_state(session, agent, "wrap_up", by="system")
        await set_state(session, agent, "ready", by="system")
        for expected in (S.READY, S.PAUSED):
            await set_state(session, agent, "ringing", by="system")
            row = await record_no_answer(session, agent)
            assert row.state == expected
        assert row.reason == "未接" and row.missed_in_row == 2
        with pytest.raises(StateError, match="not ringing"):
            await record_no_answer(session, agent)
        await set_state(session, agent, "ready")
        await session.commit()
    await db.dispose()


async def test_agent_routes_and_roles(api: Api) -> None:
    number, token = await make_agent(api.seeded.url)
    other, other_token = await make_agent(api.seeded.url, center="太原")
    me = {"Authorization": f"Bearer {token}"}

    listed = await api.get("/api/v1/agents", role="supervisor")
    assert listed.status_code == 200
    row = next(a for a in listed.json() if a["number"] == number)
    assert row["state"] == "logged_out" and row["skills"] == {"english": 2, "ticket": 5}
    assert (await api.get("/api/v1/agents", role="engineer")).status_code == 200
    assert_error(await api.get("/api/v1/agents", role="agent"), 403, "forbidden")
    assert_error(await api.get("/api/v1/agents", role="qa"), 403, "forbidden")
    assert_error(await api.get("/api/v1/agents", role=None), 401, "unauthenticated")

    one = await api.get(f"/api/v1/agents/{number}", role=None, headers=dict(me))
    assert one.status_code == 200 and one.json()["center"] == "北京"
    assert_error(await api.get(f"/api/v1/agents/{other}", role=None, headers=dict(me)),
                 403, "forbidden")
    assert_error(await api.get("/api/v1/agents/99999", role="supervisor"), 404,
                 "agent_not_found")

    path = f"/api/v1/agents/{number}/state"
    ready = await api.post(path, role=None, headers=dict(me), json={"state": "ready"})
    assert ready.status_code == 200 and ready.json()["state"] == "ready"
    paused = await api.post(path, role="supervisor", json={"state": "paused", "reason": "培训"})
    assert paused.json()["state"] == "paused" and paused.json()["reason"] == "培训"
    assert_error(await api.post(path, role=None, headers=dict(me), json={"state": "on_call"}),
                 422, "invalid_request")
    assert_error(await api.post(path, role=None, headers=dict(me),
                                json={"state": "paused", "reason": "nap"}), 409,
                 "state_conflict")
    assert_error(await api.post(path, role=None,
                                headers={"Authorization": f"Bearer {other_token}"},
                                json={"state": "logged_out"}), 403, "forbidden")
    assert_error(await api.post(path, role="qa", json={"state": "ready"}), 403, "forbidden")
    assert_error(await api.post(path, role="engineer", json={"state": "ready"}), 403,
                 "forbidden")
    assert_error(await api.post("/api/v1/agents/99999/state", role="supervisor",
                                json={"state": "ready"}), 404, "agent_not_found")
    out = await api.post(path, role=None, headers=dict(me), json={"state": "logged_out"})
    assert out.json()["state"] == "logged_out"


async def test_feature_codes_change_the_state_or_are_refused(seeded: Seeded) -> None:
    number, _ = await make_agent(seeded.url)
    db = Database(seeded.url)
    assert await apply_feature(db, number, "*23") == REFUSED  # cannot pause while logged out
    assert await apply_feature(db, number, "*21") == "sound:agent-loginok"
    assert await apply_feature(db, number, "*23") == "sound:beep"
    assert await apply_feature(db, number, "*99") == REFUSED
    assert await apply_feature(db, "99999", "*21") == REFUSED
    async with db.session() as session:
        [snap] = await agent_snapshot(session, number)
        agent = await svc.get_agent(session, number)
        last = (await state_history(session, agent))[-1]
    await db.dispose()
    assert (snap.state, snap.reason) == (S.PAUSED, "小休")
    assert last.by == "feature_code"
