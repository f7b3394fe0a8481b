"""Voice activity per channel from frame energy, and the conversation measures built on it.

Each channel of a call recording carries one party only, so a level threshold per channel is
enough: no speaker separation is needed. The threshold adapts to the channel's own noise floor
and speech level, so a hissy line and a clean one are judged alike. Gaps shorter than a
breath inside speech are closed and clicks shorter than a syllable dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.asr.audio import RATE

FRAME_SECONDS = 0.02
# Speech is this far above the noise floor, within this range of the channel's loud frames,
# and never below the absolute floor (digital silence of a paused recording is -100 dBFS).
ABOVE_NOISE_DB = 12.0
BELOW_LOUD_DB = 40.0
FLOOR_DBFS = -55.0
BRIDGE_GAP_SECONDS = 0.3  # pauses between words within one turn
MIN_SPEECH_SECONDS = 0.1  # shorter bursts are clicks and line noise

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def frame_levels(samples: npt.NDArray[np.int16], rate: int = RATE) -> npt.NDArray[np.float64]:
    """Energy per 20 ms frame in dBFS (a trailing partial frame is dropped)."""
    size = int(rate * FRAME_SECONDS)
    usable = len(samples) // size * size
    frames = samples[:usable].astype(np.float64).reshape(-1, size) / 32768.0
    levels: npt.NDArray[np.float64] = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-10)
    return levels


def speech_threshold(levels: npt.NDArray[np.float64]) -> float:
    if len(levels) == 0:
        return FLOOR_DBFS
    noise, loud = np.percentile(levels, [10, 95])
    return float(max(noise + ABOVE_NOISE_DB, loud - BELOW_LOUD_DB, FLOOR_DBFS))


def _runs(mask: Mask) -> list[tuple[int, int]]:
    """[start, end) frame index pairs of the True runs."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def speech_mask(samples: npt.NDArray[np.int16], rate: int = RATE) -> Mask:
    """True for each 20 ms frame in which this channel's party speaks."""
    levels = frame_levels(samples, rate)
    mask = levels > speech_threshold(levels)
    bridge = round(BRIDGE_GAP_SECONDS / FRAME_SECONDS)
    for start, end in _runs(~mask):
        if 0 < start and end < len(mask) and end - start <= bridge:
            mask[start:end] = True
    shortest = round(MIN_SPEECH_SECONDS / FRAME_SECONDS)
    for start, end in _runs(mask):
        if end - start < shortest:
            mask[start:end] = False
    return mask


def spans_of(mask: Mask) -> list[Span]:
    return [Span(round(a * FRAME_SECONDS, 3), round(b * FRAME_SECONDS, 3)) for a, b in _runs(mask)]


def mask_of(spans: Sequence[tuple[float, float]], frames: int) -> Mask:
    mask = np.zeros(frames, dtype=bool)
    for start, end in spans:
        a = max(0, round(start / FRAME_SECONDS))
        b = min(frames, round(end / FRAME_SECONDS))
        if b > a:
            mask[a:b] = True
    return mask


@dataclass(frozen=True)
class Conversation:
    """Talk and silence over the counted part of a call (its length minus paused spans)."""

    counted_seconds: float
    caller_talk_seconds: float
    agent_talk_seconds: float
    silence_seconds: float  # neither party speaks
    overtalk_seconds: float  # both speak at once
    longest_silence_seconds: float

    def pct(self, seconds: float) -> float:
        return round(100.0 * seconds / self.counted_seconds, 1) if self.counted_seconds else 0.0


def measure(caller: Mask, agent: Mask, excluded: Mask | None = None) -> Conversation:
    """Conversation measures from two frame masks; excluded frames (recording paused) count
    neither as talk nor as silence."""
    frames = min(len(caller), len(agent))
    caller, agent = caller[:frames], agent[:frames]
    counted = np.ones(frames, dtype=bool) if excluded is None else ~excluded[:frames]
    silent = ~caller & ~agent & counted
    longest = max((b - a for a, b in _runs(silent)), default=0)
    return Conversation(
        counted_seconds=round(int(counted.sum()) * FRAME_SECONDS, 2),
        caller_talk_seconds=round(int((caller & counted).sum()) * FRAME_SECONDS, 2),
        agent_talk_seconds=round(int((agent & counted).sum()) * FRAME_SECONDS, 2),
        silence_seconds=round(int(silent.sum()) * FRAME_SECONDS, 2),
        overtalk_seconds=round(int((caller & agent & counted).sum()) * FRAME_SECONDS, 2),
        longest_silence_seconds=round(longest * FRAME_SECONDS, 2),
    )
