"""The natural Mandarin voice, run in its own interpreter (the voice's virtualenv, which has
tensorflow-cpu and numpy < 2; the platform's own does not need either).

    python -I neural_worker.py ASSET_DIR [--nice N]

Loads the FastSpeech2 acoustic model and the MB-MelGAN vocoder (24 kHz) once, then answers
one JSON job per stdin line with one JSON line on stdout:

    {"phrases": [[id, ...], ...], "pause": 0.2, "out": "/path/x.wav"}
    -> {"ok": true, "seconds": 1.84}  or  {"ok": false, "error": "..."}

Each phrase is the symbol ids of one breath group (sil, initials, finals with tones, #0, sil,
eos; the voice's own mapper turns pinyin into ids, in the platform). Phrases are joined with
`pause` seconds of silence. "out": null synthesises and discards (warm-up). The first line
printed is {"ready": true, ...} once the models are loaded. EOF on stdin ends the process, so
the worker never outlives the platform process that started it.

TensorFlow's own TFLite interpreter, because the acoustic model holds a TensorFlow select op
(FlexRandomUniform) that the stand-alone TFLite runtime refuses. One thread per interpreter:
the platform runs as many workers as it wants cores for this.
"""

from __future__ import annotations

import json
import os
import sys
import wave
from typing import Any

RATE = 24000


def _load(assets: str) -> tuple[Any, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    import tensorflow as tf  # type: ignore[import-untyped,import-not-found,unused-ignore]

    acoustic = tf.lite.Interpreter(model_path=f"{assets}/fastspeech2_quan.tflite", num_threads=1)
    vocoder = tf.lite.Interpreter(model_path=f"{assets}/mb_melgan.tflite", num_threads=1)
    return acoustic, vocoder


def _phrase(acoustic: Any, vocoder: Any, ids: list[int]) -> Any:
    import numpy as np

    inputs = acoustic.get_input_details()
    acoustic.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
    acoustic.allocate_tensors()
    # ids, speaker, then the speed, pitch and energy ratios
    values = (
        np.array([ids], np.int32),
        np.array([0], np.int32),
        np.array([1.0], np.float32),
        np.array([1.0], np.float32),
        np.array([1.0], np.float32),
    )
    for detail, value in zip(inputs, values, strict=True):
        acoustic.set_tensor(detail["index"], value)
    acoustic.invoke()
    mel = acoustic.get_tensor(acoustic.get_output_details()[1]["index"])
    vocoder_in = vocoder.get_input_details()[0]["index"]
    vocoder.resize_tensor_input(vocoder_in, mel.shape)
    vocoder.allocate_tensors()
    vocoder.set_tensor(vocoder_in, mel)
    vocoder.invoke()
    return vocoder.get_tensor(vocoder.get_output_details()[0]["index"])[0, :, 0]


def synthesize(models: tuple[Any, Any], job: dict[str, Any]) -> float:
    import numpy as np

    phrases = job["phrases"]
    if not phrases or not all(isinstance(p, list) and p for p in phrases):
        raise ValueError("no phrases to speak")
    gap = np.zeros(int(float(job.get("pause", 0.2)) * RATE), np.float32)
    parts: list[Any] = []
    for ids in phrases:
        if parts:
            parts.append(gap)
        parts.append(_phrase(*models, [int(i) for i in ids]))
    audio = np.concatenate(parts)
    if job.get("out"):
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        with wave.open(job["out"], "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(pcm)
    return len(audio) / RATE


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: neural_worker.py ASSET_DIR [--nice N]", file=sys.stderr)
        return 2
    if "--nice" in argv:
        # Below the call path: answers are made while calls are handled, never instead.
        os.nice(int(argv[argv.index("--nice") + 1]))
    try:
        models = _load(argv[0])
    except Exception as exc:  # a broken install: say so on the first line
        print(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    import tensorflow as tf  # type: ignore[import-untyped,import-not-found,unused-ignore]

    print(json.dumps({"ready": True, "tensorflow": tf.__version__}), flush=True)
    for line in sys.stdin:
        try:
            reply: dict[str, Any] = {"ok": True, "seconds": synthesize(models, json.loads(line))}
        except Exception as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
