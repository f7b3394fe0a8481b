from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from app.callgen.dtmf_pcap import EVENT_CODES, dtmf_packets, write_dtmf_pcap
from app.callgen.runner import parse_log, prepare_speech
from app.callgen.scenario import build_scenario
from app.callgen.script import Key, Pause, ScriptError, keys_of, parse_dtmf, wav_info
from tests.data import SPEECH

ASR_DEV = SPEECH


def test_dtmf_keys_pauses_and_keypad_letters() -> None:
    steps = parse_dtmf("1,2,E123#")
    assert keys_of(steps) == "123123#"
    assert steps[1] == Pause(1000) and steps[3] == Pause(1000)
    assert keys_of(parse_dtmf("g101*")) == "4101*"


@pytest.mark.parametrize("bad", ["12!", "1-2", "€"])
def test_dtmf_rejects_what_is_not_a_key(bad: str) -> None:
    with pytest.raises(ScriptError, match="not a key"):
        parse_dtmf(bad)


def test_each_press_has_its_own_rtp_timestamp(tmp_path: Path) -> None:
    # Repeated keys ("33") must not look like one event to the PBX.
    first = dtmf_packets("3", timestamp=8000, seq=100)
    second = dtmf_packets("3", timestamp=16000, seq=200)
    rtp_ts = lambda pkt: struct.unpack("!I", pkt[14 + 20 + 8 + 4:14 + 20 + 8 + 8])[0]  # noqa: E731
    assert {rtp_ts(p) for p in first} == {8000}
    assert {rtp_ts(p) for p in second} == {16000}
    event = first[-1][14 + 20 + 8 + 12:]
    assert event[0] == EVENT_CODES["3"] and event[1] & 0x80  # last packets carry the end bit
    path = write_dtmf_pcap(tmp_path / "k.pcap", "#", 8000, 1)
    assert path.read_bytes()[:4] == struct.pack("<I", 0xA1B2C3D4)


def test_scenario_plays_one_pcap_per_press(tmp_path: Path) -> None:
    xml = build_scenario([Key("3"), Pause(1000), Key("3")], hold_ms=2000, caller="100",
                         work=tmp_path)
    assert xml.count("play_pcap_audio") == 2
    assert sorted(p.name for p in tmp_path.glob("*.pcap")) == ["key-1.pcap", "key-2.pcap"]
    assert 'timeout="2000" ontimeout="hangup"' in xml


def test_parse_log_gathers_outcome_per_call() -> None:
    log = "\n".join([
        "final 200 a-1 1000", "final 200 a-2 1010", "remote_bye a-1 4000",
        "local_bye a-2 6010", "final 404 a-3 1500", "noise line",
    ])
    results = parse_log(log)
    assert results["a-1"].ok and results["a-1"].hung_up_by == "hotline"
    assert results["a-1"].duration == 3.0
    assert results["a-2"].hung_up_by == "caller" and results["a-2"].duration == 5.0
    assert results["a-3"].final_response == 404 and not results["a-3"].answered


def test_speech_files_are_read_and_converted(tmp_path: Path) -> None:
    ulaw = ASR_DEV / "ulaw8k" / "001.wav"
    info = wav_info(ulaw)
    assert info.is_ulaw_8k and 500 < info.duration_ms < 10000
    assert prepare_speech(ulaw, tmp_path).path == ulaw.resolve()
    pcm = tmp_path / "tone.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-b", "16", str(pcm), "synth", "1.5", "sine",
                    "440"], check=True)
    speech = prepare_speech(pcm, tmp_path)
    assert wav_info(speech.path).is_ulaw_8k
    assert 1400 <= speech.ms <= 1600


def test_not_a_wav_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.wav"
    bad.write_text("hello")
    with pytest.raises(ScriptError, match="not a WAV"):
        wav_info(bad)
    with pytest.raises(ScriptError, match="cannot read"):
        wav_info(tmp_path / "missing.wav")
