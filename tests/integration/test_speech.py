"""Speech in live calls: real SIP callers stream dev-corpus utterances (μ-law RTP from SIPp)
into the IVR on the real PBX; the real Vosk model decides; the stored call record shows it."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from tests.data import SPEECH
from tests.integration.conftest import Platform, wait_for
from tests.integration.test_ivr import hold_for, kinds, pause_for, steps

ASR_DEV = SPEECH
UTTERANCES = ASR_DEV / "ulaw8k"
ENTITIES = ASR_DEV / "entities/ulaw8k"


def until_menu(platform: Platform) -> str:
    """Pauses until the main menu is playing (the welcome is not listened to)."""
    return pause_for(platform, "welcome")[:-1]


@pytest.mark.parametrize("utterance, node", [
    ("007", "refund_change"),      # 我想退票
    ("020", "train_status"),       # 这趟车晚点了吗
    ("031", "complaint"),          # 我要投诉
    ("044", "agent"),              # 我要人工客服
])
def test_spoken_request_chooses_the_branch(platform: Platform, utterance: str,
                                           node: str) -> None:
    summary = platform.call("--dtmf", until_menu(platform),
                            "--speech", str(UTTERANCES / f"{utterance}.wav"), "--hold", "8")
    record = platform.record(summary["sip_call_id"])
    heard = steps(record, "speech")
    assert heard, f"nothing recognised: {kinds(record)}"
    choice = steps(record, "choice")[0]
    assert choice == {"prompt": "main_menu", "key": choice["key"], "to": node, "by": "speech"}
    # Barge-in: speaking stopped the menu prompt.
    assert any(s.get("by") == "speech" for s in steps(record, "interrupted"))
    assert heard[0]["latency_ms"] >= 0


def test_speech_after_a_long_silence_keeps_its_first_word(platform: Platform) -> None:
    """改签怎么收费 (change), said well after the menu prompt: without its first 100 ms the
    recogniser hears neither 改签 nor the intent. The pre-roll keeps it."""
    summary = platform.call("--dtmf", until_menu(platform) + pause_for(platform, "main_menu"),
                            "--speech", str(UTTERANCES / "018.wav"), "--hold", "8")
    record = platform.record(summary["sip_call_id"])
    heard = steps(record, "speech")
    assert heard and heard[0]["transcript"].startswith("改签"), kinds(record)
    assert steps(record, "choice")[0]["to"] == "refund_change"


def test_spoken_order_number_and_id_digits(platform: Platform) -> None:
    """The caller says the order number and the ID digits instead of typing them."""
    wait = pause_for(platform, "welcome")
    summary = platform.call(
        "--dtmf", wait + "1,", "--speech", str(ENTITIES / "001.wav"),  # 订单号是E一二三四五六七八九
        "--dtmf", ",,,", "--speech", str(ENTITIES / "007.wav"),        # 一零二四
        "--hold", hold_for(platform, "order_not_found"))
    record = platform.record(summary["sip_call_id"])
    collected = steps(record, "collected")
    assert collected[0] == {"var": "order_no", "digits": "123456789", "by": "speech"}
    assert collected[1] == {"var": "id_last4", "digits": "****", "by": "speech"}
    # What was said for the ID digits is personal: not in the record.
    assert all(s["transcript"] == "***" for s in steps(record, "speech")[1:])
    lookup = steps(record, "lookup")[0]
    assert lookup["action"] == "order_lookup" and lookup["found"] is False


def test_silence_is_no_input(platform: Platform, tmp_path: Path) -> None:
    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as fh:  # 8 kHz 16-bit zeros; the caller converts
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(8000)
        fh.writeframes(b"\0\0" * 8000 * 8)
    wait = until_menu(platform)
    summary = platform.call("--dtmf", wait, "--speech", str(silence),
                            "--hold", hold_for(platform, "main_menu", extra=4))
    record = platform.record(summary["sip_call_id"])
    assert "speech" not in kinds(record)
    assert steps(record, "no_input")[0]["prompt"] == "main_menu"


def test_hang_up_mid_utterance_cleans_up(platform: Platform) -> None:
    summary = platform.call("--dtmf", until_menu(platform),
                            "--speech", str(UTTERANCES / "032.wav"), "--hold", "0")
    assert summary["hung_up_by"] == "caller"
    record = platform.record(summary["sip_call_id"])
    assert record["outcome"] == "hung_up_in_menu" and record["ended_at"]
    # The snoop and AudioSocket channels and the listening bridge go with the caller.
    wait_for(lambda: platform.channels() == 0, 10, "no channel left")
    wait_for(lambda: platform.bridges() == 0, 10, "no bridge left")
    # And the platform keeps answering: the next caller is recognised.
    summary = platform.call("--dtmf", until_menu(platform),
                            "--speech", str(UTTERANCES / "044.wav"), "--hold", "8")
    record = platform.record(summary["sip_call_id"])
    assert steps(record, "choice")[0]["to"] == "agent"
