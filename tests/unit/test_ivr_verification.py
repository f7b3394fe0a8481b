"""Order verification on the phone: 3 tries per call, then an agent; the digits never stored.

The real hotline flow over a fake ARI server, a real SQLite database and a stub voice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.ari_handlers.client import AriClient
from app.db import migrate
from app.db.models import CallOutcome, LookupFailure, QueueEntry
from app.db.session import Database
from app.ivr.actions import ACTIONS
from app.ivr.app import ivr_handler
from app.ivr.loader import FLOWS_DIR, load_flow
from app.services.throttle import LookupThrottle, ThrottlePolicy
from tests.fake_ari import FakeAri
from tests.unit.test_ivr_runner import StubVoice, eventually, kinds, wait_record

Env = tuple[FakeAri, AriClient, Database]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    fake = FakeAri()
    await fake.start()
    flow = load_flow(FLOWS_DIR / "hotline.yaml", known_actions=set(ACTIONS))
    # Generous order/caller limits: this is about the per-call tries.
    throttle = LookupThrottle(ThrottlePolicy(order_max_failures=50, caller_max_failures=50))
    client = AriClient(fake.base_url, "hotline", "u", "p",
                       ivr_handler(flow, db, StubVoice(), throttle=throttle))
    client.start()
    await asyncio.wait_for(fake.connected.wait(), 5)
    yield fake, client, db
    await client.stop()
    await fake.stop()
    await db.dispose()


def steps_of(client: AriClient, call_id: str) -> list[dict[str, Any]]:
    trace = client.recent.get(call_id)
    return trace.steps if trace else []


async def keys(fake: FakeAri, call_id: str, typed: str) -> None:
    for key in typed:
        await fake.dtmf(call_id, key)


async def test_three_failed_verifications_in_a_call_go_to_an_agent(env: Env) -> None:
    fake, client, db = env
    await fake.start_call("v1")
    # A caller typing fast, each try ahead of the prompts: order 1, order number, #, 4 digits, #.
    await keys(fake, "v1", "1000000001#2468#1000000001#1357#1000000001#9753#")
    await eventually(lambda: "hold" in kinds(client, "v1"))
    await fake.hangup("v1")
    record = await wait_record(db, "v1")
    steps = [(s.kind, s.detail) for s in record.steps]
    verifications = [d for k, d in steps if k == "verification"]
    assert [v["result"] for v in verifications] == ["failed"] * 3
    assert [d["prompt"] for k, d in steps if k == "prompt"][-1] == "too_many_failures"
    assert [d["reason"] for k, d in steps if k == "enqueue"] == ["order verification failed"]
    assert record.outcome == CallOutcome.ABANDONED  # hung up while waiting for the agent
    async with db.session() as session:
        entry = (await session.scalars(select(QueueEntry))).one()
        stored = (await session.scalars(select(LookupFailure.key))).all()
    assert entry.queue == "general" and entry.call_id == "v1"
    assert len(stored) == 6  # 3 failures x (order number, caller)
    assert not any("13800138000" in key for key in stored)  # the caller only as a hash


async def test_a_fourth_try_is_not_judged(env: Env) -> None:
    fake, client, db = env
    await fake.start_call("v2")
    await keys(fake, "v2", "1000000002#1111#" * 4)
    await eventually(lambda: "hold" in kinds(client, "v2"))
    await fake.hangup("v2")
    record = await wait_record(db, "v2")
    assert [s.kind for s in record.steps].count("lookup") == 3


async def test_the_verification_digits_are_never_in_the_call_steps(env: Env) -> None:
    fake, client, db = env
    await fake.start_call("v3")
    await keys(fake, "v3", "1000000003#")
    await eventually(lambda: [s.get("var") for s in steps_of(client, "v3")
                              if s["kind"] == "collected"] == ["order_no"])
    await eventually(lambda: "enter_id_last4" in json.dumps(steps_of(client, "v3")))
    await keys(fake, "v3", "8642#")  # typed while the flow asks for them
    await eventually(lambda: "verification" in kinds(client, "v3"))
    await keys(fake, "v3", "1000000003#")
    await keys(fake, "v3", "9751#")  # typed ahead, before the flow asks
    await eventually(lambda: kinds(client, "v3").count("verification") == 2)
    await fake.hangup("v3")
    record = await wait_record(db, "v3")
    stored = json.dumps([{"kind": s.kind, **s.detail} for s in record.steps])
    live = client.recent.get("v3")
    assert live is not None
    for text in (stored, json.dumps(live.as_dict())):
        assert "8642" not in text.replace('"', "") and "9751" not in text.replace('"', "")
    dtmf = [s.detail["digit"] for s in record.steps if s.kind == "dtmf"]
    assert not {"8", "6", "4", "2", "9", "7", "5"} & set(dtmf)
    assert [s.detail.get("hidden") for s in record.steps if s.kind == "dtmf"].count(True) == 10
    # That a verification was entered, and how it went, is kept.
    assert [s.detail["result"] for s in record.steps if s.kind == "verification"] == \
        ["failed", "failed"]
    assert live.digits == "1000000003#*****1000000003#*****"
