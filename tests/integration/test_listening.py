"""With HOTLINE_LISTEN_ON_TALK=1 the menu listens only while the caller talks (the PBX's
talk detector opens the audio tap): a silent caller streams and decodes nothing, and what
callers say is still understood when they start mid-prompt, after a long silence or right
after a key. The module's platform runs with that setting (restarted for it, as one group
on one worker)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.data import SPEECH
from tests.integration.conftest import Platform, restart_serve
from tests.integration.test_ivr import hold_for, kinds, pause_for, steps
from tests.integration.test_speech import until_menu

UTTERANCES = SPEECH / "ulaw8k"
pytestmark = pytest.mark.xdist_group("talk_gated")


@pytest.fixture(scope="module", autouse=True)
def talk_gated(platform: Platform) -> Iterator[None]:
    platform.serve_settings["HOTLINE_LISTEN_ON_TALK"] = "1"
    restart_serve(platform)
    yield
    del platform.serve_settings["HOTLINE_LISTEN_ON_TALK"]
    restart_serve(platform)


def listening(platform: Platform) -> dict[str, int]:
    """What listening has cost the platform so far (taps opened, frames streamed, decoded)."""
    return dict(platform.get("/healthz").json()["speech"]["listening"])


def test_a_silent_caller_in_the_menu_costs_no_stream_and_no_decoding(
        platform: Platform) -> None:
    before = listening(platform)
    summary = platform.call("--dtmf", until_menu(platform),
                            "--hold", hold_for(platform, "main_menu", extra=4))
    record = platform.record(summary["sip_call_id"])
    assert steps(record, "no_input")[0]["prompt"] == "main_menu"  # the menu did listen
    assert "tap_opened" not in kinds(record)
    assert listening(platform) == before


def first_choice(record: dict[str, Any]) -> dict[str, Any]:
    heard = steps(record, "speech")
    assert heard, f"nothing recognised: {kinds(record)}"
    return steps(record, "choice")[0]


def test_speech_mid_prompt_stops_the_prompt_and_is_understood(platform: Platform) -> None:
    summary = platform.call("--dtmf", until_menu(platform),
                            "--speech", str(UTTERANCES / "044.wav"), "--hold", "8")
    record = platform.record(summary["sip_call_id"])
    assert first_choice(record)["to"] == "agent"  # 我要人工客服
    assert any(s.get("by") == "speech" for s in steps(record, "interrupted"))
    assert "tap_opened" in kinds(record)


def test_speech_after_a_long_silence_is_understood(platform: Platform) -> None:
    before = listening(platform)
    summary = platform.call("--dtmf", until_menu(platform) + pause_for(platform, "main_menu"),
                            "--speech", str(UTTERANCES / "031.wav"), "--hold", "8")
    record = platform.record(summary["sip_call_id"])
    assert first_choice(record)["to"] == "complaint"  # 我要投诉
    after = listening(platform)
    assert after["taps_opened"] == before["taps_opened"] + 1
    assert after["frames_streamed"] > before["frames_streamed"]
    assert after["frames_decoded"] > before["frames_decoded"]


def test_speech_right_after_a_key_is_understood(platform: Platform) -> None:
    # * repeats the menu; the caller then says 我想退票 at once.
    summary = platform.call("--dtmf", until_menu(platform) + ",*",
                            "--speech", str(UTTERANCES / "007.wav"), "--hold", "8")
    record = platform.record(summary["sip_call_id"])
    assert "repeat" in kinds(record)
    assert first_choice(record)["to"] == "refund_change"


def test_a_spoken_number_keeps_its_first_digit(platform: Platform) -> None:
    """Number windows are not gated: 一零二四 said at once keeps its 一."""
    wait = pause_for(platform, "welcome")
    summary = platform.call(
        "--dtmf", wait + "1,", "--speech", str(SPEECH / "entities/ulaw8k/001.wav"),
        "--dtmf", ",,,", "--speech", str(SPEECH / "entities/ulaw8k/007.wav"),
        "--hold", hold_for(platform, "order_not_found"))
    record = platform.record(summary["sip_call_id"])
    collected = steps(record, "collected")
    assert collected[0] == {"var": "order_no", "digits": "123456789", "by": "speech"}
    assert collected[1] == {"var": "id_last4", "digits": "****", "by": "speech"}
