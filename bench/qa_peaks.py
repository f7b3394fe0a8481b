"""The QA page's waveform outline: time to read a recording and answer its peaks, against the
size of the audio the browser would otherwise download to draw it.

Writes a stereo WAV of the given length (noise bursts on alternate sides) the way the platform
finalises recordings, then times app.recordings.peaks.peaks() (header check and checksum
included, as the route runs it) for the page's 600 points.
Run: .venv/bin/python bench/qa_peaks.py [--minutes 10] [--repeat 5] [--points 600]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from app.recordings import wavfile
from app.recordings.peaks import peaks

RATE = 8000


def write_call(path: Path, minutes: float) -> None:
    n = int(minutes * 60 * RATE)
    rng = np.random.default_rng(3)
    frames = np.zeros((n, 2), dtype="<i2")
    turn = 4 * RATE  # 4-second turns, caller and agent in turn
    for start in range(0, n, turn):
        side = (start // turn) % 2
        end = min(n, start + turn - RATE // 2)
        frames[start:end, side] = rng.integers(-9000, 9000, end - start, dtype="<i2")
    raw = path.with_suffix(".raw")
    raw.write_bytes(frames.tobytes())
    wavfile.wrap_raw(raw, path)
    raw.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="recording length")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (best kept)")
    parser.add_argument("--points", type=int, default=600, help="slices per channel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "call.wav"
        write_call(wav, args.minutes)
        runs = []
        for _ in range(args.repeat):
            started, cpu = time.perf_counter(), time.process_time()
            _, outline = peaks(wav, args.points)
            runs.append((time.perf_counter() - started, time.process_time() - cpu))
        answer = len(json.dumps({"channels": outline}).encode())
        print(json.dumps({
            "minutes": args.minutes, "points": args.points, "wav_bytes": wav.stat().st_size,
            "answer_bytes": answer, "best_wall_seconds": round(min(r[0] for r in runs), 4),
            "best_cpu_seconds": round(min(r[1] for r in runs), 4),
        }, indent=2))


if __name__ == "__main__":
    main()
