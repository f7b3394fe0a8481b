"""Telephone audio as the model hears it: 8 kHz doubled to the model's 16 kHz, plus dither.

The model works at 16 kHz. Left to itself, Vosk would upsample and then add dither (a
little random noise, which keeps the empty 4-8 kHz band and digital silence from having no
energy at all) from a process-wide random generator: the same audio then decodes a little
differently on every run, and differently again while other calls decode. So the model is
loaded with dither off (model.without_dither) and this does both steps itself, the same way
every time: a fixed low-pass filter, streaming (the result does not depend on how the audio
is cut), and noise from a fixed table indexed by the sample's place in the utterance.
"""

from __future__ import annotations

import numpy as np

MODEL_RATE = 16000
# Kaldi's own resampler: cut-off just under 4 kHz, 6 zero crossings each side, Hann window.
CUTOFF = 3960.0 / MODEL_RATE
ZEROS = 6
TAPS = 2 * int(ZEROS / (2 * CUTOFF)) + 1  # the filter delays by (TAPS - 1) / 2 samples
DITHER = 1.0  # standard deviation in 16-bit units: Kaldi's default

_n = np.arange(TAPS) - (TAPS - 1) / 2
# Windowed sinc; gain 2 makes up for the zeros put between the 8 kHz samples.
_FILTER = 2 * 2 * CUTOFF * np.sinc(2 * CUTOFF * _n) * (
    0.5 + 0.5 * np.cos(2 * np.pi * CUTOFF * _n / ZEROS))
_NOISE = np.random.default_rng(20251130).normal(0.0, DITHER, 8 * MODEL_RATE)


class Upsampler:
    """8 kHz s16le in, 16 kHz s16le out, with history across calls; reset() per utterance."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._history = np.zeros(TAPS - 1)
        self._produced = 0

    def process(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
        stuffed = np.zeros(2 * len(samples))
        stuffed[::2] = samples
        joined = np.concatenate([self._history, stuffed])
        self._history = joined[len(joined) - (TAPS - 1):]
        out = np.convolve(joined, _FILTER, mode="valid")
        index = (np.arange(len(out)) + self._produced) % len(_NOISE)
        self._produced += len(out)
        return np.clip(np.rint(out + _NOISE[index]), -32768, 32767).astype("<i2").tobytes()

    def flush(self) -> bytes:
        """The filter's last output (what it still holds), for the end of an utterance."""
        return self.process(bytes((TAPS - 1) // 2 * 2))
