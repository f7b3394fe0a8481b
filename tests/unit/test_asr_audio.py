"""WAV input: 8 kHz PCM as is; mu-law, a-law, stereo and other rates converted."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from app.asr.audio import AudioError, decode_wav, mulaw_to_pcm16, read_wav, speechlike
from tests.data import SPEECH

ASR_DEV = SPEECH


def wav_bytes(samples: bytes, *, rate: int, channels: int = 1, bits: int = 16,
              tag: int = 1) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8,
                      channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 4) + b"INFO"  # a chunk readers must skip
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * 10000).astype("<i2")


def test_8k_pcm_passes_through_unchanged() -> None:
    path = ASR_DEV / "pcm8k" / "001.wav"
    with wave.open(str(path)) as w:
        raw = w.readframes(w.getnframes())
    audio = read_wav(path)
    assert audio.pcm == raw and audio.source_rate == 8000 and audio.source_format == "pcm16"


def test_mulaw_file_matches_pcm_within_quantisation() -> None:
    pcm = np.frombuffer(read_wav(ASR_DEV / "pcm8k" / "001.wav").pcm, "<i2").astype(float)
    ulaw = read_wav(ASR_DEV / "ulaw8k" / "001.wav")
    assert ulaw.source_format == "mu-law"
    decoded = np.frombuffer(ulaw.pcm, "<i2").astype(float)
    assert len(decoded) == len(pcm)
    assert np.sqrt(np.mean((decoded - pcm) ** 2)) < 0.05 * np.sqrt(np.mean(pcm ** 2))


def test_mulaw_table_endpoints() -> None:
    assert np.frombuffer(mulaw_to_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80])), "<i2").tolist() == [
        0, 0, -32124, 32124]


def test_16k_stereo_is_downmixed_and_resampled() -> None:
    mono = tone(16000)
    stereo = np.column_stack([mono, mono]).reshape(-1).tobytes()
    audio = decode_wav(wav_bytes(stereo, rate=16000, channels=2))
    out = np.frombuffer(audio.pcm, "<i2").astype(float)
    assert len(out) == 4000 and audio.source_rate == 16000
    # The 440 Hz tone survives with its level.
    assert 6000 < np.sqrt(np.mean(out[200:-200] ** 2)) < 8000


def test_high_frequencies_are_filtered_before_downsampling() -> None:
    # 7 kHz at 22.05 kHz would alias into the telephone band without the low-pass.
    audio = decode_wav(wav_bytes(tone(22050, freq=7000).tobytes(), rate=22050))
    out = np.frombuffer(audio.pcm, "<i2").astype(float)
    assert np.sqrt(np.mean(out[200:-200] ** 2)) < 1500


def test_float_and_alaw_formats() -> None:
    floats = (tone(8000) / 32768.0).astype("<f4").tobytes()
    assert decode_wav(wav_bytes(floats, rate=8000, bits=32, tag=3)).source_format == "float32"
    assert decode_wav(wav_bytes(bytes(800), rate=8000, bits=8, tag=6)).seconds == 0.1


@pytest.mark.parametrize(("data", "message"), [
    (b"not a wav at all", "not a RIFF/WAVE"),
    (wav_bytes(bytes(100), rate=8000, bits=16, tag=2), "unsupported WAV encoding"),
])
def test_bad_input_says_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        decode_wav(data)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="cannot read"):
        read_wav(tmp_path / "none.wav")


def test_warmup_signal_is_deterministic_speech_band_audio() -> None:
    first = speechlike(1.0)
    assert first == speechlike(1.0) and len(first) == 16000
