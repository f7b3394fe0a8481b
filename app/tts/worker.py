"""One synthesis in a fresh process: `python -I worker.py VOICE RATE OUT.wav` with the text on
stdin writes a 22,050 Hz mono WAV; `python -I worker.py --info` prints the engine's versions and
voices as JSON.

A fresh process per synthesis because the pyttsx3 espeak driver misbehaves when reused: its
runAndWait() can return before the file is written, a reused engine mixes ~10 ms of the previous
utterance into the next one, and after a voice-list query it writes empty files. A fresh process
gives the same bytes as the espeak-ng command line for the same input, so the cache is stable.

Standalone on purpose (stdlib + pyttsx3 only, run with -I) so it starts in about 0.1 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import wave
from importlib.metadata import version
from typing import Any

WAIT_SECONDS = 60.0


def _engine() -> Any:
    import pyttsx3  # type: ignore[import-untyped]

    return pyttsx3.init("espeak")


def info() -> dict[str, Any]:
    from pyttsx3.drivers import _espeak  # type: ignore[import-untyped]

    engine = _engine()
    espeak = _espeak.Info()
    return {
        "pyttsx3": version("pyttsx3"),
        "espeak": espeak.decode() if isinstance(espeak, bytes) else str(espeak),
        "voices": sorted(v.id for v in engine.getProperty("voices")),
    }


def synthesize(text: str, voice: str, rate: int, out: str) -> None:
    engine = _engine()
    finished = threading.Event()
    errors: list[BaseException] = []
    # The driver signals the end from espeak's thread after the WAV is closed; runAndWait()
    # alone returns too early for the first utterance.
    engine.connect("finished-utterance", lambda name, completed: finished.set())
    # Failed driver commands (an unknown voice) are only reported here, never raised.
    engine.connect("error", lambda name, exception: errors.append(exception))
    engine.setProperty("voice", voice)
    engine.setProperty("rate", rate)
    with contextlib.redirect_stdout(sys.stderr):  # the driver prints "Audio saved to ..."
        engine.save_to_file(text, out)
        engine.runAndWait()
        if not finished.wait(WAIT_SECONDS):
            raise RuntimeError(f"espeak-ng did not finish within {WAIT_SECONDS:.0f} s")
    if errors:
        raise RuntimeError(f"espeak-ng: {errors[0]}")
    current = str(engine.getProperty("voice") or "")
    if current.lower() != voice.lower():
        raise RuntimeError(f"espeak-ng has no voice {voice!r} (it used {current!r})")
    with wave.open(out, "rb") as wav:
        if wav.getnframes() == 0:
            raise RuntimeError("espeak-ng wrote no audio")


def main(argv: list[str]) -> int:
    try:
        if argv == ["--info"]:
            print(json.dumps(info()))
        elif len(argv) == 3:
            voice, rate, out = argv
            synthesize(sys.stdin.read(), voice, int(rate), out)
        else:
            print("usage: worker.py VOICE RATE OUT.wav < text | worker.py --info", file=sys.stderr)
            return 2
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: espeak's own thread can abort the process on exit.
    os._exit(code)
