"""The endpointer on 20 ms frames: the level of a frame, where speech starts and ends."""

from __future__ import annotations

import numpy as np

from app.asr.endpoint import FRAME_BYTES, Endpointer, frame_rms


def frame(level: float, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(FRAME_BYTES // 2) * level).clip(-32768, 32767).astype(
        "<i2").tobytes()


def test_the_level_of_a_frame_is_its_rms() -> None:
    for level in (0, 10, 1000, 30000):
        data = frame(level, seed=level)
        samples = np.frombuffer(data, dtype="<i2").astype(np.float64)
        assert abs(frame_rms(data) - np.sqrt(np.mean(samples ** 2))) < 1e-6
    full = np.full(160, -32768, dtype="<i2").tobytes()  # no overflow at full scale
    assert frame_rms(full) == 32768.0
    assert frame_rms(b"") == 0.0


def test_speech_starts_after_loud_frames_and_ends_after_quiet_ones() -> None:
    ep = Endpointer()
    changes = [ep.feed(frame(20, i)) for i in range(20)]
    changes += [ep.feed(frame(3000, 100 + i)) for i in range(10)]
    changes += [ep.feed(frame(20, 200 + i)) for i in range(ep.end_frames)]
    assert changes.index("start") == 20 + ep.start_frames - 1
    assert changes[-1] == "end" and changes.count("end") == 1
