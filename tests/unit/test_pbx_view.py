"""The live PBX view's parts without a PBX: ARI resources into rows (durations, bridges,
masking), queue waits from the database, the AMI event fan-out, and `pbx top`'s screen."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.acd.queue_waits import queue_waits
from app.ami.feed import QUEUE_SIZE, AmiEventFeed, BadEventTypes, masked_fields, parse_types
from app.ari_handlers.models import Bridge, Channel
from app.db import migrate
from app.db.models import CallRecord, OfferKind, QueueEntry, QueueResult
from app.db.session import Database
from app.pbx.live import (
    bridge_membership,
    bridge_view,
    bridges_now,
    channel_view,
    channels_now,
    seconds_since,
    shown_number,
)
from app.pbx.top import View, application, duration, render

NOW = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)


def channel(cid: str, caller: str, age: float, app: str = "Stasis",
            data: str = "hotline,echo") -> Channel:
    return Channel.model_validate({
        "id": cid, "name": f"PJSIP/sipp-{cid}", "state": "Up",
        "caller": {"name": "", "number": caller},
        "dialplan": {"context": "from-sip", "exten": "12306", "priority": 2,
                     "app_name": app, "app_data": data},
        "creationtime": (NOW - timedelta(seconds=age)).isoformat()})


# --- durations and numbers ----------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0:00"), (7, "0:07"), (59, "0:59"), (60, "1:00"), (754, "12:34"), (3599, "59:59"),
    (3600, "1:00:00"), (3723, "1:02:03"), (90061, "25:01:01"), (-3, "0:00"), (12.9, "0:12")])
def test_durations_read_like_a_clock(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_seconds_since_counts_whole_seconds_and_never_below_zero() -> None:
    assert seconds_since(NOW - timedelta(seconds=61.9), NOW) == 61
    assert seconds_since(NOW + timedelta(seconds=2), NOW) == 0  # the PBX's clock ahead
    assert seconds_since(None, NOW) == 0
    naive = (NOW - timedelta(seconds=5)).replace(tzinfo=None)  # as SQLite hands it back
    assert seconds_since(naive, NOW) == 5


def test_passengers_numbers_are_masked_short_numbers_are_not() -> None:
    assert shown_number("13800138000") == "138****8000"
    assert shown_number("01012345678") == "010****5678"
    assert shown_number("7701") == "7701"  # an agent's 工号
    assert shown_number("12306") == "12306"
    assert shown_number("") == ""


# --- ARI resources into rows --------------------------------------------------------------

def test_a_channel_row_has_its_bridge_duration_and_app() -> None:
    caller = channel("c1", "13800138000", 75.4)
    agent = channel("c2", "7701", 10, app="Stasis", data="hotline,agent")
    alone = channel("c3", "13900139000", 3, app="Dial", data="PJSIP/13900139000@trunk")
    talk = Bridge.model_validate({"id": "b1", "technology": "simple_bridge",
                                  "bridge_type": "mixing", "bridge_class": "stasis",
                                  "channels": ["c1", "c2"],
                                  "creationtime": (NOW - timedelta(seconds=9)).isoformat()})
    members = bridge_membership([talk])
    assert members == {"c1": "b1", "c2": "b1"}
    row = channel_view(caller, NOW, members)
    assert (row.id, row.caller, row.duration_seconds, row.bridge_id) == (
        "c1", "138****8000", 75, "b1")
    assert (row.context, row.exten, row.app, row.app_data) == (
        "from-sip", "12306", "Stasis", "hotline,echo")
    assert channel_view(agent, NOW, members).caller == "7701"
    other = channel_view(alone, NOW, members)
    assert other.bridge_id is None
    assert "13900139000" not in other.app_data and other.app_data.startswith("PJSIP/139")
    view = bridge_view(talk, NOW)
    assert (view.type, view.technology, view.channels, view.age_seconds) == (
        "mixing", "simple_bridge", ["c1", "c2"], 9)


def test_a_channel_outside_the_dialplan_has_empty_places() -> None:
    bare = Channel.model_validate({"id": "x", "name": "Snoop/x", "state": "Up"})
    row = channel_view(bare, NOW, {})
    assert (row.context, row.exten, row.app, row.duration_seconds) == ("", "", "", 0)


class StubRest:
    """ARI's channel and bridge lists."""

    def __init__(self, channels: list[Channel], bridges: list[Bridge]) -> None:
        self.channels, self.bridges = channels, bridges

    async def list_channels(self) -> list[Channel]:
        return self.channels

    async def list_bridges(self) -> list[Bridge]:
        return self.bridges


async def test_the_lists_come_the_oldest_first_with_each_channels_bridge() -> None:
    def bridge(bid: str, age: int, members: list[str]) -> Bridge:
        return Bridge.model_validate({"id": bid, "bridge_type": "mixing", "channels": members,
                                      "creationtime": (NOW - timedelta(seconds=age)).isoformat()})

    rest: Any = StubRest([channel("new", "7701", 2), channel("old", "13800138000", 40),
                          channel("mid", "7702", 9)],
                         [bridge("young", 1, ["new"]), bridge("aged", 30, ["old", "mid"])])
    rows = await channels_now(rest, NOW)
    assert [(r.id, r.bridge_id) for r in rows] == [("old", "aged"), ("mid", "aged"),
                                                  ("new", "young")]
    assert [b.id for b in await bridges_now(rest, NOW)] == ["aged", "young"]


# --- queue waits from the database --------------------------------------------------------

@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'waits.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


async def test_queue_waits_are_open_live_entries_of_live_calls(db: Database) -> None:
    def call(cid: str, caller: str, ended: bool = False) -> CallRecord:
        return CallRecord(id=cid, caller=caller, called="12306", started_at=NOW,
                          ended_at=NOW if ended else None)

    def entry(cid: str, queue: str, waited: int, **extra: Any) -> QueueEntry:
        return QueueEntry(call_id=cid, queue=queue, reason="menu",
                          entered_at=NOW - timedelta(seconds=waited), **extra)

    async with db.session() as session:
        session.add_all([call("a", "13800138000"), call("b", "13900139000"),
                         call("c", "13700137000"), call("gone", "13600136000", ended=True),
                         call("done", "13500135000"), call("cb", "13400134000")])
        await session.flush()
        session.add_all([
            entry("a", "general", 30), entry("b", "general", 95, priority=True),
            entry("c", "refund", 4),
            entry("gone", "general", 300),  # left behind by a call that ended
            entry("done", "general", 50, left_at=NOW, result=QueueResult.CONNECTED),
            entry("cb", "general", 70, kind=OfferKind.CALLBACK),  # a callback attempt
        ])
        await session.commit()
        waits = await queue_waits(session, NOW)
    assert [(q.queue, q.waiting, q.longest_wait_seconds) for q in waits] == [
        ("general", 2, 95), ("refund", 1, 4)]
    general = waits[0].callers
    assert [(c.call_id, c.caller, c.priority, c.wait_seconds) for c in general] == [
        ("b", "139****9000", True, 95), ("a", "138****8000", False, 30)]
    assert general[0].entered_at.tzinfo is not None


# --- the AMI event fan-out ----------------------------------------------------------------

def test_event_types_are_names_given_with_commas() -> None:
    assert parse_types("Newchannel, Hangup") == frozenset({"newchannel", "hangup"})
    assert parse_types(None) is None and parse_types(" ") is None
    with pytest.raises(BadEventTypes, match="Hang up!"):
        parse_types("Newchannel,Hang up!")


def test_event_fields_mask_numbers_but_not_identifiers() -> None:
    fields = masked_fields([("Event", "Newchannel"), ("CallerIDNum", "13800138000"),
                            ("Exten", "12306"), ("Uniqueid", "1764496800.12"),
                            ("Linkedid", "13800138000"), ("Channel", "PJSIP/sipp-0001")])
    assert fields == {"Event": "Newchannel", "CallerIDNum": "138********", "Exten": "12306",
                      "Uniqueid": "1764496800.12", "Linkedid": "13800138000",
                      "Channel": "PJSIP/sipp-0001"}


async def test_each_watcher_gets_only_its_types_and_loses_what_it_cannot_hold() -> None:
    feed = AmiEventFeed()
    hangups = feed.watch(frozenset({"hangup"}))
    everything = feed.watch(None)
    feed.on_event(None, {"Event": "Newchannel", "CallerIDNum": "13800138000"})
    feed.on_event(None, {"Event": "Hangup", "Cause": "16"})
    assert await hangups.next(0.1) == {"Event": "Hangup", "Cause": "16"}
    assert await hangups.next(0.01) is None
    assert [(await everything.next(0.1) or {}).get("Event") for _ in range(2)] == [
        "Newchannel", "Hangup"]
    for _ in range(QUEUE_SIZE + 5):
        feed.on_event(None, {"Event": "Hangup"})
    assert hangups.queue.qsize() == QUEUE_SIZE and hangups.dropped == 5
    feed.leave(hangups)
    feed.leave(everything)
    feed.on_event(None, {"Event": "Hangup"})  # nobody watches: nothing kept
    assert hangups.queue.qsize() == QUEUE_SIZE


def test_the_feed_listens_on_every_event_of_the_manager() -> None:
    registered: list[tuple[str, Any]] = []

    class Manager:
        def register_event(self, pattern: str, callback: Any) -> None:
            registered.append((pattern, callback))

    feed = AmiEventFeed()
    feed.attach(Manager())
    assert registered == [("*", feed.on_event)]


# --- pbx top's screen ---------------------------------------------------------------------

def test_the_application_column() -> None:
    assert application({"app": "Stasis", "app_data": "hotline,echo"}) == "Stasis(hotline)"
    assert application({"app": "Dial", "app_data": "PJSIP/7701"}) == "Dial(PJSIP/7701)"
    assert application({"app": "Hangup", "app_data": ""}) == "Hangup"
    assert application({"app": ""}) == "-"


def test_the_screen_shows_channels_bridges_and_waits() -> None:
    view = View(
        at=NOW,
        channels=[{"id": "c1", "name": "PJSIP/sipp-00000001", "state": "Up",
                   "caller": "138****8000", "context": "from-sip", "exten": "12306",
                   "app": "Stasis", "app_data": "hotline", "duration_seconds": 754,
                   "bridge_id": "0f1e2d3c-aaaa"},
                  {"id": "c2", "name": "PJSIP/agent-7701-00000002", "state": "Up",
                   "caller": "7701", "context": "", "exten": "", "app": "",
                   "app_data": "", "duration_seconds": 5, "bridge_id": "0f1e2d3c-aaaa"}],
        bridges=[{"id": "0f1e2d3c-aaaa", "type": "mixing", "technology": "simple_bridge",
                  "channels": ["c1", "c2"], "age_seconds": 4}],
        queues=[{"queue": "general", "waiting": 1, "longest_wait_seconds": 3723,
                 "callers": [{"caller": "139****9000", "priority": True,
                              "wait_seconds": 3723}]}])
    lines = render(view, 160)
    assert "2 channels  1 bridges  1 waiting" in lines[0] and "(q quits)" in lines[0]
    [caller] = [ln for ln in lines if "138****8000" in ln]
    for part in ("PJSIP/sipp-00000001", "Up", "Stasis(hotline)", "from-sip/12306", "12:34",
                 "0f1e2d3c"):
        assert part in caller
    [agent] = [ln for ln in lines if ln.startswith("PJSIP/agent-7701")]
    assert " - " in agent and "-/-" in agent and "0:05" in agent
    [bridge] = [ln for ln in lines if ln.startswith("0f1e2d3c ")]
    assert "mixing" in bridge and "0:04" in bridge
    assert "PJSIP/sipp-00000001, PJSIP/agent-7701-00000002" in bridge
    [queue] = [ln for ln in lines if ln.startswith("general")]
    assert "1:02:03" in queue and "139****9000 (priority) 1:02:03" in queue


def test_the_screen_fits_its_width_and_says_what_is_wrong() -> None:
    long = {"id": "c" * 60, "name": "PJSIP/" + "x" * 80, "state": "Up", "caller": "-",
            "duration_seconds": 1}
    view = View(at=NOW, channels=[long], problem="http://127.0.0.1:8080 does not answer")
    lines = render(view, 60)
    assert all(len(line) <= 60 for line in lines)
    assert lines[1] == "!! http://127.0.0.1:8080 does not answer"
    assert "(no bridges)" in lines and "(nobody waiting)" in lines
    assert "(no channels)" in render(View(), 80)
    assert "q quits" not in render(View(), 80, live=False)[0]  # --once prints no key


def test_once_into_a_closed_pipe_ends_without_a_traceback() -> None:
    """`hotline pbx top --once | head -1`: the reader going away early is not an error."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "pbx", "top", "--once", "--api", "http://127.0.0.1:9"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # nobody reads: the view's first write meets a closed pipe
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1, err  # the API did not answer: said in the view
    assert "Traceback" not in err and "BrokenPipe" not in err, err
