"""Keys without Asterisk's second copies, and how a call learns why the PBX ended it.

The events are shaped as Asterisk 22.10 sent them on the sandbox PBX (see app/ari_handlers).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.ari_handlers.call import Call
from app.ari_handlers.client import AriClient
from app.ari_handlers.dtmf import RepeatedKeyFilter
from app.ari_handlers.models import ChannelDtmfReceived
from tests.fake_ari import FakeAri, channel

T0 = datetime(2026, 11, 30, 11, 37, 20, tzinfo=UTC)


def key(digit: str, at_ms: int, duration: int = 100) -> ChannelDtmfReceived:
    return ChannelDtmfReceived(type="ChannelDtmfReceived", digit=digit, duration_ms=duration,
                               timestamp=T0 + timedelta(milliseconds=at_ms),
                               channel=channel("c1"))  # type: ignore[arg-type]


def kept(events: list[ChannelDtmfReceived]) -> str:
    keys = RepeatedKeyFilter()
    return "".join(e.digit for e in events if not keys.is_copy(e))


def test_the_reread_copy_of_a_deferred_key_is_dropped() -> None:
    # From the PBX's DTMF log: '4' ended while '3' was still emulated, was put back and read
    # again 24 ms later; '5' the same 46 ms later. Each copy is published again.
    events = [key("3", 0, 140), key("4", 162, 140), key("4", 186, 140),
              key("5", 326, 140), key("5", 372, 140)]
    assert kept(events) == "345"


def test_real_repeats_of_a_key_are_kept_down_to_the_shortest_pause() -> None:
    # "1000104729" at 100 ms keys and 60 ms pauses: each 0 ends 160 ms after the one before.
    at = 0
    events = []
    for digit in "1000104729":
        events.append(key(digit, at))
        at += 160
    assert kept(events) == "1000104729"
    # ITU-T Q.24's shortest pause (40 ms) after a 100 ms key: still two keys.
    assert kept([key("5", 0), key("5", 140)]) == "55"


def test_copies_are_matched_once_even_when_interleaved() -> None:
    # A burst: '2' and '3' both deferred behind '1', then read again in order.
    events = [key("1", 0), key("2", 5), key("3", 10), key("2", 70), key("3", 115)]
    assert kept(events) == "123"
    # Two real presses of one key in a burst, one of them deferred: two keys, not three.
    assert kept([key("7", 0), key("7", 3), key("7", 60)]) == "77"


def test_keys_without_time_or_duration_are_all_taken() -> None:
    bare = ChannelDtmfReceived(type="ChannelDtmfReceived", digit="9",
                               channel=channel("c1"))  # type: ignore[arg-type]
    assert kept([bare, bare]) == "99"
    assert kept([key("8", 0, 0), key("8", 1, 0)]) == "88"


def test_different_durations_are_different_keys() -> None:
    assert kept([key("6", 0, 100), key("6", 30, 120)]) == "66"


# --- through a call, against the fake ARI server -------------------------------------------

async def run_call(fake: FakeAri, events: list[dict[str, Any]]) -> Call:
    calls: list[Call] = []
    done = asyncio.Event()

    async def handler(call: Call) -> None:
        calls.append(call)
        try:
            while True:
                await call.next_event()
        finally:
            done.set()

    client = AriClient(fake.base_url, "hotline", "u", "p", handler,
                       backoff_initial=0.05, backoff_max=0.2)
    client.start()
    await asyncio.wait_for(fake.connected.wait(), 5)
    await asyncio.wait_for(client.events.connected.wait(), 5)
    await fake.start_call("c1")
    for event in events:
        await fake.push({"application": "hotline", "channel": fake.channels["c1"], **event})
    await asyncio.wait_for(done.wait(), 5)
    await client.stop()
    return calls[0]


def dtmf(digit: str, at: str, duration: int = 140) -> dict[str, Any]:
    return {"type": "ChannelDtmfReceived", "digit": digit, "duration_ms": duration,
            "timestamp": f"2026-11-30T11:37:{at}+0000"}


async def test_a_call_takes_each_key_once(fake: FakeAri) -> None:
    call = await run_call(fake, [
        dtmf("3", "20.614"), dtmf("4", "20.776"), dtmf("4", "20.800"), dtmf("5", "20.940"),
        dtmf("5", "20.986"), {"type": "ChannelHangupRequest"},
    ])
    assert "".join(call.digits) == "345" and call.trace.digits == "345"
    assert [s["kind"] for s in call.trace.steps].count("dtmf_copy_dropped") == 2


async def test_the_pbx_hanging_up_dead_media_is_told_from_a_bye(fake: FakeAri) -> None:
    # res_pjsip_sdp_rtp's rtp_timeout: a soft hang-up of reason AST_SOFTHANGUP_DEV (1).
    dead = await run_call(fake, [{"type": "ChannelHangupRequest", "cause": 1, "soft": True}])
    assert dead.media_timed_out and dead.hangup_soft_reason == 1
    assert dead.trace.end_reason == "media timeout"
    assert dead.trace.steps[-1] == {**dead.trace.steps[-1], "kind": "hangup",
                                    "by": "media timeout"}


@pytest.mark.parametrize("event", [
    {"type": "ChannelHangupRequest"},  # the caller's BYE
    {"type": "ChannelHangupRequest", "cause": 32, "soft": True},  # an explicit hang-up
    {"type": "StasisEnd"},
    {"type": "ChannelDestroyed", "cause": 16, "cause_txt": "Normal Clearing"},
])
async def test_other_hangups_are_not_media_timeouts(fake: FakeAri, event: dict[str, Any]) -> None:
    call = await run_call(fake, [event])
    assert not call.media_timed_out
    assert call.trace.end_reason == "caller hung up"


async def test_a_destroyed_channel_gives_its_q850_cause(fake: FakeAri) -> None:
    call = await run_call(fake, [{"type": "ChannelDestroyed", "cause": 44,
                                  "cause_txt": "Requested channel not available"}])
    assert (call.hangup_cause, call.hangup_cause_txt) == (44, "Requested channel not available")
    assert call.media_timed_out


async def test_a_copy_does_not_stop_the_next_prompt(fake: FakeAri) -> None:
    stopped_by: list[str | None] = []

    async def handler(call: Call) -> None:
        fake.play_delay = 30  # long prompts the caller interrupts
        for _ in range(2):
            result = await call.play("sound:long", interrupt_on_dtmf=True)
            call.flush_digits()
            stopped_by.append(result.interrupted_by)

    client = AriClient(fake.base_url, "hotline", "u", "p", handler,
                       backoff_initial=0.05, backoff_max=0.2)
    client.start()
    await asyncio.wait_for(fake.connected.wait(), 5)
    await fake.start_call("c1")
    chan = fake.channels["c1"]
    await asyncio.sleep(0.2)
    for event in (dtmf("9", "20.100"), dtmf("9", "20.130"), dtmf("5", "20.600")):
        await fake.push({"application": "hotline", "channel": chan, **event})
        await asyncio.sleep(0.2)
    for _ in range(50):
        if len(stopped_by) == 2:
            break
        await asyncio.sleep(0.1)
    await client.stop()
    assert stopped_by == ["9", "5"]
