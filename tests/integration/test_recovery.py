"""The platform stops or dies under real calls: nobody is stranded, and the records say what
happened (the caller's own hang-ups apart from the platform's faults)."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import DRAIN_SECONDS, Platform, start_serve, wait_for
from tests.integration.test_acd import agent, agent_view, phone, release, set_state


def ari_get(platform: Platform, path: str) -> Any:
    from app.pbx.secrets import load_credentials

    settings = platform.settings
    creds = load_credentials(settings)
    return httpx.get(f"{settings.ari_base_url}/{path}", timeout=5,
                     auth=(settings.ari_user, creds.ari_password)).json()


def rows(platform: Platform, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(platform.db_url.removeprefix("sqlite:///")) as db:
        return list(db.execute(sql, args))


def call_id_of(platform: Platform, sip_call_id: str) -> str:
    found = rows(platform, "select id from calls where sip_call_id = ?", sip_call_id)
    assert found, f"no record of {sip_call_id}"
    return str(found[0][0])


def steps_of(platform: Platform, call_id: str) -> list[tuple[str, str]]:
    """(kind, prompt or node) of each stored step of the call."""
    out = []
    for kind, detail in rows(
            platform, "select kind, detail from call_steps where call_id = ? order by seq",
            call_id):
        values = json.loads(detail)
        out.append((kind, str(values.get("prompt") or values.get("node") or "")))
    return out


def live_ids(platform: Platform) -> dict[str, str]:
    """sip call id -> channel id of the calls the platform is running now."""
    calls = platform.get("/api/v1/calls/recent").json()
    return {c["sip_call_id"]: c["call_id"] for c in calls if c["active"]}


def answered_ids(platform: Platform) -> list[str]:
    """The running calls that have been answered."""
    calls = platform.get("/api/v1/calls/recent").json()
    return [c["call_id"] for c in calls if c["active"] and c["answered_at"]]


@pytest.fixture
def restarted(platform: Platform) -> Iterator[Platform]:
    """The test stops or kills the platform; whatever happened, it is running after."""
    yield platform
    release(platform, 30)


def test_after_kill_9_every_call_is_picked_up_where_it_was(restarted: Platform) -> None:
    platform = restarted
    talker = agent(platform, "7601", "ticket:5")
    busy = agent(platform, "7602", "ticket:5")
    phone(platform, talker, "--answer-after", "1", "--timeout", "120")
    phone(platform, busy, "--timeout", "120")
    set_state(platform, talker, "ready")
    set_state(platform, busy, "ready")
    set_state(platform, busy, "paused")  # logged in, not taking calls: the second caller waits
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        talking = pool.submit(platform.call, "--dtmf", "0", "--hold", "45")
        wait_for(lambda: agent_view(platform, talker)["state"] == "on_call", 30, "agent talking")
        waiting = pool.submit(platform.call, "--dtmf", "0", "--hold", "40")
        in_menu = pool.submit(platform.call, "--hold", "40")
        wait_for(lambda: len(live_ids(platform)) == 3, 20, "three calls up")
        open_entry = "select id, entered_at from queue_entries where left_at is null"
        wait_for(lambda: rows(platform, open_entry), 20, "the second caller in the queue")
        [(entry_id, entered_at)] = rows(platform, open_entry)
        # Placed last, just before the kill, so it ends while the platform is down.
        short = pool.submit(platform.call, "--hold", "4")
        # Answered before the kill: a caller not yet answered would wait for the answer
        # instead of ending while the platform is down.
        wait_for(lambda: len(answered_ids(platform)) == 4, 20, "four calls answered")
        assert platform.proc is not None
        platform.proc.send_signal(signal.SIGKILL)
        platform.proc.wait()
        short_summary = short.result(timeout=60)  # hung up while nobody was there
        start_serve(platform)
        results = {name: f.result(timeout=150) for name, f in
                   (("talking", talking), ("waiting", waiting), ("in_menu", in_menu))}
    assert "reconciled: 3 callers adopted (1 talking to an agent)" in platform.log.read_text()

    talk_id = call_id_of(platform, results["talking"]["sip_call_id"])
    [(outcome, ended_by)] = rows(platform, "select outcome, ended_by from calls where id = ?",
                                 talk_id)
    assert (outcome, ended_by) == ("transferred", "caller")
    [(talk_seconds,)] = rows(platform, "select talk_seconds from agent_legs where call_id = ?",
                             talk_id)
    assert talk_seconds > 30  # one conversation, across the restart

    wait_id = call_id_of(platform, results["waiting"]["sip_call_id"])
    # The caller's hang-up is written once the platform has seen it, after SIPp has ended.
    wait_for(lambda: rows(platform, "select 1 from queue_entries where call_id = ? and result "
                                    "is not null", wait_id), 20, "the wait closed")
    # One entry, the same as before: the wait went on in the place the caller had.
    assert rows(platform, "select id, entered_at, result from queue_entries where call_id = ?",
                wait_id) == [(entry_id, entered_at, "abandoned")]
    assert ("prompt", "queue_resumed") in steps_of(platform, wait_id)

    menu_id = call_id_of(platform, results["in_menu"]["sip_call_id"])
    steps = steps_of(platform, menu_id)
    assert steps.index(("prompt", "service_resumed")) < steps.index(("node", "main"))

    short_id = call_id_of(platform, short_summary["sip_call_id"])
    assert rows(platform, "select outcome, ended_by from calls where id = ?", short_id) == [
        ("platform_restart", "platform_restart")]
    # Not left on the call: free again, or paused (离线) when the waiting caller was offered to
    # it after its phone, done with its one call, had gone.
    view = agent_view(platform, talker)
    assert view["state"] in ("wrap_up", "ready") or (view["state"], view["reason"]) == (
        "paused", "离线"), view


def test_after_kill_9_a_caller_on_hold_is_back_with_the_agent(restarted: Platform) -> None:
    platform = restarted
    talker = agent(platform, "7603", "ticket:5")
    phone(platform, talker, "--answer-after", "1", "--timeout", "120")
    set_state(platform, talker, "ready")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # Long enough to outlast a slow restart (speech models warming on a busy machine).
        talking = pool.submit(platform.call, "--dtmf", "0", "--hold", "100")
        wait_for(lambda: agent_view(platform, talker)["state"] == "on_call", 30, "agent talking")
        [call_id] = live_ids(platform).values()
        held = httpx.post(f"{platform.api}/api/v1/calls/{call_id}/hold", timeout=30,
                          headers={"Authorization": f"Bearer {platform.supervisor_token}"})
        assert held.status_code == 200, held.text
        assert platform.proc is not None
        platform.proc.send_signal(signal.SIGKILL)
        platform.proc.wait()
        start_serve(platform)
        # Caller and agent in one bridge again, the holding bridge gone.
        wait_for(lambda: [(b["bridge_type"], len(b["channels"])) for b in
                          ari_get(platform, "bridges")] == [("mixing", 2)], 60,
                 "the caller back in the talk")
        summary = talking.result(timeout=240)
    assert "reconciled: 1 callers adopted (1 talking to an agent)" in platform.log.read_text()
    talk_id = call_id_of(platform, summary["sip_call_id"])
    # The record is closed as the call ends, just after the caller's hang-up.
    wait_for(lambda: rows(platform, "select 1 from calls where id = ? and outcome is not null",
                          talk_id), 30, "the call record closed")
    assert rows(platform, "select outcome, ended_by from calls where id = ?", talk_id) == [
        ("transferred", "caller")]
    assert [kind for kind, _ in steps_of(platform, talk_id)].count("caller_unheld") == 1
    # One leg, across it all. (The hold under way when the platform died is not counted: a
    # leg's holds are written when it ends, and that process is gone.)
    [(talk_seconds,)] = rows(platform, "select talk_seconds from agent_legs where call_id = ?",
                             talk_id)
    assert talk_seconds > 25


def outcome_of(platform: Platform, summary: dict[str, Any]) -> tuple[str, str]:
    call_id = call_id_of(platform, summary["sip_call_id"])
    [(outcome, ended_by)] = rows(platform, "select outcome, ended_by from calls where id = ?",
                                 call_id)
    return outcome, ended_by


def test_a_stop_lets_calls_finish_then_tells_the_rest_and_blames_itself(
        restarted: Platform) -> None:
    platform = restarted
    busy = agent(platform, "7603", "ticket:5")
    phone(platform, busy, "--timeout", "120")
    set_state(platform, busy, "ready")
    set_state(platform, busy, "paused")  # the caller who presses 0 waits
    assert platform.proc is not None
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        quick = pool.submit(platform.call, "--hold", "5")  # done well within the drain
        long = pool.submit(platform.call, "--hold", "60")  # outlasts it
        waiting = pool.submit(platform.call, "--dtmf", "0", "--hold", "60")
        wait_for(lambda: len(live_ids(platform)) == 3, 20, "three calls up")
        wait_for(lambda: rows(platform, "select id from queue_entries where left_at is null"),
                 20, "the third caller waiting for an agent")
        drains = platform.log.read_text().count("draining:")  # the log spans restarts
        stopped = time.monotonic()
        platform.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: platform.log.read_text().count("draining:") > drains, 10,
                 "the drain under way")
        late = pool.submit(platform.call_now, "--hold", "30")  # arrives during the drain
        code = platform.proc.wait(timeout=DRAIN_SECONDS + 40)
        took = time.monotonic() - stopped
        results = {name: f.result(timeout=60) for name, f in (
            ("quick", quick), ("long", long), ("waiting", waiting), ("late", late))}
    log = platform.log.read_text()
    start_serve(platform)
    assert code == 0, log[-3000:]
    assert took >= DRAIN_SECONDS  # the calls in progress had their time

    assert outcome_of(platform, results["quick"]) == ("hung_up_in_menu", "caller")
    for name in ("long", "waiting", "late"):
        assert outcome_of(platform, results[name]) == ("platform_shutdown", "platform_shutdown")
        assert results[name]["hung_up_by"] == "hotline", results[name]
        call_id = call_id_of(platform, results[name]["sip_call_id"])
        assert ("prompt", "service_restarting") in steps_of(platform, call_id), name
    wait_id = call_id_of(platform, results["waiting"]["sip_call_id"])
    assert rows(platform, "select result from queue_entries where call_id = ?", wait_id) == [
        ("ended_by_platform",)]
    late_id = call_id_of(platform, results["late"]["sip_call_id"])
    assert "node" not in [k for k, _ in steps_of(platform, late_id)]  # no menu for it
