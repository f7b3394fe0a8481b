from __future__ import annotations

import itertools
import struct
import subprocess
from pathlib import Path

import pytest

from app.callgen.dtmf_pcap import EVENT_CODES, PCAP_START_US, dtmf_packets, write_dtmf_pcap
from app.callgen.runner import key_media, parse_log, prepare_speech
from app.callgen.scenario import Media, build_scenario
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


def read_pcap(path: Path) -> list[tuple[int, bytes]]:
    """(microseconds, RTP packet) of each record of a pcap file."""
    data, pos, out = path.read_bytes(), 24, []
    while pos < len(data):
        sec, usec, size, _ = struct.unpack("<IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + size]
        out.append((sec * 1_000_000 + usec, frame[14 + 20 + 8:]))
        pos += 16 + size
    return out


def events(packets: list[tuple[int, bytes]]) -> list[tuple[float, str, bool]]:
    """(ms from the first packet, key, end bit) of the RFC 4733 packets."""
    start = packets[0][0]
    codes = {v: k for k, v in EVENT_CODES.items()}
    return [((t - start) / 1000, codes[rtp[12]], bool(rtp[13] & 0x80))
            for t, rtp in packets if rtp[1] & 0x7F == 101]


def test_pcap_times_start_after_zero_so_sipp_paces_the_first_packets(tmp_path: Path) -> None:
    # SIPp 3.6.1 takes a zero packet time for "no packet yet" and sent the first two packets
    # of such a file at once: every key reached the PBX 20 ms shorter than written.
    packets = read_pcap(write_dtmf_pcap(tmp_path / "k.pcap", "5", 8000, 1, tone_ms=100))
    assert packets[0][0] == PCAP_START_US > 0
    assert [round(t) for t, _, _ in events(packets)] == [0, 20, 40, 60, 80, 100, 100, 100]


def test_keys_silence_and_hold_are_one_timed_stream(tmp_path: Path) -> None:
    xml = build_scenario([Key("1"), Key("2"), Pause(1000), Key("3")], hold_ms=2000,
                         caller="100", work=tmp_path, settle_ms=500,
                         media=Media(tone_ms=100, gap_ms=60))
    # One play for the whole call: a new play would cancel a late key's end packets.
    assert xml.count("play_pcap_audio") == 1
    assert [p.name for p in tmp_path.glob("*.pcap")] == ["caller.pcap"]
    packets = read_pcap(tmp_path / "caller.pcap")
    keys = [(t, k) for t, k, end in events(packets) if not end]
    starts = {k: t for t, k in reversed(keys)}
    assert starts["2"] - starts["1"] == 160  # 100 ms tone + 60 ms gap
    assert starts["3"] - starts["2"] == 160 + 1000
    # Silence (PCMU) every 20 ms between the keys and through the hold.
    start = packets[0][0]
    audio = [(t - start) / 1000 for t, rtp in packets if rtp[1] & 0x7F == 0]
    assert audio[0] == 0 and max(audio) >= 500 + 3 * 160 + 1000 + 2000 - 20
    assert {b - a for a, b in itertools.pairwise(audio)} == {20.0, 140.0}  # 140: a key
    # One stream: the sequence numbers go up by one from packet to packet.
    seqs = [struct.unpack("!H", rtp[2:4])[0] for _, rtp in packets]
    assert sorted(set(seqs)) == list(range(seqs[0], seqs[0] + len(set(seqs))))
    assert 'timeout="2000" ontimeout="hangup"' in xml
    assert '<pause milliseconds="1980"/>' in xml  # settle + three keys + pause


def test_no_media_sends_only_the_keys(tmp_path: Path) -> None:
    build_scenario([Key("1"), Pause(1000), Key("2")], hold_ms=5000, caller="100",
                   work=tmp_path, media=Media(silence=False))
    packets = read_pcap(tmp_path / "caller.pcap")
    assert all(rtp[1] & 0x7F == 101 for _, rtp in packets)
    assert [k for _, k, end in events(packets) if end] == ["1"] * 3 + ["2"] * 3
    empty = tmp_path / "empty"
    empty.mkdir()
    xml = build_scenario([], hold_ms=5000, caller="100", work=empty, media=Media(silence=False))
    assert "play_pcap_audio" not in xml and not list(empty.iterdir())


@pytest.mark.parametrize(("tone", "gap", "message"), [
    (30, 60, "--key-tone must be 40-2000 ms"), (110, 60, "in steps of 20"),
    (100, 10, "--key-gap must be at least 20 ms"),
])
def test_key_timing_is_checked(tone: int, gap: int, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        key_media(tone, gap)
    assert key_media(100, 60) == Media(tone_ms=100, gap_ms=60)


def test_parse_log_gathers_outcome_per_call() -> None:
    log = "\n".join([
        "invite a-1 960", "final 200 a-1 1000", "final 200 a-2 1010", "remote_bye a-1 4000",
        "local_bye a-2 6010", "final 404 a-3 1500", "noise line",
    ])
    results = parse_log(log)
    assert results["a-1"].ok and results["a-1"].hung_up_by == "hotline"
    assert results["a-1"].duration == 3.0 and results["a-1"].setup_ms == 40
    assert results["a-2"].setup_ms is None  # no INVITE line: no set-up time
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
