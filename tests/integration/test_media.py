"""What the caller's phone sends: fast keys taken once each, dead media hung up by the PBX."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.integration.conftest import Platform
from tests.integration.test_acd import agent, phone, set_state

KEYS = "1000104729"  # 1: order look-up, then an order number typed fast into a silent menu


@pytest.mark.parametrize("gap", [60, 100, 200])
def test_fast_keys_arrive_once_each(platform: Platform, gap: int) -> None:
    # 100 ms keys: the first interrupts the welcome, the second the order prompt; the rest
    # reach a menu that plays nothing, where Asterisk re-reads keys it had to defer.
    summary = platform.call("--dtmf", KEYS, "--key-tone", "100", "--key-gap", str(gap),
                            "--hold", "3")
    assert summary["ok"] and summary["digits_sent"] == KEYS
    trace = platform.trace(summary["sip_call_id"])
    assert trace["digits"] == KEYS, [s for s in trace["steps"] if "dtmf" in s["kind"]]


def test_a_caller_whose_media_stops_is_hung_up_by_the_pbx(platform: Platform) -> None:
    assert Settings().rtp_timeout == 10  # tests/instance.py: shorter than the hold below
    summary = platform.call("--no-media", "--hold", "40")
    assert summary["media"] == "none" and summary["answered"]
    assert summary["hung_up_by"] == "hotline"
    trace = platform.trace(summary["sip_call_id"])
    assert trace["end_reason"] == "media timeout"
    assert trace["steps"][-1]["kind"] == "hangup"
    assert trace["steps"][-1]["by"] == "media timeout"
    record = platform.record(summary["sip_call_id"])
    assert (record["outcome"], record["ended_by"]) == ("media_timeout", "media_timeout")


def test_a_waiting_caller_whose_media_stops_is_not_counted_as_an_abandon(
        platform: Platform) -> None:
    number = agent(platform, "7801", "ticket:5")
    proc = phone(platform, number, "--timeout", "90")
    try:
        set_state(platform, number, "ready")
        set_state(platform, number, "paused")  # logged in, not taking calls: the caller waits
        summary = platform.call("--no-media", "--dtmf", "0", "--hold", "60")
        record = platform.record(summary["sip_call_id"])
    finally:
        set_state(platform, number, "logged_out")
        proc.kill()
        proc.wait()
    assert (record["outcome"], record["ended_by"]) == ("media_timeout", "media_timeout")
    [entry] = record["queue_entries"]
    assert entry["result"] == "media_timeout"


def test_a_caller_sending_silence_holds_past_the_media_timeout(platform: Platform) -> None:
    summary = platform.call("--hold", "25")  # in the main menu, well past the 10 s
    assert summary["media"] == "silence" and summary["ok"]
    assert summary["hung_up_by"] == "caller"
    trace = platform.trace(summary["sip_call_id"])
    assert trace["end_reason"] == "caller hung up"
