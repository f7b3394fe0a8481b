"""The loudness outline of a recording per channel, for drawing its waveform: the peak of
each of `points` equal slices, 0..1 of full scale. A few kilobytes instead of the audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.recordings import wavfile

CHANNEL_NAMES = ("caller", "agent")  # stereo recordings: caller left, agent right
HEADER = 44  # the platform writes its own plain 44-byte PCM header


def peaks(path: Path, points: int) -> tuple[wavfile.WavInfo, dict[str, list[float]]]:
    """Per channel (caller, agent), the absolute peak of each slice; fewer slices than
    `points` when the file has fewer frames. Raises WavError for a file that is not the
    platform's PCM WAV."""
    info = wavfile.inspect(path)
    samples = np.memmap(path, dtype="<i2", mode="r", offset=HEADER,
                        shape=(info.frames * info.channels,)) if info.frames else \
        np.zeros(0, dtype="<i2")
    frames = samples.reshape(-1, info.channels) if info.frames else \
        np.zeros((0, info.channels), dtype="<i2")
    slices = max(1, min(points, info.frames))
    edges = np.linspace(0, info.frames, slices + 1).astype(int)
    out: dict[str, list[float]] = {}
    for index in range(info.channels):
        name = CHANNEL_NAMES[index] if index < len(CHANNEL_NAMES) else f"channel{index + 1}"
        if info.frames == 0:
            out[name] = []
            continue
        magnitude = np.abs(frames[:, index].astype(np.int32))
        top = np.maximum.reduceat(magnitude, edges[:-1])
        out[name] = [round(float(v) / 32768.0, 4) for v in top]
    return info, out
