"""Key presses (RFC 4733) and speech (PCMU) as pcap files for SIPp's play_pcap_audio.

Everything a test caller sends leaves from one media port with one SSRC: Asterisk's strict RTP
locks onto the first source and would drop audio sent from another port (SIPp's rtp_stream).
Each press gets its own RTP timestamp: Asterisk drops an event that repeats the previous one's
timestamp, so replaying one packaged pcap twice ("33") would deliver a single key.
"""

from __future__ import annotations

import struct
from pathlib import Path

EVENT_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14,
               "D": 15}
PAYLOAD_TYPE = 101
PACKET_MS = 20
PRESS_MS = 140  # how long the key is held
END_REPEATS = 3  # the end packet is sent three times, as RFC 4733 recommends


def _ip_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack("!10H", header))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _frame(rtp: bytes) -> bytes:
    udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp  # checksum 0: none (IPv4)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    ether = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ether + ip + udp


def dtmf_packets(key: str, timestamp: int, seq: int, ssrc: int = 0x48544C4E) -> list[bytes]:
    """RTP packets (with Ethernet/IP/UDP framing) for one press of key."""
    if key not in EVENT_CODES:
        raise ValueError(f"no DTMF event for key {key!r}")
    code, volume = EVENT_CODES[key], 10
    packets = []
    steps = PRESS_MS // PACKET_MS
    for i in range(steps + END_REPEATS):
        end = i >= steps
        duration = min(i + 1, steps) * PACKET_MS * 8
        marker = 0x80 if i == 0 else 0
        rtp = struct.pack("!BBHII", 0x80, marker | PAYLOAD_TYPE, (seq + min(i, steps)) & 0xFFFF,
                          timestamp & 0xFFFFFFFF, ssrc)
        rtp += struct.pack("!BBH", code, (0x80 if end else 0) | volume, duration)
        packets.append(_frame(rtp))
    return packets


def _write_pcap(path: Path, frames: list[tuple[int, bytes]]) -> Path:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for usec, frame in frames:
        out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))
    return path


def write_dtmf_pcap(path: Path, key: str, timestamp: int, seq: int) -> Path:
    frames = [(min(i, PRESS_MS // PACKET_MS) * PACKET_MS * 1000 + i * 10, frame)
              for i, frame in enumerate(dtmf_packets(key, timestamp, seq))]
    return _write_pcap(path, frames)


def write_speech_pcap(path: Path, ulaw: bytes, timestamp: int, seq: int,
                      ssrc: int = 0x48544C4E) -> Path:
    """8 kHz mu-law samples as 20 ms PCMU packets (payload type 0), paced in real time."""
    frames = []
    for n, start in enumerate(range(0, len(ulaw), 160)):
        chunk = ulaw[start:start + 160].ljust(160, b"\xff")  # 0xff is mu-law silence
        rtp = struct.pack("!BBHII", 0x80, 0x80 if n == 0 else 0, (seq + n) & 0xFFFF,
                          (timestamp + n * 160) & 0xFFFFFFFF, ssrc) + chunk
        frames.append((n * PACKET_MS * 1000, _frame(rtp)))
    return _write_pcap(path, frames)


def speech_packets(ulaw: bytes) -> int:
    return (len(ulaw) + 159) // 160
