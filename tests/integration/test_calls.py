"""Real SIP calls (SIPp) into the real sandbox Asterisk: the echo test line 12300."""

from __future__ import annotations

import time

from tests.data import SPEECH
from tests.integration.conftest import Platform, wait_for

ECHO = ("--to", "12300")  # the echo test line


def played(trace: dict[str, object]) -> list[str]:
    return [s["media"] for s in trace["steps"] if s["kind"] == "played"]  # type: ignore[index,union-attr]


def test_call_is_answered_and_hears_the_greeting(platform: Platform) -> None:
    summary = platform.call(*ECHO, "--hold", "3")
    assert summary["ok"] and summary["answered"] and summary["final_response"] == 200
    assert summary["call_id"], "hotline call found the platform's call id"
    trace = platform.trace(summary["sip_call_id"])
    assert trace["call_id"] == summary["call_id"]
    assert trace["caller"] == "138****8000" and trace["called"] == "12300"
    assert trace["answered_at"] is not None
    assert played(trace)[:1] == ["sound:hello-world"], "greeting played to its end"


def test_dtmf_digits_arrive_in_order_and_are_echoed(platform: Platform) -> None:
    keys = "1234567890*#55"
    summary = platform.call(*ECHO, "--dtmf", ",".join(keys[:6]) + keys[6:], "--hold", "12")
    assert summary["ok"]
    assert summary["digits_sent"] == keys
    trace = platform.trace(summary["sip_call_id"])
    assert trace["digits"] == keys
    echoes = [m for m in played(trace) if m.startswith("sound:digits/")]
    names = {"*": "star", "#": "pound"}
    assert echoes == [f"sound:digits/{names.get(k, k)}" for k in keys]


def test_hang_up_ends_the_call_and_leaves_no_channel(platform: Platform) -> None:
    summary = platform.call(*ECHO, "--dtmf", "4", "--hold", "1")
    assert summary["ok"] and summary["hung_up_by"] == "caller"
    trace = platform.trace(summary["sip_call_id"])
    assert trace["end_reason"] == "caller hung up"
    assert trace["steps"][-1]["kind"] == "hangup"
    wait_for(lambda: platform.get("/healthz").json()["active_calls"] == 0, 5, "no live call task")
    wait_for(lambda: platform.channels() == 0, 5, "0 active channels")


def test_other_numbers_are_refused_by_the_dialplan(platform: Platform) -> None:
    summary = platform.call("--to", "95105", "--hold", "10")
    assert summary["answered"] and summary["hung_up_by"] == "hotline"
    assert summary["duration"] < 10
    assert platform.get("/api/v1/calls/recent", sip_call_id=summary["sip_call_id"]).json() == []


def test_twenty_concurrent_calls_all_complete(platform: Platform) -> None:
    summary = platform.call(*ECHO, "--calls", "20", "--rate", "20", "--dtmf", "1,2,3",
                            "--hold", "2")
    assert summary["calls"] == 20
    assert summary["completed"] == 20, summary
    traces = [platform.trace(sip_id) for sip_id in summary["sip_call_ids"]]
    assert [t["digits"] for t in traces] == ["123"] * 20
    assert len({t["call_id"] for t in traces}) == 20
    wait_for(lambda: platform.channels() == 0, 10, "0 active channels")


def test_bad_call_arguments_are_clear_errors(platform: Platform) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "app.cli", "call", "--dtmf", "12!"],
                         capture_output=True, text=True, env=platform.env())
    assert out.returncode == 2 and "not a key" in out.stderr
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "app.cli", "call", "--speech", "/nope.wav"],
                         capture_output=True, text=True, env=platform.env())
    assert out.returncode == 2 and "cannot read speech file" in out.stderr
    assert time.monotonic() - started < 30


def test_speech_is_streamed_for_its_length(platform: Platform) -> None:

    from app.callgen.script import wav_info

    utterance = SPEECH / "ulaw8k/001.wav"
    length = wav_info(utterance).duration_ms / 1000
    summary = platform.call(*ECHO, "--speech", str(utterance), "--dtmf", "1", "--hold", "0.5")
    assert summary["ok"] and summary["speech_files"] == [str(utterance)]
    assert summary["duration"] >= length + 0.5
    assert platform.trace(summary["sip_call_id"])["digits"] == "1"
