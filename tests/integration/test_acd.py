"""Agents take queued callers on the real PBX: registering softphones, real SIP callers."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import math
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.pbx import sandbox
from tests.data import SPEECH
from tests.integration.conftest import Platform, wait_for
from tests.integration.test_ivr import hold_for, seconds_of

PASSWORD = "acd-test-pass"
PHONES: list[subprocess.Popen[str]] = []
AGENTS: set[str] = set()


def hotline(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                          text=True, env=platform.env(), timeout=60)


def agent(platform: Platform, number: str, skills: str, center: str = "北京") -> str:
    """An agent (created once per session, skills reset), logged out."""
    made = hotline(platform, "agents", "create", number, "--name", f"坐席{number}", "--center",
                   center, "--skills", skills, "--password", PASSWORD)
    if made.returncode != 0:
        assert "exists" in made.stderr, made.stderr
        assert hotline(platform, "agents", "set-skills", number, skills).returncode == 0
    set_state(platform, number, "logged_out")
    AGENTS.add(number)
    return number


def set_state(platform: Platform, number: str, state: str) -> None:
    resp = httpx.post(f"{platform.api}/api/v1/agents/{number}/state", json={"state": state},
                      headers={"Authorization": f"Bearer {platform.supervisor_token}"},
                      timeout=10)
    assert resp.status_code == 200, resp.text


def agent_view(platform: Platform, number: str) -> dict[str, Any]:
    return dict(platform.get(f"/api/v1/agents/{number}").json())


def contacts(platform: Platform, number: str) -> set[str]:
    return {line.split()[1] for line in sandbox.cli(platform.settings, "pjsip show contacts")
            .splitlines() if f"agent-{number}/" in line and line.split()[0] == "Contact:"}


def phone(platform: Platform, number: str, *args: str) -> subprocess.Popen[str]:
    before = contacts(platform, number)  # a stale contact (an earlier phone) is not this one
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "softphone", "--agent", number, "--password",
         PASSWORD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=platform.env())
    PHONES.append(proc)
    wait_for(lambda: bool(contacts(platform, number) - before), 60,
             f"agent {number} registered")
    return proc


def phone_result(proc: subprocess.Popen[str], timeout: float = 90) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert out.strip(), err
    return dict(json.loads(out.strip().splitlines()[-1]))


def release(platform: Platform, settle: float = 20) -> None:
    """After a test: its agents logged out, its callbacks dropped, its phones gone, and every
    channel and bridge of every call gone (nothing leaks into the next test)."""
    while AGENTS:  # no agent of one test takes the next test's callers
        set_state(platform, AGENTS.pop(), "logged_out")
    with sqlite3.connect(platform.db_url.removeprefix("sqlite:///")) as db:  # nor its callbacks
        db.execute("update callbacks set status = 'failed' where status = 'pending'")
    while PHONES:
        proc = PHONES.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_for(lambda: platform.channels() == 0 and platform.bridges() == 0, settle,
             "no channel or bridge left")


@pytest.fixture(autouse=True)
def clean(platform: Platform) -> Iterator[None]:
    yield
    release(platform)


def stats_totals(platform: Platform) -> dict[str, Any]:
    """`hotline stats` of yesterday and today (Asia/Shanghai): the totals."""
    from datetime import timedelta

    from app.core.clock import today

    day = today()
    done = hotline(platform, "stats", "--from", str(day - timedelta(days=1)), "--to", str(day),
                   "--by", "queue", "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout)["totals"])


def test_a_waiting_caller_is_connected_to_a_ready_agent(platform: Platform) -> None:
    before = stats_totals(platform)
    number = agent(platform, "7501", "ticket:5")
    proc = phone(platform, number, "--answer-after", "1", "--hold", "4", "--timeout", "60")
    set_state(platform, number, "ready")
    summary = platform.call("--to", platform.settings.hotline_number, "--dtmf", "0",
                            "--hold", "40")
    result = phone_result(proc)
    assert result["ok"] and result["registered"], result
    [taken] = result["calls"]
    assert taken["answered"] and taken["call_id"] == summary["call_id"]
    assert taken["from"] == "138****8000" and taken["talk_seconds"] > 3
    assert summary["hung_up_by"] == "hotline"  # the agent hung up, then the platform

    record = platform.record(summary["sip_call_id"])
    [entry] = record["queue_entries"]
    assert entry["queue"] == "general" and entry["result"] == "connected"
    assert entry["skill"] == "ticket" and entry["wait_seconds"] is not None
    [leg] = record["agent_legs"]
    assert leg["agent"] == number and leg["result"] == "answered"
    assert leg["talk_seconds"] > 3 and leg["answer_at"] is not None
    kinds = [s["kind"] for s in record["steps"]]
    assert kinds.index("agent_ring") < kinds.index("agent_connected")
    after = stats_totals(platform)  # the call counts in `hotline stats`
    assert (after["offered"], after["answered"]) == (before["offered"] + 1,
                                                      before["answered"] + 1)
    # After the call: wrap-up, then ready again.
    assert agent_view(platform, number)["state"] in ("wrap_up", "ready")
    wait_for(lambda: agent_view(platform, number)["state"] == "ready", 30, "ready after wrap-up")
    set_state(platform, number, "logged_out")


def test_no_answer_goes_to_the_next_agent_and_two_in_a_row_pause_the_agent(
        platform: Platform) -> None:
    high = agent(platform, "7511", "ticket:9")
    low = agent(platform, "7512", "ticket:2")
    rejecting = phone(platform, high, "--reject", "--calls", "2", "--timeout", "120")
    set_state(platform, high, "ready")
    set_state(platform, low, "ready")
    legs = []
    for _ in range(2):  # one answering phone per call: each takes one call, then unregisters
        answering = phone(platform, low, "--answer-after", "1", "--hold", "2")
        summary = platform.call("--dtmf", "0", "--hold", "30")
        assert phone_result(answering)["ok"]
        legs.append(platform.record(summary["sip_call_id"])["agent_legs"])
        wait_for(lambda: agent_view(platform, low)["state"] == "ready", 20, "low agent ready")
    # Higher level first; rejected -> the next agent, not the same one again.
    assert [(leg["agent"], leg["result"]) for leg in legs[0]] == [
        (high, "rejected"), (low, "answered")]
    # The second rejection in a row pauses the agent (未接); the caller still gets an agent.
    assert [(leg["agent"], leg["result"]) for leg in legs[1]] == [
        (high, "rejected"), (low, "answered")]
    view = agent_view(platform, high)
    assert view["state"] == "paused" and view["reason"] == "未接"
    assert phone_result(rejecting)["ok"]


def test_a_caller_who_hangs_up_while_waiting_is_an_abandon_with_its_wait(
        platform: Platform) -> None:
    number = agent(platform, "7521", "ticket:5")
    phone(platform, number, "--timeout", "60")
    set_state(platform, number, "ready")
    set_state(platform, number, "paused")  # logged in, not ready: the caller has to wait
    summary = platform.call("--dtmf", "0", "--hold", "12")
    record = platform.record(summary["sip_call_id"])
    [entry] = record["queue_entries"]
    assert entry["result"] == "abandoned" and entry["wait_seconds"] > 3
    assert record["outcome"] == "abandoned"
    assert record["agent_legs"] == []
    set_state(platform, number, "logged_out")


def test_with_no_agent_of_the_skill_logged_in_the_caller_is_told_and_offered_a_callback(
        platform: Platform) -> None:
    # Press 0, then 1 while the offer plays (keys interrupt it): a callback is booked.
    pause = math.ceil(seconds_of(platform, "transfer_agent")) + 3
    summary = platform.call("--dtmf", "0" + "," * pause + "1",
                            "--hold", hold_for(platform, "acd_callback_booked"))
    record = platform.record(summary["sip_call_id"])
    [entry] = record["queue_entries"]
    assert entry["result"] == "callback"
    prompts = [s["detail"].get("prompt") for s in record["steps"] if s["kind"] == "prompt"]
    assert "acd_no_agents" in prompts and "acd_callback_booked" in prompts


def token_of(platform: Platform, user: str) -> str:
    out = hotline(platform, "users", "token", user)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


class EventStream:
    """An agent's WebSocket event stream, read on a thread."""

    def __init__(self, platform: Platform, number: str, token: str) -> None:
        url = platform.api.replace("http://", "ws://") + f"/api/v1/agents/{number}/events"
        self.ws = connect(f"{url}?token={token}", open_timeout=10)
        self.messages: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):
            for raw in self.ws:
                self.messages.append(json.loads(raw))

    def kinds(self) -> list[str]:
        return [m["kind"] for m in self.messages]

    def close(self) -> None:
        self.ws.close()


def refused(platform: Platform, number: str, token: str | None) -> int | None:
    url = platform.api.replace("http://", "ws://") + f"/api/v1/agents/{number}/events"
    try:
        with connect(url + (f"?token={token}" if token else ""), open_timeout=10) as ws:
            ws.recv(timeout=5)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
    return None


def test_the_screen_pop_and_state_changes_reach_the_agents_event_stream(
        platform: Platform) -> None:
    number = agent(platform, "7531", "ticket:5")
    other = agent(platform, "7532", "ticket:1")
    stream = EventStream(platform, number, token_of(platform, number))
    try:
        wait_for(lambda: stream.kinds()[:1] == ["agent.snapshot"], 10, "snapshot first")
        proc = phone(platform, number, "--answer-after", "2", "--hold", "2")
        set_state(platform, number, "ready")
        wait_for(lambda: "agent.state" in stream.kinds(), 5, "state change on the stream")
        summary = platform.call("--dtmf", "0", "--hold", "30")
        assert phone_result(proc)["ok"]
        wait_for(lambda: "agent.connected" in stream.kinds(), 10, "connected on the stream")
        pop = next(m for m in stream.messages if m["kind"] == "agent.ringing")
        assert pop["call_id"] == summary["call_id"] and pop["caller"] == "138****8000"
        assert pop["queue"] == "general" and pop["skill"] == "ticket"
        context = pop["context"]
        assert "agent" in context["ivr_path"] and context["language"] == "zh"
        assert context["priority"] is False and context["wait_seconds"] >= 0
        assert context["calls_last_7_days"] >= 1 and context["overflow_from"] is None
        states = [m["state"] for m in stream.messages if m["kind"] == "agent.state"]
        assert states[:3] == ["ready", "ringing", "on_call"]
        assert all(m.get("agent") in (None, number) for m in stream.messages)
    finally:
        stream.close()
    # Only the agent itself or a supervisor may listen.
    assert refused(platform, number, token_of(platform, other)) == 4403
    assert refused(platform, number, None) == 4401
    assert refused(platform, "7999", platform.supervisor_token) == 4404


def test_after_overflow_after_an_agent_of_another_center_takes_the_call(
        platform: Platform) -> None:
    shanghai = agent(platform, "7541", "ticket:5", center="上海")
    proc = phone(platform, shanghai, "--answer-after", "1", "--hold", "2")
    set_state(platform, shanghai, "ready")
    # 13800138000 belongs to no center's prefix: the default center 北京, with no agent.
    summary = platform.call("--dtmf", "0", "--hold", "40")
    assert phone_result(proc)["ok"]
    record = platform.record(summary["sip_call_id"])
    [entry] = record["queue_entries"]
    assert entry["result"] == "connected" and entry["center"] == "北京"
    assert entry["overflow_from"] == "北京" and entry["overflow_to"] == "上海"
    assert entry["wait_seconds"] >= 8  # overflow.after in the tests' routing
    assert [leg["agent"] for leg in record["agent_legs"]] == [shanghai]


def test_a_priority_caller_goes_ahead_of_an_earlier_caller(platform: Platform) -> None:
    number = agent(platform, "7551", "ticket:5,assistance:5")
    # One phone takes both calls: a phone replaced between them could be rung before the new
    # one registers (the agent is then paused as offline, and the second caller waits on).
    proc = phone(platform, number, "--answer-after", "1", "--hold", "3", "--calls", "2",
                 "--timeout", "150")
    set_state(platform, number, "ready")
    set_state(platform, number, "paused")  # both callers wait until the agent is ready
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(platform.call, "--dtmf", "0", "--hold", "70")
        time.sleep(6)
        second = pool.submit(platform.call, "--dtmf", "6", "--hold", "70")  # 重点旅客

        def waiting(queue: str) -> int:
            with sqlite3.connect(platform.db_url.removeprefix("sqlite:///")) as db:
                return int(db.execute("select count(*) from queue_entries where queue = ? "
                                      "and left_at is null", (queue,)).fetchone()[0])

        # Both queued before the agent is ready (a fixed wait was too short under load).
        wait_for(lambda: waiting("general") and waiting("assistance"), 60, "both callers queued")
        set_state(platform, number, "ready")
        calls = [first.result(timeout=150), second.result(timeout=150)]
    taken = phone_result(proc, timeout=180)
    assert taken["ok"], taken
    general, assistance = (platform.record(c["sip_call_id"]) for c in calls)
    assert assistance["priority"] is True
    assert assistance["queue_entries"][0]["queue"] == "assistance"
    answered = {name: min(leg["answer_at"] for leg in record["agent_legs"] if leg["answer_at"])
                for name, record in (("assistance", assistance), ("general", general))}
    assert answered["assistance"] < answered["general"]
    assert general["queue_entries"][0]["entered_at"] < assistance["queue_entries"][0]["entered_at"]


def test_a_callback_rings_the_agent_first_then_the_passenger_and_bridges(
        platform: Platform) -> None:
    # No agent of the skill is logged in: the caller books a callback (key 1).
    pause = math.ceil(seconds_of(platform, "transfer_agent")) + 3
    summary = platform.call("--dtmf", "0" + "," * pause + "1",
                            "--hold", hold_for(platform, "acd_callback_booked"))
    record = platform.record(summary["sip_call_id"])
    assert record["queue_entries"][0]["result"] == "callback"
    db = sqlite3.connect(platform.db_url.removeprefix("sqlite:///"))
    row = db.execute("select id, number, status, attempts from callbacks where call_id = ?",
                     (summary["call_id"],)).fetchone()
    assert row[1:] == ("13800138000", "pending", 0)

    # The passenger's phone (SIPp's built-in answering scenario) and an agent coming in.
    passenger = subprocess.Popen(
        ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", os.environ["HOTLINE_PASSENGER_PORT"],
         "-m", "1", "-nostdin", "-timeout", "90s"], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    PHONES.append(passenger)
    number = agent(platform, "7561", "ticket:5")
    proc = phone(platform, number, "--answer-after", "1", "--hold", "4")
    set_state(platform, number, "ready")
    result = phone_result(proc)
    assert result["ok"] and result["calls"][0]["call_id"] == summary["call_id"], result
    assert passenger.wait(timeout=30) == 0, passenger.stderr.read() if passenger.stderr else ""
    wait_for(lambda: db.execute("select status from callbacks where id = ?",
                                (row[0],)).fetchone()[0] == "done", 10, "callback done")
    status, attempts, last = db.execute(
        "select status, attempts, last_result from callbacks where id = ?", (row[0],)).fetchone()
    assert (status, attempts, last) == ("done", 1, "connected")
    shown = platform.get(f"/api/v1/calls/{summary['call_id']}").json()
    legs = shown["agent_legs"]
    assert [(leg["agent"], leg["result"]) for leg in legs] == [(number, "answered")]
    assert legs[0]["talk_seconds"] > 2
    # The attempt is a new offer of kind callback (docs/statistics.md), answered.
    assert [(e["kind"], e["result"]) for e in shown["queue_entries"]] == \
        [("live", "callback"), ("callback", "connected")]


def test_the_agent_rings_during_the_recording_notice_and_the_caller_hears_it_whole(
        platform: Platform) -> None:
    from datetime import datetime

    number = agent(platform, "7561", "ticket:5")
    proc = phone(platform, number, "--answer-after", "0", "--hold", "3")
    set_state(platform, number, "ready")
    summary = platform.call("--dtmf", "0", "--hold", "30")
    assert phone_result(proc)["ok"]
    record = platform.record(summary["sip_call_id"])
    at = {}
    for step in record["steps"]:
        kind = step["kind"] + ("_background" if step["detail"].get("background") else "")
        at.setdefault(kind, datetime.fromisoformat(step["at"]).timestamp())
    notice = seconds_of(platform, "recording_notice")
    # The phone rang while the notice played, not after it.
    assert at["play_background"] <= at["agent_ring"] < at["play_background"] + notice - 1
    # The caller joined the agent once the notice had been played to its end.
    assert at["played_background"] - at["play_background"] > notice - 0.3
    assert at["talk_joined"] - at["play_background"] > notice - 0.3


def test_audio_flows_both_ways_between_caller_and_agent(platform: Platform) -> None:
    from tests.integration.test_softphone import rtp_counts

    number = agent(platform, "7571", "ticket:5")
    proc = phone(platform, number, "--answer-after", "1", "--hold", "12")
    set_state(platform, number, "ready")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # The caller speaks once the agent is on (keys, then six seconds, then speech).
        call = pool.submit(platform.call, "--dtmf", "0,,,,,,", "--speech",
                           str(SPEECH / "ulaw8k" / "002.wav"), "--hold", "30")
        seen: dict[str, tuple[int, int]] = {}

        def both_ways() -> bool:
            for leg, prefix in (("agent", f"agent-{number}"), ("caller", "caller-")):
                if (counts := rtp_counts(platform.settings, prefix)) is not None:
                    seen[leg] = counts
            return all(leg in seen and min(seen[leg]) > 0 for leg in ("agent", "caller"))

        # Agent's leg: received = the phone's audio, sent = the caller's speech; and the
        # caller's leg the other way round: the mixing bridge carries both directions.
        wait_for(both_ways, 30, f"RTP both ways on both legs ({seen})")
        call.result(timeout=60)
    assert phone_result(proc)["ok"]


def test_an_agent_phone_that_dies_while_ringing_does_not_strand_the_caller(
        platform: Platform) -> None:
    slow = agent(platform, "7581", "ticket:9")
    backup = agent(platform, "7582", "ticket:2")
    dying = phone(platform, slow, "--answer-after", "60", "--timeout", "90")
    set_state(platform, slow, "ready")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(platform.call, "--dtmf", "0", "--hold", "60")
        wait_for(lambda: agent_view(platform, slow)["state"] == "ringing", 20, "slow agent rings")
        dying.kill()  # the phone is gone mid-ring, without a word to the PBX
        answering = phone(platform, backup, "--answer-after", "1", "--hold", "2")
        set_state(platform, backup, "ready")
        summary = call.result(timeout=120)
    assert phone_result(answering)["ok"]
    record = platform.record(summary["sip_call_id"])
    assert [(leg["agent"], leg["result"]) for leg in record["agent_legs"]] == [
        (slow, "no_answer"), (backup, "answered")]
    assert record["queue_entries"][0]["result"] == "connected"


def test_an_agent_whose_phone_is_not_registered_is_paused_not_rung_again_and_again(
        platform: Platform) -> None:
    offline = agent(platform, "7591", "ticket:5")  # never had a phone on this PBX
    set_state(platform, offline, "ready")
    summary = platform.call("--dtmf", "0", "--hold", "20")
    record = platform.record(summary["sip_call_id"])
    # One failed attempt, not one every distribution round while the caller waits.
    assert [(leg["agent"], leg["result"]) for leg in record["agent_legs"]] == [
        (offline, "failed")]
    view = agent_view(platform, offline)
    assert view["state"] == "paused" and view["reason"] == "离线"


def test_after_a_pbx_restart_agents_are_back_and_nothing_is_left_ringing(
        platform: Platform) -> None:
    number = agent(platform, "7591", "ticket:5")
    ringing = phone(platform, number, "--answer-after", "60", "--timeout", "90")
    set_state(platform, number, "ready")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(platform.call, "--dtmf", "0", "--hold", "60")
        wait_for(lambda: agent_view(platform, number)["state"] == "ringing", 20, "agent rings")
        sandbox.stop(platform.settings)  # the caller's and the agent's calls end with it
        ringing.kill()
        sandbox.start(platform.settings)
        summary = call.result(timeout=120)
    wait_for(lambda: platform.health() == 200, 30, "platform reconnected")
    record = platform.record(summary["sip_call_id"])
    assert record["queue_entries"][0]["left_at"] is not None  # the entry is closed
    wait_for(lambda: agent_view(platform, number)["state"] not in ("ringing", "on_call"), 20,
             "agent not left ringing")
    # The agent's SIP account is back in the restarted PBX: the phone registers again.
    again = phone(platform, number, "--timeout", "5", "--keep")
    result = phone_result(again)
    files = Path(result.get("files", "/nonexistent"))
    logs = {f.name: f.read_text(errors="replace")[-1500:] for f in files.glob("*.log")} \
        if files.is_dir() else {}
    assert result["registered"], (result, logs)


def test_a_caller_who_gives_up_while_the_agent_rings_is_not_the_agents_miss(
        platform: Platform) -> None:
    number = agent(platform, "7522", "ticket:5")
    phone(platform, number, "--answer-after", "60", "--timeout", "90")
    set_state(platform, number, "ready")
    summary = platform.call("--dtmf", "0", "--hold", "9")
    record = platform.record(summary["sip_call_id"])
    assert record["queue_entries"][0]["result"] == "abandoned"
    assert [(leg["agent"], leg["result"]) for leg in record["agent_legs"]] == [
        (number, "failed")]
    view = agent_view(platform, number)
    assert view["state"] == "ready" and view["missed_in_row"] == 0
