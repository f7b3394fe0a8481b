"""The menu's tap on the caller's audio opens only once the PBX's talk detector hears the
caller: a silent caller costs no snoop, no AudioSocket stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from app.ari_handlers.call import Call
from app.ari_handlers.media import AudioTap, MediaTaps, TalkGatedTap
from tests.fake_ari import FakeAri
from tests.unit.test_ari_client import connect, eventually

TAP_REQUESTS = ("/snoop", "/externalMedia")


def tap_requests(fake: FakeAri) -> list[str]:
    return [path for _, path in fake.requests if path.endswith(TAP_REQUESTS)]


def talking(cid: str, started: bool) -> dict[str, object]:
    kind = "ChannelTalkingStarted" if started else "ChannelTalkingFinished"
    return {"type": kind, "application": "hotline",
            "channel": {"id": cid, "name": f"PJSIP/caller-{cid}"}}


@contextlib.asynccontextmanager
async def in_a_call(fake: FakeAri, taps: MediaTaps) -> AsyncIterator[Call]:
    """A caller's call, prepared for listening as the menu does, held until the block ends."""
    calls: asyncio.Queue[Call] = asyncio.Queue()
    done = asyncio.Event()

    async def handler(call: Call) -> None:
        await taps.prepare(call)
        calls.put_nowait(call)
        await done.wait()

    client = await connect(fake, handler)
    await fake.start_call("c1")
    try:
        yield await asyncio.wait_for(calls.get(), 5)
    finally:
        done.set()
        await client.stop()


async def test_the_tap_waits_for_the_caller_to_talk(fake: FakeAri) -> None:
    taps = MediaTaps("hotline", talk_level=128)
    async with in_a_call(fake, taps) as call:
        assert ("POST", "/ari/channels/c1/variable?variable=TALK_DETECT%28set%29&value=1200%2C128"
                ) in fake.requests
        source = taps.caller_audio(call)
        assert isinstance(source, TalkGatedTap)
        await source.open()
        await asyncio.sleep(0.2)
        assert tap_requests(fake) == []  # silence: nothing streams
        await fake.push(talking("c1", True))
        await eventually(lambda: len(tap_requests(fake)) == 2)
        await eventually(lambda: any(s["kind"] == "tap_opened" for s in call.trace.steps))
        assert taps.opened == 1
        await source.close()
        assert call.talk_watchers == []


async def test_a_caller_already_talking_gets_the_tap_at_once(fake: FakeAri) -> None:
    taps = MediaTaps("hotline", talk_level=128)
    async with in_a_call(fake, taps) as call:
        await fake.push(talking("c1", True))
        await eventually(lambda: call.talking)
        source = taps.caller_audio(call)
        await source.open()
        await eventually(lambda: len(tap_requests(fake)) == 2)
        await source.close()


async def test_talk_that_stops_before_the_window_opens_no_tap(fake: FakeAri) -> None:
    taps = MediaTaps("hotline", talk_level=128)
    async with in_a_call(fake, taps) as call:
        await fake.push(talking("c1", True))
        await eventually(lambda: call.talking)
        await fake.push(talking("c1", False))
        await eventually(lambda: not call.talking)
        source = taps.caller_audio(call)
        await source.open()
        await asyncio.sleep(0.2)
        assert tap_requests(fake) == []
        await source.close()


async def test_a_window_that_is_not_gated_opens_its_tap_at_once(fake: FakeAri) -> None:
    taps = MediaTaps("hotline", talk_level=128)
    async with in_a_call(fake, taps) as call:
        source = taps.caller_audio(call, gated=False)
        assert isinstance(source, AudioTap)
        await source.open()
        assert len(tap_requests(fake)) == 2
        await source.close()


async def test_channels_not_yet_in_the_app_are_added_once_they_are(fake: FakeAri) -> None:
    taps = MediaTaps("hotline")
    async with in_a_call(fake, taps) as call:
        fake.refuse_adds = 2
        source = taps.caller_audio(call)
        await source.open()
        adds = [p for _, p in fake.requests if p.endswith("/addChannel")]
        assert len(adds) == 3 and taps.opened == 1
        await source.close()


async def test_without_talk_detection_the_tap_is_plain(fake: FakeAri) -> None:
    taps = MediaTaps("hotline")
    async with in_a_call(fake, taps) as call:
        assert not any("TALK_DETECT" in path for _, path in fake.requests)
        source = taps.caller_audio(call)
        assert isinstance(source, AudioTap)
        await source.open()
        assert len(tap_requests(fake)) == 2
        await source.close()


def test_the_menu_listens_gated_and_a_number_question_does_not() -> None:
    from types import SimpleNamespace

    from app.ivr.listening import CallerSpeech

    sources: list[object] = []
    speech = SimpleNamespace(listen=lambda source, call, **kw: sources.append(source))
    ears = CallerSpeech(speech, MediaTaps("hotline", talk_level=128))  # type: ignore[arg-type]
    call = SimpleNamespace(id="c1")
    ears.listen(call)  # type: ignore[arg-type]
    ears.listen(call, intent=False, entities=True, expect="order_no")  # type: ignore[arg-type]
    assert [type(s) for s in sources] == [TalkGatedTap, AudioTap]
