"""The flow runner over a fake ARI server, with a real SQLite database and a stub voice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from app.ari_handlers.client import AriClient
from app.db import migrate
from app.db.models import CallOutcome, CallRecord, QueueEntry, WorkOrder
from app.db.session import Database
from app.events import EventFeed
from app.ivr.app import ivr_handler
from app.ivr.loader import FlowError, parse_flow
from tests.fake_ari import FakeAri


class StubVoice:
    """Prompts as sound:<id>; dynamic text as sound:text-<n> (the real voice synthesises)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.parts = 1  # how many parts each text comes in (the real voice: first phrase, rest)

    def prompt_media(self, prompt_id: str, lang: str) -> str:
        return f"sound:{lang}/{prompt_id}"

    def prompt_text(self, prompt_id: str, lang: str) -> str:
        return "your number is {number}"

    async def text_parts(self, text: str, lang: str) -> AsyncGenerator[str, None]:
        self.texts.append(text)
        if self.parts == 1:
            yield f"sound:text-{len(self.texts)}"
            return
        for part in range(1, self.parts + 1):
            yield f"sound:text-{len(self.texts)}-part{part}"


FLOW = """
flow: test
start: main
nodes:
  main:
    - menu:
        prompt: main_menu
        options: {"1": leave_message, "0": agent, "2": bye}
        timeout: 0.3
        on_fail: agent
  leave_message:
    - record: {prompt: record_after_beep, var: recording, max_seconds: 30}
    - work_order: {type: complaint, content: "message", recording_var: recording}
    - say: {prompt: work_order_created, slots: {number: "${work_order}"}}
    - goto: bye
  agent:
    - set: {priority: "true"}
    - enqueue: {queue: general, reason: "asked", hold_prompt_every: 3}
  bye:
    - say: goodbye
    - hangup: normal
"""


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[FakeAri, AriClient, Database, StubVoice]]:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    fake = FakeAri()
    await fake.start()
    voice = StubVoice()
    client = AriClient(fake.base_url, "hotline", "u", "p", ivr_handler(parse_flow(FLOW), db,
                                                                      voice))
    client.start()
    await asyncio.wait_for(fake.connected.wait(), 5)
    yield fake, client, db, voice
    await client.stop()
    await fake.stop()
    await db.dispose()


async def eventually(check: Callable[[], bool], timeout: float = 8) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def record_of(db: Database, call_id: str) -> CallRecord | None:
    async with db.session() as session:
        record = await session.get(CallRecord, call_id)
        if record is not None and record.ended_at is not None:
            await session.refresh(record, ["steps"])
            return record
        return None


async def wait_record(db: Database, call_id: str) -> CallRecord:
    for _ in range(400):
        record = await record_of(db, call_id)
        if record is not None:
            return record
        await asyncio.sleep(0.02)
    raise AssertionError("call record not completed")


def kinds(client: AriClient, call_id: str) -> list[str]:
    trace = client.recent.get(call_id)
    return [s["kind"] for s in trace.steps] if trace else []


def menus_played(client: AriClient, call_id: str) -> int:
    trace = client.recent.get(call_id)
    return sum(1 for s in trace.steps if s["kind"] == "prompt"
               and s.get("prompt") == "main_menu") if trace else 0


def played(fake: FakeAri) -> list[str]:
    return [p.split("media=")[1].replace("%3A", ":").replace("%2F", "/").split("&")[0]
            for m, p in fake.requests if "/play/" in p and "media=" in p]


async def test_no_input_three_times_goes_to_an_agent(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, _ = env
    await fake.start_call("c1")
    await eventually(lambda: "enqueue" in kinds(client, "c1"))
    await fake.hangup("c1")
    record = await wait_record(db, "c1")
    step_kinds = [s.kind for s in record.steps]
    assert step_kinds.count("no_input") == 3 and "too_many_failures" in step_kinds
    assert record.outcome == CallOutcome.ABANDONED and record.priority
    async with db.session() as session:
        entry = (await session.scalars(select(QueueEntry))).one()
    assert entry.call_id == "c1" and entry.result == "abandoned" and entry.left_at is not None


async def test_held_caller_hears_music_and_announcements_on_its_own_channel(
        env: tuple) -> None:  # type: ignore[type-arg]
    # Bridge music and bridge playback create Announcer channels, which deadlock Asterisk's
    # channel store under load: holding uses the caller's channel only.
    fake, _client, db, _ = env
    fake.play_delay = 0.05
    await fake.start_call("c7")
    await fake.dtmf("c7", "0")
    await eventually(lambda: any("please_hold" in m for m in played(fake)), timeout=10)
    await fake.hangup("c7")
    await wait_record(db, "c7")
    paths = [p for _, p in fake.requests]
    assert ("POST", "/ari/channels/c7/moh") in fake.requests
    assert ("DELETE", "/ari/channels/c7/moh") in fake.requests
    assert any(p.startswith("/ari/channels/c7/play/") and "please_hold" in p for p in paths)
    assert not any(p.startswith("/ari/bridges/") and ("/moh" in p or "/play" in p)
                   for p in paths)
    assert any(p.startswith("/ari/bridges?") and "holding" in p for p in paths)


async def test_invalid_key_then_star_repeats_then_valid_choice(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, _ = env
    await fake.start_call("c2")
    await fake.dtmf("c2", "7")
    # Each key goes in once the menu is playing again, as a caller listening would press it.
    await eventually(lambda: menus_played(client, "c2") == 2)
    await fake.dtmf("c2", "*")
    await eventually(lambda: menus_played(client, "c2") == 3)
    await fake.dtmf("c2", "2")
    record = await wait_record(db, "c2")
    steps = [(s.kind, s.detail.get("key")) for s in record.steps if s.kind in
             ("invalid", "repeat", "choice")]
    assert steps == [("invalid", "7"), ("repeat", None), ("choice", "2")]
    assert record.outcome == CallOutcome.HUNG_UP_IN_MENU
    prompts = [s.detail["prompt"] for s in record.steps if s.kind == "prompt"]
    assert prompts == ["main_menu", "invalid_input", "main_menu", "main_menu", "goodbye"]
    assert "sound:zh/goodbye" in played(fake)


async def test_message_becomes_a_work_order_with_its_number_spoken(env: tuple) -> None:  # type: ignore[type-arg]
    fake, _, db, voice = env
    await fake.start_call("c3")
    await fake.dtmf("c3", "1")
    record = await wait_record(db, "c3")
    async with db.session() as session:
        wo = (await session.scalars(select(WorkOrder))).one()
    assert wo.type.value == "complaint" and wo.call_id == "c3"
    assert wo.recording is not None and wo.recording.startswith("recording/hotline-c3-")
    assert voice.texts == [f"your number is {wo.number}"]
    assert record.outcome == CallOutcome.SELF_SERVICE


async def test_a_spoken_answer_plays_its_parts_one_after_the_other(env: tuple) -> None:  # type: ignore[type-arg]
    fake, _, db, voice = env
    voice.parts = 3
    await fake.start_call("c10")
    await fake.dtmf("c10", "1")
    await wait_record(db, "c10")
    media = played(fake)
    first = media.index("sound:text-1-part1")
    assert media[first:first + 4] == ["sound:text-1-part1", "sound:text-1-part2",
                                      "sound:text-1-part3", "sound:zh/goodbye"]


async def test_a_key_during_an_answer_stops_its_remaining_parts(env: tuple) -> None:  # type: ignore[type-arg]
    fake, _, db, voice = env
    voice.parts = 2
    fake.play_delay = 0.5
    await fake.start_call("c11")
    await fake.dtmf("c11", "1")
    await eventually(lambda: "sound:text-1-part1" in played(fake))
    await fake.dtmf("c11", "5")
    record = await wait_record(db, "c11")
    assert "sound:text-1-part2" not in played(fake)
    assert [s.kind for s in record.steps][-1] == "hangup_by_flow"


async def test_hang_up_while_recording_still_files_the_message(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, _ = env
    fake.record_seconds = 30
    await fake.start_call("c4")
    await fake.dtmf("c4", "1")
    await eventually(lambda: "record" in kinds(client, "c4"))
    await fake.hangup("c4")
    record = await wait_record(db, "c4")
    async with db.session() as session:
        wo = (await session.scalars(select(WorkOrder))).one()
    assert wo.call_id == "c4" and wo.recording
    assert [s.kind for s in record.steps][-2:] == ["hangup", "work_order"]
    assert record.outcome == CallOutcome.SELF_SERVICE


async def test_hang_up_mid_prompt_completes_the_record(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, _ = env
    fake.play_delay = 20
    await fake.start_call("c5")
    await eventually(lambda: "prompt" in kinds(client, "c5"))
    await fake.hangup("c5")
    record = await wait_record(db, "c5")
    assert record.outcome == CallOutcome.HUNG_UP_IN_MENU
    assert record.answered_at is not None and record.ended_at is not None
    assert [s.kind for s in record.steps][-1] == "hangup"


def test_flow_errors_name_file_line_and_problem() -> None:
    bad = "flow: x\nstart: main\nnodes:\n  main:\n    - menu: {prompt: p, options: {'12': a}," \
          " on_fail: main}\n    - goto: nowhere\n    - dance: {}\n"
    with pytest.raises(FlowError) as err:
        parse_flow(bad, "bad.yaml")
    text = str(err.value)
    assert "bad.yaml:5: menu: options" in text
    assert "bad.yaml:7: unknown step type 'dance'" in text
    with pytest.raises(FlowError, match=r"bad.yaml:6: goes to undefined node 'nowhere'"):
        parse_flow(bad.replace("    - dance: {}\n", "").replace("'12'", "'1'"), "bad.yaml")
    with pytest.raises(FlowError, match=r"x.yaml:2: not valid YAML"):
        parse_flow("flow: [\n  :", "x.yaml")
    with pytest.raises(FlowError, match="unknown prompt 'p'"):
        parse_flow(bad.replace("    - dance: {}\n", "").replace("'12'", "'1'")
                   .replace("nowhere", "main"), "ok.yaml", known_prompts={"q"})


async def test_a_request_failing_because_the_caller_left_is_a_hang_up(
        env: tuple) -> None:  # type: ignore[type-arg]
    fake, _client, db, _ = env
    fake.fail_record = True
    await fake.start_call("c8")
    await eventually(lambda: menus_played(_client, "c8") > 0)
    await fake.dtmf("c8", "1")
    fake.channels.pop("c8")  # the caller left; Asterisk has not told us yet
    record = await wait_record(db, "c8")
    step_kinds = [s.kind for s in record.steps]
    assert "error" not in step_kinds and "enqueue" not in step_kinds
    assert record.outcome_reason != "technical error"
    assert [s.detail for s in record.steps if s.kind == "hangup"] == [{"event": "channel gone"}]
    assert record.outcome != CallOutcome.ERROR


async def test_a_failing_step_apologises_and_queues_for_an_agent(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, _ = env
    fake.fail_record = True
    await fake.start_call("c6")
    await fake.dtmf("c6", "1")
    await eventually(lambda: "hold" in kinds(client, "c6"))
    await fake.hangup("c6")
    record = await wait_record(db, "c6")
    assert "error" in [s.kind for s in record.steps]
    assert [s.detail["prompt"] for s in record.steps if s.kind == "prompt"][-1] == \
        "technical_error"
    assert record.outcome == CallOutcome.ABANDONED
    assert record.outcome_reason == "technical error"


async def test_calls_and_queue_entries_are_published_once_on_the_event_feed(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    feed = EventFeed()
    sub = feed.subscribe()
    fake = FakeAri()
    await fake.start()
    client = AriClient(fake.base_url, "hotline", "u", "p",
                       ivr_handler(parse_flow(FLOW), db, StubVoice(), events=feed))
    client.start()
    try:
        await asyncio.wait_for(fake.connected.wait(), 5)
        await fake.start_call("e1")
        await fake.dtmf("e1", "0")
        await eventually(lambda: "hold" in kinds(client, "e1"))
        await fake.hangup("e1")
        await wait_record(db, "e1")
        seen = []
        while (event := await sub.get(1)) is not None:
            seen.append(event.as_dict())
            if event.kind == "call.ended":
                break
        assert [e["kind"] for e in seen] == ["call.started", "queue.joined", "queue.left",
                                              "call.ended"]
        assert all(e["call_id"] == "e1" for e in seen)
        assert seen[1]["queue"] == "general" and seen[1]["priority"] is True
        assert seen[2]["result"] == "abandoned" and seen[3]["outcome"] == "abandoned"
    finally:
        await client.stop()
        await fake.stop()
        await db.dispose()
