"""The ARI client against a local fake ARI server: ordering, concurrency, reconnect, bad events."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

import pytest

from app.ari_handlers.call import Call
from app.ari_handlers.client import AriClient
from app.ari_handlers.models import ChannelDtmfReceived
from app.ari_handlers.rest import AriError
from tests.fake_ari import FakeAri, channel

Handler = Callable[[Call], Awaitable[None]]


async def connect(fake: FakeAri, handler: Handler) -> AriClient:
    client = AriClient(fake.base_url, "hotline", "u", "p", handler,
                       backoff_initial=0.05, backoff_max=0.2)
    client.start()
    await asyncio.wait_for(fake.connected.wait(), 5)
    await asyncio.wait_for(client.events.connected.wait(), 5)
    return client


async def eventually(check: Callable[[], bool], timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_events_of_one_call_are_handled_in_order(fake: FakeAri) -> None:
    seen: list[str] = []

    async def handler(call: Call) -> None:
        while True:
            event = await call.next_event()
            if isinstance(event, ChannelDtmfReceived):
                # Uneven work per event: order must still hold.
                await asyncio.sleep(random.random() / 200)
                seen.append(event.digit)

    client = await connect(fake, handler)
    await fake.start_call("c1")
    sent = [random.choice("0123456789*#") for _ in range(60)]
    for digit in sent:
        await fake.dtmf("c1", digit)
    await eventually(lambda: len(seen) == len(sent))
    assert seen == sent
    await fake.hangup("c1")
    await eventually(lambda: not client.dispatcher.calls)
    await client.stop()


async def test_a_slow_call_does_not_hold_up_another(fake: FakeAri) -> None:
    blocked = asyncio.Event()
    done: list[str] = []

    async def handler(call: Call) -> None:
        if call.id == "slow":
            await blocked.wait()  # stuck until the test ends
        else:
            digit = await call.wait_digit(timeout=5)
            done.append(f"{call.id}:{digit}")

    client = await connect(fake, handler)
    await fake.start_call("slow")
    await fake.dtmf("slow", "1")
    await fake.start_call("fast")
    await fake.dtmf("fast", "7")
    await eventually(lambda: done == ["fast:7"])
    assert "slow" in client.dispatcher.calls
    await client.stop()
    # Stopping ended the stuck call and hung its channel up.
    assert ("DELETE", "/ari/channels/slow") in fake.requests
    assert not client.dispatcher.calls


async def test_reconnect_resyncs_and_ends_calls_whose_channels_vanished(fake: FakeAri) -> None:
    ended: list[str] = []

    async def handler(call: Call) -> None:
        try:
            while True:
                await call.next_event()
        finally:
            ended.append(call.id)

    client = await connect(fake, handler)
    await fake.start_call("gone")
    await fake.start_call("kept")
    await eventually(lambda: len(client.dispatcher.calls) == 2)

    fake.accepting = False
    await fake.drop_connection()
    await eventually(lambda: not client.connected)
    # While we are away, one caller hangs up; its events are never delivered.
    del fake.channels["gone"]
    await asyncio.sleep(0.3)  # several refused reconnect attempts
    fake.accepting = True
    await asyncio.wait_for(fake.connected.wait(), 5)
    await eventually(lambda: client.connected)
    await eventually(lambda: ended == ["gone"])
    assert client.events.connections == 2
    assert list(client.dispatcher.calls) == ["kept"]
    # The kept call still gets its events on the new connection.
    await fake.hangup("kept")
    await eventually(lambda: ended == ["gone", "kept"])
    await client.stop()


async def test_malformed_events_are_logged_and_skipped(
    fake: FakeAri, caplog: pytest.LogCaptureFixture
) -> None:
    digits: list[str] = []

    async def handler(call: Call) -> None:
        while True:
            digit = await call.wait_digit()
            if digit:
                digits.append(digit)

    client = await connect(fake, handler)
    caplog.set_level(logging.WARNING)
    await fake.push("this is not json")
    await fake.push('{"no": "type"}')
    await fake.push({"type": "StasisStart", "application": "hotline"})  # no channel
    await fake.push({"type": "ChannelDtmfReceived", "channel": {"id": "x"}})  # no digit
    await fake.start_call("c1")
    await fake.dtmf("c1", "5")
    await eventually(lambda: digits == ["5"])
    assert client.events.skipped == 4
    assert sum("malformed ARI event" in r.message for r in caplog.records) == 4
    assert client.connected
    await client.stop()


async def test_rest_errors_carry_status_and_message(fake: FakeAri) -> None:
    client = AriClient(fake.base_url, "hotline", "u", "p", lambda call: asyncio.sleep(0))
    with pytest.raises(AriError) as err:
        await client.rest.answer("nope")
    assert err.value.status == 404
    assert err.value.message == "Channel not found"
    assert "POST /channels/nope/answer" in str(err.value)
    await client.stop()


async def test_play_waits_for_finish_and_dtmf_interrupts(fake: FakeAri) -> None:
    results: list[tuple[bool, str | None]] = []

    async def handler(call: Call) -> None:
        await call.answer()
        first = await call.play("sound:short")
        results.append((first.finished, first.interrupted_by))
        fake.play_delay = 30  # a long prompt the caller interrupts
        second = await call.play("sound:long", interrupt_on_dtmf=True)
        results.append((second.finished, second.interrupted_by))

    client = await connect(fake, handler)
    await fake.start_call("c1")
    await eventually(lambda: len(results) == 1)
    await fake.dtmf("c1", "9")
    await eventually(lambda: len(results) == 2)
    assert results == [(True, None), (False, "9")]
    assert any(m == "DELETE" and p.startswith("/ari/playbacks/") for m, p in fake.requests)
    # The handler returned: the call is over and its channel hung up.
    await eventually(lambda: not client.dispatcher.calls)
    assert ("DELETE", "/ari/channels/c1") in fake.requests
    await client.stop()


async def test_clean_shutdown_leaves_no_tasks(fake: FakeAri) -> None:
    async def handler(call: Call) -> None:
        await call.wait_digit()

    before = asyncio.all_tasks()
    client = await connect(fake, handler)
    await fake.start_call("c1")
    await eventually(lambda: "c1" in client.dispatcher.calls)
    await client.stop()
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert [t.get_name() for t in leftover if t.get_name().startswith(("ari", "call"))] == []
    assert client.recent.get("c1") is not None
    assert client.recent.get("c1").end_reason == "service stopping"  # type: ignore[union-attr]


async def test_trace_records_digits_and_end(fake: FakeAri) -> None:
    async def handler(call: Call) -> None:
        while True:
            await call.wait_digit()

    client = await connect(fake, handler)
    await fake.start_call("c1")
    for digit in "12#":
        await fake.dtmf("c1", digit)
    await eventually(lambda: client.recent.get("c1") is not None
                     and client.recent.get("c1").digits == "12#")  # type: ignore[union-attr]
    await fake.hangup("c1")
    await eventually(lambda: client.recent.get("c1").ended_at is not None)  # type: ignore[union-attr]
    trace = client.recent.get("c1")
    assert trace is not None and trace.end_reason == "caller hung up"
    await client.stop()


async def test_helper_channels_named_after_a_call_reach_that_call(fake: FakeAri) -> None:
    # Snoop/AudioSocket channels are created without our ids; their names route them.
    seen: list[str] = []

    async def handler(call: Call) -> None:
        client.dispatcher.claim_named(f"Snoop/{call.id}-", call)
        while True:
            event = await call.next_event()
            if event is not None and event.type == "StasisStart":
                seen.append(event.channel_ids()[0])

    client = await connect(fake, handler)
    await fake.start_call("c1")
    await eventually(lambda: "c1" in client.dispatcher.calls)
    helper = {**channel("x9"), "name": "Snoop/c1-00000001"}
    await fake.push({"type": "StasisStart", "application": "hotline", "args": [],
                     "channel": helper})
    await eventually(lambda: seen == ["x9"])
    assert set(client.dispatcher.calls) == {"c1"}  # no new call for the helper
    await fake.hangup("c1")
    await eventually(lambda: not client.dispatcher.calls)
    await client.stop()


async def test_a_leg_of_a_call_no_task_owns_is_hung_up_not_run_as_a_caller(
        fake: FakeAri) -> None:
    started: list[str] = []

    async def handler(call: Call) -> None:
        started.append(call.id)

    client = await connect(fake, handler)
    fake.channels["leg"] = channel("leg")
    await fake.push({"type": "StasisStart", "application": "hotline",
                     "args": ["agent", "gone-call"], "channel": fake.channels["leg"]})
    await eventually(lambda: ("DELETE", "/ari/channels/leg") in fake.requests)
    assert started == []
    await client.stop()


async def test_callers_left_in_the_app_are_adopted_on_connect(fake: FakeAri) -> None:
    adopted: list[tuple[str, bool]] = []

    async def handler(call: Call) -> None:
        adopted.append((call.id, call.adopted))

    left = channel("old")
    left["dialplan"] |= {"app_name": "Stasis", "app_data": "hotline"}
    fake.channels["old"] = left
    client = await connect(fake, handler)
    await eventually(lambda: bool(adopted))
    assert adopted == [("old", True)]
    await client.stop()


async def test_a_drain_waits_for_calls_in_progress_and_new_callers_see_it(
        fake: FakeAri) -> None:
    closing_seen: list[bool] = []

    async def handler(call: Call) -> None:
        closing_seen.append(call.dispatcher.closing)
        await call.wait_digit(0.5)

    client = await connect(fake, handler)
    await fake.start_call("c1")
    await eventually(lambda: "c1" in client.dispatcher.calls)
    assert await client.drain(5) == 0  # the call finished within the drain
    await fake.start_call("c2")
    await eventually(lambda: len(closing_seen) == 2)
    assert closing_seen == [False, True]
    assert await client.drain(0.1) == 1  # c2 outlasts a short drain
    await client.stop()
    trace = client.recent.get("c2")
    assert trace is not None and trace.ended_by == "platform_shutdown"


async def test_a_sweep_hangs_up_a_call_this_process_ended_instead_of_taking_it_up(
        fake: FakeAri) -> None:
    async def handler(call: Call) -> None:
        return None  # the call ends at once; the fake keeps its channel listed

    client = await connect(fake, handler)
    await fake.start_call("done")
    await eventually(lambda: client.recent.get("done") is not None
                     and client.recent.get("done").ended_at is not None)  # type: ignore[union-attr]
    left = channel("done")
    left["dialplan"] |= {"app_name": "Stasis", "app_data": "hotline"}
    fake.channels["done"] = left  # its hang-up was lost: the PBX still has it
    fake.requests.clear()
    found = await client.dispatcher.reconcile("hotline")
    assert [c.id for c in found.callers] == ["done"]
    assert ("DELETE", "/ari/channels/done") in fake.requests
    assert "done" not in client.dispatcher.calls
    await client.stop()


async def test_a_caller_arriving_while_the_stop_ends_the_calls_is_hung_up_not_started(
        fake: FakeAri, caplog: pytest.LogCaptureFixture) -> None:
    started: list[str] = []
    saying_goodbye = asyncio.Event()

    async def handler(call: Call) -> None:
        started.append(call.id)
        try:
            await call.wait_digit()
        except asyncio.CancelledError:
            saying_goodbye.set()
            await asyncio.sleep(0.3)  # the restart message, while another caller dials in
            raise

    client = await connect(fake, handler)
    await fake.start_call("c1")
    await eventually(lambda: "c1" in client.dispatcher.calls)
    stopping = asyncio.create_task(client.stop())
    await asyncio.wait_for(saying_goodbye.wait(), 5)
    await fake.start_call("late")
    await asyncio.wait_for(stopping, 5)
    assert started == ["c1"]
    assert ("DELETE", "/ari/channels/late") in fake.requests
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
