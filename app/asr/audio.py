"""Read WAV files as the recogniser wants them: 8 kHz mono signed 16-bit little-endian PCM.

Python's `wave` reads integer PCM only, and `audioop` is gone in 3.13, so the RIFF chunks are
parsed here and μ-law/A-law/float/other rates are converted with numpy.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 8000
PCM, FLOAT, ALAW, MULAW, EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


class AudioError(ValueError):
    """The file is not audio we can read; the message says what was expected."""


@dataclass(frozen=True)
class Audio:
    pcm: bytes  # 8 kHz mono s16le
    source_rate: int
    source_format: str

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (2 * RATE)


def _mulaw_table() -> npt.NDArray[np.int16]:
    # ITU-T G.711 μ-law expansion of every byte value.
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    sign = a & 0x80
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8,
                         ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


MULAW_TABLE = _mulaw_table()
ALAW_TABLE = _alaw_table()


def _chunks(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise AudioError("not a RIFF/WAVE file")
    if data[:4] == b"RIFX":
        raise AudioError("big-endian RIFX WAV is not supported; convert to a normal WAV")
    found: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos:pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8:pos + 8 + size]
        found.setdefault(cid, body)
        pos += 8 + size + (size & 1)
    return found


def _samples(fmt: bytes, raw: bytes) -> tuple[npt.NDArray[np.float64], int, str]:
    """Samples as float in int16 scale, shape (frames, channels); and the sample rate."""
    if len(fmt) < 16:
        raise AudioError("WAV fmt chunk is too short")
    tag, channels, rate, _, align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == EXTENSIBLE and len(fmt) >= 26:
        (tag,) = struct.unpack_from("<H", fmt, 24)  # first two bytes of the sub-format GUID
    if channels < 1 or rate < 1000:
        raise AudioError(f"implausible WAV header: {channels} channels at {rate} Hz")
    data: npt.NDArray[np.float64]
    if tag == MULAW and bits == 8:
        data, name = MULAW_TABLE[np.frombuffer(raw, np.uint8)].astype(np.float64), "mu-law"
    elif tag == ALAW and bits == 8:
        data, name = ALAW_TABLE[np.frombuffer(raw, np.uint8)].astype(np.float64), "a-law"
    elif tag == PCM and bits == 16:
        data, name = np.frombuffer(raw[: len(raw) // 2 * 2], "<i2").astype(np.float64), "pcm16"
    elif tag == PCM and bits == 8:
        data = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) * 256.0
        name = "pcm8"
    elif tag == PCM and bits in (24, 32):
        width = bits // 8
        usable = np.frombuffer(raw[: len(raw) // width * width], np.uint8).reshape(-1, width)
        # Keep the two most significant bytes: int16 scale is all a telephone model uses.
        data = usable[:, -2:].copy().view("<i2").reshape(-1).astype(np.float64)
        name = f"pcm{bits}"
    elif tag == FLOAT and bits in (32, 64):
        dtype = "<f4" if bits == 32 else "<f8"
        data = np.frombuffer(raw[: len(raw) // (bits // 8) * (bits // 8)], dtype)
        data = np.clip(data.astype(np.float64), -1.0, 1.0) * 32767.0
        name = f"float{bits}"
    else:
        raise AudioError(f"unsupported WAV encoding (format tag {tag}, {bits} bits); use 16-bit "
                         "PCM or 8-bit mu-law/a-law")
    if align and len(data) % channels:
        data = data[: len(data) - len(data) % channels]
    return data.reshape(-1, channels), rate, name


def resample(x: npt.NDArray[np.float64], rate: int, target: int = RATE) -> npt.NDArray[np.float64]:
    """Windowed-sinc low-pass below the new Nyquist, then linear interpolation."""
    if rate == target or len(x) == 0:
        return x
    if rate > target:
        cutoff = 0.45 * target / rate  # cycles per input sample
        taps = np.arange(-32, 33, dtype=np.float64)
        kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(len(taps))
        x = np.convolve(x, kernel / kernel.sum(), mode="same")
    n_out = round(len(x) * target / rate)
    positions = np.arange(n_out, dtype=np.float64) * rate / target
    return np.interp(positions, np.arange(len(x), dtype=np.float64), x)


def to_pcm16(x: npt.NDArray[np.float64]) -> bytes:
    return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()


def decode_wav(data: bytes) -> Audio:
    chunks = _chunks(data)
    if b"fmt " not in chunks or b"data" not in chunks:
        raise AudioError("WAV file has no fmt or data chunk")
    frames, rate, name = _samples(chunks[b"fmt "], chunks[b"data"])
    mono = frames.mean(axis=1) if frames.shape[1] > 1 else frames[:, 0]
    return Audio(to_pcm16(resample(mono, rate)), rate, name)


def read_wav(path: Path) -> Audio:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return decode_wav(data)
    except AudioError as exc:
        raise AudioError(f"{path}: {exc}") from exc


def mulaw_to_pcm16(data: bytes) -> bytes:
    """Raw μ-law bytes (e.g. an RTP payload) to s16le."""
    return MULAW_TABLE[np.frombuffer(data, np.uint8)].astype("<i2").tobytes()


def speechlike(seconds: float = 2.0, seed: int = 7) -> bytes:
    """Vowel-like syllables (harmonics through formant peaks, a noise onset each) at 8 kHz.

    A fresh recogniser expands its decoding graph lazily, which makes its first utterances
    slow; decoding this first moves part of that cost to start-up."""
    rng = np.random.default_rng(seed)
    formants = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
                (570, 840, 2410), (440, 1020, 2240), (660, 1720, 2410), (490, 1350, 1690)]
    n = int(RATE * 0.25)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    phase = 0.0
    pieces = []
    for _ in range(max(1, int(seconds / 0.25))):
        pitch = rng.uniform(110, 230) * np.linspace(1.1, 0.9, n)
        phases = phase + np.cumsum(2 * np.pi * pitch / RATE)
        phase = float(phases[-1])
        source = sum(np.sin(h * phases) / h for h in range(1, 30))
        gain = sum(1 / (1 + ((freqs - f) / 80) ** 2) for f in formants[rng.integers(8)])
        syllable = np.fft.irfft(np.fft.rfft(source) * gain, n)
        onset = int(0.05 * RATE)
        syllable[:onset] = syllable[:onset] * 0.2 + rng.normal(0, 0.3, onset) * np.hanning(onset)
        pieces.append(syllable * np.hanning(n) ** 0.5)
    signal = np.concatenate(pieces)
    return to_pcm16(signal / np.abs(signal).max() * 8000)
