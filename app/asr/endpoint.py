"""End-of-speech detection on 20 ms frames of telephone audio (energy with an adaptive floor)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit audio


def frame_rms(frame: bytes) -> float:
    # Every listening caller's every frame passes here: one integer dot product, exact.
    samples = np.frombuffer(frame, dtype="<i2").astype(np.int64)
    return math.sqrt(int(samples @ samples) / len(samples)) if len(samples) else 0.0


@dataclass
class Endpointer:
    """Speech starts after start_frames loud frames; ends after end_frames quiet ones."""

    min_level: float = 250.0  # below this nothing counts as speech on a phone line
    ratio: float = 3.0  # ... or this many times the noise floor
    start_frames: int = 3
    end_frames: int = 35  # 700 ms of silence ends an utterance
    max_frames: int = 600  # 12 s: nobody answers a menu that long
    floor: float = 100.0
    started: bool = False
    ended: bool = False
    loud_run: int = 0
    quiet_run: int = 0
    speech_frames: int = 0
    levels: list[float] = field(default_factory=list)

    def threshold(self) -> float:
        return max(self.min_level, self.ratio * self.floor)

    def feed(self, frame: bytes) -> str | None:
        """'start' when speech begins, 'end' when it is over, else None."""
        if self.ended:
            return None
        level = frame_rms(frame)
        loud = level > self.threshold()
        if not self.started:
            # Track the background only while nobody speaks.
            self.floor = 0.95 * self.floor + 0.05 * min(level, 2000.0)
            self.loud_run = self.loud_run + 1 if loud else 0
            if self.loud_run >= self.start_frames:
                self.started = True
                self.speech_frames = self.loud_run
                return "start"
            return None
        self.speech_frames += 1
        self.quiet_run = 0 if loud else self.quiet_run + 1
        if self.quiet_run >= self.end_frames or self.speech_frames >= self.max_frames:
            self.ended = True
            return "end"
        return None
