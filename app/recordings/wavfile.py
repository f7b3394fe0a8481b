"""WAV files we can vouch for: the PBX writes headerless interleaved samples (nothing to
corrupt if it dies mid-call), the platform wraps them in a header it writes itself, and
verification re-reads header, length and checksum."""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

RATE = 8000
WIDTH = 2  # bytes per sample: signed 16-bit little-endian, as the PBX writes slin
CHUNK = 1 << 16


@dataclass(frozen=True)
class WavInfo:
    channels: int
    sample_rate: int
    frames: int
    size: int
    sha256: str

    @property
    def duration(self) -> float:
        return round(self.frames / self.sample_rate, 3) if self.sample_rate else 0.0


class WavError(ValueError):
    """The file is not the WAV its header (or its record) says it is."""


def header(channels: int, rate: int, data_bytes: int) -> bytes:
    block = channels * WIDTH
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block,
                                    WIDTH * 8)
            + b"data" + struct.pack("<I", data_bytes))


def wrap_raw(raw: Path, wav: Path, channels: int = 2, rate: int = RATE) -> WavInfo:
    """Write `raw`'s samples as a WAV at `wav` (whole frames only: a crash may have cut the
    last one), durably: temp file, fsync, rename. Returns what was written."""
    block = channels * WIDTH
    size = raw.stat().st_size if raw.exists() else 0
    data_bytes = size - size % block
    wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav.with_suffix(".wav.part")
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        head = header(channels, rate, data_bytes)
        out.write(head)
        digest.update(head)
        left = data_bytes
        if left:
            with open(raw, "rb") as src:
                while left:
                    chunk = src.read(min(CHUNK, left))
                    if not chunk:
                        raise WavError(f"{raw} shrank while it was read")
                    out.write(chunk)
                    digest.update(chunk)
                    left -= len(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, wav)
    return WavInfo(channels, rate, data_bytes // block, data_bytes + len(head),
                   digest.hexdigest())


def inspect(path: Path) -> WavInfo:
    """Read the header and checksum the whole file; WavError when the header is not a PCM
    WAV or its lengths do not match the file."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        head = fh.read(44)
        if len(head) < 44 or head[:4] != b"RIFF" or head[8:16] != b"WAVEfmt ":
            raise WavError(f"{path.name}: not a WAV file")
        riff, = struct.unpack("<I", head[4:8])
        fmt, channels, rate, _, block, bits = struct.unpack("<HHIIHH", head[20:36])
        if fmt != 1 or bits != 16 or head[36:40] != b"data":
            raise WavError(f"{path.name}: not 16-bit PCM")
        data, = struct.unpack("<I", head[40:44])
        if riff != size - 8 or data != size - 44 or data % block:
            raise WavError(f"{path.name}: header says {data} data bytes, file has {size - 44}")
        digest.update(head)
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return WavInfo(channels, rate, data // block, size, digest.hexdigest())
