"""Key presses (RFC 4733), speech and silence (PCMU) as pcap files for SIPp's play_pcap_audio.

Everything a test caller sends leaves from one media port with one SSRC, one sequence and one
RTP clock (RtpStream): Asterisk's strict RTP locks onto the first source and would drop audio
sent from another port (SIPp's rtp_stream). Each press gets its own RTP timestamp: Asterisk
drops an event that repeats the previous one's timestamp, so replaying one packaged pcap twice
("33") would deliver a single key.

Packet times in the files start at 1 s, not 0: SIPp 3.6.1 paces a play by the time since the
previous packet and takes a zero time for "no previous packet", so a file starting at 0 sent
its first two packets at once and every key reached the PBX 20 ms shorter than written.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

EVENT_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14,
               "D": 15}
PAYLOAD_TYPE = 101
PACKET_MS = 20
SAMPLES_PER_PACKET = 8 * PACKET_MS  # 8 kHz
PRESS_MS = 140  # how long a key is held unless the caller says otherwise
END_REPEATS = 3  # the end packet is sent three times, as RFC 4733 recommends
ULAW_SILENCE = b"\xff" * SAMPLES_PER_PACKET
PCAP_START_US = 1_000_000  # see the module note: never 0
SSRC = 0x48544C4E

Frame = tuple[int, bytes]  # (microseconds from the start of the file, Ethernet frame)


def _ip_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack("!10H", header))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


@lru_cache(maxsize=16)
def _headers(rtp_len: int) -> bytes:
    """Ethernet, IPv4 and UDP headers for an RTP packet of rtp_len bytes (long holds write
    tens of thousands of equal-sized packets)."""
    udp = struct.pack("!HHHH", 6000, 6000, 8 + rtp_len, 0)  # checksum 0: none (IPv4)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + rtp_len, 0, 0x4000, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    ether = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ether + ip + udp


def _frame(rtp: bytes) -> bytes:
    return _headers(len(rtp)) + rtp


def _rtp(marker: bool, payload_type: int, seq: int, timestamp: int, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type, seq & 0xFFFF,
                       timestamp & 0xFFFFFFFF, ssrc)


def tone_packets(tone_ms: int) -> int:
    """Packets of a key held tone_ms (before the end packets); a key lasts at least one."""
    return max(1, tone_ms // PACKET_MS)


def dtmf_packets(key: str, timestamp: int, seq: int, ssrc: int = SSRC,
                 tone_ms: int = PRESS_MS) -> list[bytes]:
    """RTP packets (with Ethernet/IP/UDP framing) for one press of key."""
    if key not in EVENT_CODES:
        raise ValueError(f"no DTMF event for key {key!r}")
    code, volume = EVENT_CODES[key], 10
    packets = []
    steps = tone_packets(tone_ms)
    for i in range(steps + END_REPEATS):
        end = i >= steps
        duration = min(i + 1, steps) * SAMPLES_PER_PACKET
        rtp = _rtp(i == 0, PAYLOAD_TYPE, seq + min(i, steps), timestamp, ssrc)
        rtp += struct.pack("!BBH", code, (0x80 if end else 0) | volume, duration)
        packets.append(_frame(rtp))
    return packets


def _ulaw_packets(ulaw: bytes, timestamp: int, seq: int, ssrc: int) -> list[Frame]:
    """8 kHz mu-law samples as 20 ms PCMU packets (payload type 0), paced in real time."""
    frames = []
    for n, start in enumerate(range(0, len(ulaw), SAMPLES_PER_PACKET)):
        chunk = ulaw[start:start + SAMPLES_PER_PACKET].ljust(SAMPLES_PER_PACKET, b"\xff")
        rtp = _rtp(n == 0, 0, seq + n, timestamp + n * SAMPLES_PER_PACKET, ssrc) + chunk
        frames.append((n * PACKET_MS * 1000, _frame(rtp)))
    return frames


@dataclass
class RtpStream:
    """The one RTP stream of a test caller: its sequence numbers and clock go on across every
    file it plays, as a phone's would."""

    ssrc: int = SSRC
    seq: int = 100
    clock: int = 8000

    def key(self, key: str, tone_ms: int = PRESS_MS) -> list[Frame]:
        """One press: event packets every 20 ms, the end packet (three times) at tone_ms."""
        steps = tone_packets(tone_ms)
        packets = dtmf_packets(key, self.clock, self.seq, self.ssrc, tone_ms)
        frames = [(min(i, steps) * PACKET_MS * 1000 + i * 10, frame)
                  for i, frame in enumerate(packets)]
        self.seq += steps + 1
        self.clock += steps * SAMPLES_PER_PACKET
        return frames

    def audio(self, ulaw: bytes) -> list[Frame]:
        frames = _ulaw_packets(ulaw, self.clock, self.seq, self.ssrc)
        self.seq += len(frames)
        self.clock += len(frames) * SAMPLES_PER_PACKET
        return frames

    def silence(self, ms: int) -> list[Frame]:
        """ms of mu-law silence (what a phone sends while nobody speaks)."""
        return self.audio(ULAW_SILENCE * max(0, ms // PACKET_MS))

    def skip(self, ms: int) -> None:
        """ms without packets: the clock goes on (a phone that sends nothing)."""
        self.clock += max(0, ms // PACKET_MS) * SAMPLES_PER_PACKET


def write_pcap(path: Path, frames: list[Frame]) -> Path:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for offset_us, frame in frames:
        usec = PCAP_START_US + offset_us
        out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))
    return path


def write_dtmf_pcap(path: Path, key: str, timestamp: int, seq: int,
                    tone_ms: int = PRESS_MS) -> Path:
    return write_pcap(path, RtpStream(seq=seq, clock=timestamp).key(key, tone_ms))


def write_speech_pcap(path: Path, ulaw: bytes, timestamp: int, seq: int,
                      ssrc: int = SSRC) -> Path:
    return write_pcap(path, _ulaw_packets(ulaw, timestamp, seq, ssrc))


def speech_packets(ulaw: bytes) -> int:
    return (len(ulaw) + SAMPLES_PER_PACKET - 1) // SAMPLES_PER_PACKET
