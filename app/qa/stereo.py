"""Read a call recording as two channels: caller on the left, agent on the right.

Recordings are 8 kHz signed 16-bit stereo WAV (what the recording pipeline writes). Other
shapes are refused with a message saying what was expected, rather than analysed wrongly.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.asr.audio import RATE

CALLER, AGENT = "caller", "agent"
CHANNELS = (CALLER, AGENT)

Samples = npt.NDArray[np.int16]


class RecordingFormatError(ValueError):
    """The file is not an 8 kHz 16-bit stereo WAV; the message says what it is instead."""


@dataclass(frozen=True)
class StereoCall:
    caller: Samples
    agent: Samples
    rate: int = RATE

    @property
    def seconds(self) -> float:
        return len(self.caller) / self.rate

    def channel(self, name: str) -> Samples:
        if name not in CHANNELS:
            raise KeyError(f"unknown channel {name!r}; known: {', '.join(CHANNELS)}")
        return self.caller if name == CALLER else self.agent


def read_stereo(path: Path) -> StereoCall:
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except FileNotFoundError as exc:
        raise RecordingFormatError(f"{path}: no such recording file") from exc
    except (OSError, EOFError, wave.Error) as exc:
        raise RecordingFormatError(f"{path}: not a readable PCM WAV file ({exc})") from exc
    if (channels, width, rate) != (2, 2, RATE):
        raise RecordingFormatError(
            f"{path}: {channels} channel(s), {8 * width}-bit, {rate} Hz; expected an {RATE} Hz "
            "16-bit stereo WAV with the caller on the left and the agent on the right")
    data = np.frombuffer(frames[: len(frames) // 4 * 4], "<i2").reshape(-1, 2)
    return StereoCall(data[:, 0].astype(np.int16), data[:, 1].astype(np.int16), rate)


def write_stereo(path: Path, caller: Samples, agent: Samples, rate: int = RATE) -> None:
    """Write two equally long int16 channels as a stereo WAV (caller left, agent right)."""
    if len(caller) != len(agent):
        raise ValueError(f"channels differ in length: {len(caller)} vs {len(agent)} samples")
    interleaved = np.stack([caller, agent], axis=1).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(interleaved.tobytes())
