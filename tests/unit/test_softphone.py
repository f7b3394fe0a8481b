"""`hotline softphone`: arguments, SIPp scenarios and reading SIPp's log, without a PBX."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.callgen.script import ScriptError, wav_data, wav_info
from app.callgen.softphone import (
    add_softphone_arguments,
    build_plan,
    mask_caller,
    parse_phone_log,
    sipp_command,
    summarise,
    write_silence_wav,
)
from app.callgen.softphone_scenario import (
    PhonePlan,
    build_answer_scenario,
    build_register_scenario,
)
from app.cli import build_parser

PLAN = PhonePlan(agent="1001", password="secret", silence=Path("/tmp/silence.wav"))


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_softphone_arguments(parser)
    return parser.parse_args(["--agent", "1001", "--password", "secret", *argv])


def sends(xml: str) -> list[str]:
    return [el.text or "" for el in ET.fromstring(xml.encode()).iter("send")]


def test_defaults_and_the_cli_knows_the_command() -> None:
    ns = build_parser().parse_args(["softphone", "--agent", "1001", "--password", "x"])
    assert ns.calls == 1 and ns.timeout == 60 and ns.hold is None and not ns.reject
    assert ns.answer_after == 1.0 and ns.talk is None and ns.pbx is None


@pytest.mark.parametrize("argv, problem", [
    (["--agent", "12"], "4 to 6 digits"),
    (["--agent", "agent-1001"], "4 to 6 digits"),
    (["--password", "a]b"], "no ']'"),
    (["--calls", "0"], "--calls"),
    (["--hold", "0"], "--hold"),
    (["--timeout", "0"], "--timeout"),
])
def test_bad_arguments_are_refused_with_what_to_do(
    argv: list[str], problem: str, tmp_path: Path,
) -> None:
    with pytest.raises(ScriptError, match=problem.replace("-", r"\-").replace("]", r"\]")):
        build_plan(args(*argv), tmp_path)


def test_plan_from_arguments(tmp_path: Path) -> None:
    plan = build_plan(args("--answer-after", "2.5", "--hold", "4", "--calls", "3", "--reject",
                           "--timeout", "30"), tmp_path)
    assert (plan.answer_after_ms, plan.hold_ms, plan.calls, plan.reject) == (2500, 4000, 3, True)
    assert plan.sip_user == "agent-1001" and plan.expires_s == 60
    assert plan.silence is not None and wav_info(plan.silence).is_ulaw_8k


def test_speech_is_converted_to_ulaw_like_hotline_call(tmp_path: Path) -> None:
    pcm = Path(__file__).resolve().parents[1] / "data/speech/pcm8k/001.wav"
    plan = build_plan(args("--talk", str(pcm)), tmp_path)
    assert plan.talk is not None and wav_info(plan.talk).is_ulaw_8k
    assert plan.talk_ms == wav_info(pcm).duration_ms


def test_silence_is_one_second_of_ulaw_zero(tmp_path: Path) -> None:
    path = write_silence_wav(tmp_path / "s.wav")
    assert wav_info(path).is_ulaw_8k and wav_info(path).duration_ms == 1000
    assert set(wav_data(path)) == {0xFF}


def test_register_scenario_authenticates_as_the_agent_and_unregisters() -> None:
    xml = build_register_scenario(PhonePlan(agent="1001", password="secret", timeout_s=100))
    msgs = sends(xml)
    assert len(msgs) == 4  # REGISTER, with credentials, Expires: 0, with credentials
    for msg in msgs:
        assert "From: <sip:agent-1001@" in msg and "To: <sip:agent-1001@" in msg
        assert "Contact: <sip:agent-1001@[local_ip]:[local_port]>" in msg
    assert "[authentication username=1001 password=secret]" in msgs[1]
    assert "[authentication" not in msgs[0]
    assert "Expires: 130" in msgs[0] and "Expires: 0" in msgs[2] and "Expires: 0" in msgs[3]
    # The loop stops after --calls calls or after --timeout (polls of 200 ms).
    assert 'variable="done" compare="greater_than_equal" value="1"' in xml
    assert 'variable="polls" compare="greater_than_equal" value="500"' in xml


def test_register_scenario_keeps_the_password_literal() -> None:
    xml = build_register_scenario(PhonePlan(agent="1001", password="a&b<c"))
    assert "password=a&b<c]" in sends(xml)[1]  # CDATA keeps it literal
    with pytest.raises(ValueError):
        build_register_scenario(PhonePlan(agent="1001", password="a]b"))


def test_answer_scenario_rings_answers_with_sdp_and_hangs_up_after_hold() -> None:
    plan = PhonePlan(agent="1001", password="x", answer_after_ms=1500, hold_ms=4000,
                     silence=Path("/s.wav"))
    xml = build_answer_scenario(plan)
    first_lines = [m.strip().splitlines()[0] for m in sends(xml)]
    assert first_lines == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK",
                           "SIP/2.0 487 Request Terminated", "SIP/2.0 200 OK", "SIP/2.0 200 OK",
                           "BYE [next_url] SIP/2.0", "SIP/2.0 200 OK"]  # the last: to OPTIONS
    assert 'request="CANCEL" timeout="1500" ontimeout="pickup"' in xml
    assert "m=audio [rtpstream_audio_port] RTP/AVP 0 101" in xml
    assert 'rtp_stream="/s.wav,-1,0"' in xml
    assert 'request="BYE" timeout="4000" ontimeout="hangup"' in xml
    assert "X-Hotline-Call-Id:" in xml and "486" not in xml


def test_each_calls_bye_is_a_new_transaction() -> None:
    # Every incoming call is SIPp's call 0: without the Call-ID all BYEs share one branch.
    xml = build_answer_scenario(PhonePlan(agent="1001", password="x", hold_ms=4000))
    [bye] = [m for m in sends(xml) if m.strip().startswith("BYE")]
    assert ";branch=[branch]-[call_id]" in bye


def test_answer_scenario_answers_options_probes() -> None:
    xml = build_answer_scenario(PhonePlan(agent="1001", password="x"))
    assert '<recv request="OPTIONS" optional="true" next="options"/>' in xml
    tail = xml[xml.index('<label id="options"/>'):]
    assert "SIP/2.0 200 OK" in tail


def test_answer_scenario_without_hold_waits_for_the_callers_bye() -> None:
    xml = build_answer_scenario(PhonePlan(agent="1001", password="x", silence=Path("/s.wav")))
    assert '<recv request="BYE" next="remote_bye"/>' in xml
    assert "CANCEL" not in xml  # answered at once: no ringing delay to cancel in


def test_answer_scenario_talks_speech_then_silence() -> None:
    plan = PhonePlan(agent="1001", password="x", hold_ms=5000, talk=Path("/t.wav"), talk_ms=2000,
                     silence=Path("/s.wav"))
    xml = build_answer_scenario(plan)
    assert xml.index('rtp_stream="/t.wav,1,0"') < xml.index('rtp_stream="/s.wav,-1,0"')
    assert 'timeout="2000" ontimeout="silence"' in xml
    assert 'timeout="3000" ontimeout="hangup"' in xml  # the rest of --hold


def test_answer_scenario_with_hold_shorter_than_speech_hangs_up_mid_speech() -> None:
    plan = PhonePlan(agent="1001", password="x", hold_ms=1000, talk=Path("/t.wav"), talk_ms=2000)
    assert 'timeout="1000" ontimeout="hangup"' in build_answer_scenario(plan)


def test_reject_scenario_sends_486_and_never_answers() -> None:
    xml = build_answer_scenario(PhonePlan(agent="1001", password="x", reject=True))
    first_lines = [m.strip().splitlines()[0] for m in sends(xml)]
    assert first_lines == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 486 Busy Here",
                           "SIP/2.0 200 OK"]  # to OPTIONS


def test_sipp_command_uses_the_out_of_call_scenario_for_incoming_calls(tmp_path: Path) -> None:
    cmd = sipp_command(PLAN, "127.0.0.1:5060", tmp_path, 40000, 40002)
    assert cmd[:2] == ["sipp", "127.0.0.1:5060"]
    assert cmd[cmd.index("-sf") + 1] == str(tmp_path / "register.xml")
    assert cmd[cmd.index("-oocsf") + 1] == str(tmp_path / "answer.xml")
    assert cmd[cmd.index("-m") + 1] == "1"
    assert cmd[cmd.index("-max_retrans") + 1] == "3"  # an unreachable PBX is told in seconds
    assert cmd[cmd.index("-p") + 1] == "40000" and cmd[cmd.index("-mp") + 1] == "40002"


LOG = """registered expires=90 tick=108
invite sip=abc caller=13800138000 xcid=test-123 tick=2584
answered sip=abc tick=3592
local_bye sip=abc tick=6596
ended sip=abc tick=6596
invite sip=def caller=anonymous xcid= tick=7000
rejected sip=def code=486 tick=8000
unregistered tick=9000
"""


def test_log_is_read_back_per_call() -> None:
    log = parse_phone_log(LOG)
    assert log.registered and log.unregistered and not log.timed_out
    assert log.calls is not None
    abc, def_ = log.calls["abc"], log.calls["def"]
    assert abc.summary() == {"answered": True, "result": "answered", "from": "138****8000",
                             "call_id": "test-123", "talk_seconds": 3.004, "hung_up_by": "agent"}
    assert def_.summary()["answered"] is False and def_.summary()["call_id"] is None
    assert def_.summary()["from"] == "anonymous"


def test_summary_ok_needs_registration_and_the_calls() -> None:
    one = summarise(PLAN, parse_phone_log(LOG), 0)
    assert one["ok"] and one["agent"] == "1001" and len(one["calls"]) == 2
    two = summarise(PhonePlan(agent="1001", password="x", calls=2), parse_phone_log(LOG), 0)
    assert not two["ok"] and two["error"] == "took 1 of 2 calls within 60 s"
    refused = summarise(PLAN, parse_phone_log("register_failed code=401 tick=5\n"), 0)
    assert refused["registered"] is False and not refused["ok"]
    assert "registration refused (401)" in refused["error"]
    silent = summarise(PLAN, parse_phone_log(""), 1, "127.0.0.1:5999")
    assert "no answer to REGISTER from 127.0.0.1:5999" in silent["error"]


def test_caller_numbers_are_masked_as_received() -> None:
    assert mask_caller("13800138000") == "138****8000"
    assert mask_caller("138****8000") == "138****8000"
    assert mask_caller("12306") == "12306" and mask_caller("anonymous") == "anonymous"

