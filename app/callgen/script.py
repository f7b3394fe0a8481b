"""What a test caller does: keys with pauses, speech files, holding."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

KEYPAD_LETTERS = {
    **dict.fromkeys("ABC", "2"), **dict.fromkeys("DEF", "3"), **dict.fromkeys("GHI", "4"),
    **dict.fromkeys("JKL", "5"), **dict.fromkeys("MNO", "6"), **dict.fromkeys("PQRS", "7"),
    **dict.fromkeys("TUV", "8"), **dict.fromkeys("WXYZ", "9"),
}
PAUSE_MS = 1000  # one ',' in a DTMF string


class ScriptError(ValueError):
    pass


@dataclass(frozen=True)
class Key:
    key: str  # 0-9 * #


@dataclass(frozen=True)
class Pause:
    ms: int


@dataclass(frozen=True)
class Speech:
    path: Path
    ms: int


Step = Key | Pause | Speech


def parse_dtmf(text: str) -> list[Step]:
    """'1,2,E123#' -> keys and pauses. Letters are typed as on a phone keypad (E -> 3)."""
    steps: list[Step] = []
    for pos, char in enumerate(text.strip(), start=1):
        upper = char.upper()
        if char.isdigit() or char in "*#":
            steps.append(Key(char))
        elif upper in KEYPAD_LETTERS:
            steps.append(Key(KEYPAD_LETTERS[upper]))
        elif char == ",":
            steps.append(Pause(PAUSE_MS))
        elif char.isspace():
            continue
        else:
            raise ScriptError(
                f"DTMF character {char!r} at position {pos} is not a key: use 0-9, *, #, "
                "letters (typed as on a phone keypad) and ',' for a 1 s pause"
            )
    return steps


def keys_of(steps: list[Step]) -> str:
    return "".join(s.key for s in steps if isinstance(s, Key))


@dataclass(frozen=True)
class WavInfo:
    audio_format: int  # 1 PCM, 7 mu-law
    channels: int
    rate: int
    bits: int
    data_bytes: int

    @property
    def duration_ms(self) -> int:
        frame = self.channels * max(1, self.bits // 8)
        return int(self.data_bytes * 1000 / (self.rate * frame)) if self.rate else 0

    @property
    def is_ulaw_8k(self) -> bool:
        return self.audio_format == 7 and self.rate == 8000 and self.channels == 1


def wav_data(path: Path) -> bytes:
    """The sample bytes of a WAV file's data chunk."""
    data = path.read_bytes()
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if chunk == b"data":
            return data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise ScriptError(f"{path} has no data chunk")


def wav_info(path: Path) -> WavInfo:
    """Header of a RIFF/WAVE file (the stdlib wave module cannot read mu-law)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScriptError(f"cannot read speech file {path}: {exc.strerror}") from exc
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ScriptError(f"{path} is not a WAV file")
    pos, fmt, data_bytes = 12, None, None
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if chunk == b"fmt " and len(body) >= 16:
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif chunk == b"data":
            data_bytes = min(size, len(data) - pos - 8)
        pos += 8 + size + (size & 1)
    if fmt is None or data_bytes is None:
        raise ScriptError(f"{path} has no fmt or data chunk")
    audio_format, channels, rate, _, _, bits = fmt
    return WavInfo(audio_format, channels, rate, bits, data_bytes)
