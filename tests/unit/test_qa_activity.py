"""Voice activity and conversation measures on synthetic stereo calls with known spans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.asr.vocab import Vocabulary
from app.qa.activity import mask_of, measure, spans_of, speech_mask
from app.qa.keywords import (
    DEFAULT_KEYWORDS_FILE,
    KeywordError,
    TimedWord,
    find_phrases,
    load_keywords,
    parse_keywords,
    phrases_for,
)
from app.qa.stereo import RecordingFormatError, read_stereo, write_stereo

RATE = 8000
TOLERANCE = 0.2


def tone(seconds: float, freq: float = 300.0, level: float = 6000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    # A syllable-like envelope (4 per second) so the detector sees speech-like level swings.
    envelope = 0.55 + 0.45 * np.abs(np.sin(np.pi * 4 * t))
    return level * envelope * np.sin(2 * np.pi * freq * t)


def channel(seconds: float, spans: list[tuple[float, float]], noise_dbfs: float | None = None,
            seed: int = 1) -> np.ndarray:
    out = np.zeros(int(seconds * RATE))
    if noise_dbfs is not None:
        rng = np.random.default_rng(seed)
        out += rng.normal(0, 32768 * 10 ** (noise_dbfs / 20), len(out))
    for start, end in spans:
        a = int(start * RATE)
        out[a:a + int((end - start) * RATE)] += tone(end - start)
    return np.clip(out, -32768, 32767).astype(np.int16)


# A 20 s call: the agent greets, the caller answers, both talk at once for 1 s, a 4 s hold of
# dead air, then short turns.
CALLER = [(3.0, 7.0), (14.0, 15.5)]
AGENT = [(0.5, 2.5), (6.0, 9.0), (13.0, 14.0), (16.0, 19.0)]
TRUTH = {"caller": 5.5, "agent": 9.0, "overtalk": 1.0, "silence": 20 - 13.5, "longest": 4.0}


def check(conv, truth: dict[str, float]) -> None:
    assert conv.caller_talk_seconds == pytest.approx(truth["caller"], abs=TOLERANCE)
    assert conv.agent_talk_seconds == pytest.approx(truth["agent"], abs=TOLERANCE)
    assert conv.overtalk_seconds == pytest.approx(truth["overtalk"], abs=TOLERANCE)
    assert conv.silence_seconds == pytest.approx(truth["silence"], abs=TOLERANCE)
    assert conv.longest_silence_seconds == pytest.approx(truth["longest"], abs=TOLERANCE)


def test_talk_silence_and_overtalk_match_the_known_spans() -> None:
    conv = measure(speech_mask(channel(20, CALLER)), speech_mask(channel(20, AGENT)))
    check(conv, TRUTH)
    assert conv.counted_seconds == pytest.approx(20.0, abs=0.02)
    assert conv.pct(conv.silence_seconds) == pytest.approx(32.5, abs=1.0)


def test_threshold_follows_each_lines_noise_floor() -> None:
    # A hissy caller line (-45 dBFS) and a quiet agent line: hiss is not talk.
    caller = channel(20, CALLER, noise_dbfs=-45.0)
    agent = channel(20, AGENT, noise_dbfs=-70.0, seed=2)
    check(measure(speech_mask(caller), speech_mask(agent)), TRUTH)


def test_spans_are_found_where_the_party_speaks() -> None:
    spans = spans_of(speech_mask(channel(20, AGENT)))
    assert len(spans) == len(AGENT)
    for found, (start, end) in zip(spans, AGENT, strict=True):
        assert found.start == pytest.approx(start, abs=TOLERANCE)
        assert found.end == pytest.approx(end, abs=TOLERANCE)


def test_paused_spans_count_neither_as_talk_nor_silence() -> None:
    caller, agent = speech_mask(channel(20, CALLER)), speech_mask(channel(20, AGENT))
    paused = mask_of([(9.0, 13.0)], len(caller))  # the dead air was a paused recording
    conv = measure(caller & ~paused, agent & ~paused, paused)
    assert conv.counted_seconds == pytest.approx(16.0, abs=0.02)
    assert conv.silence_seconds == pytest.approx(TRUTH["silence"] - 4.0, abs=TOLERANCE)
    assert conv.longest_silence_seconds == pytest.approx(1.0, abs=TOLERANCE)


def test_stereo_round_trip_keeps_caller_left_and_agent_right(tmp_path: Path) -> None:
    caller, agent = channel(2, [(0.2, 1.0)]), channel(2, [(1.0, 1.8)])
    write_stereo(tmp_path / "call.wav", caller, agent)
    call = read_stereo(tmp_path / "call.wav")
    assert np.array_equal(call.caller, caller) and np.array_equal(call.agent, agent)
    assert call.seconds == pytest.approx(2.0)


def test_recordings_of_another_shape_are_refused_clearly(tmp_path: Path) -> None:
    import wave

    mono = tmp_path / "mono.wav"
    with wave.open(str(mono), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * 1600)
    with pytest.raises(RecordingFormatError, match=r"1 channel.*16000 Hz.*expected an 8000 Hz"):
        read_stereo(mono)
    with pytest.raises(RecordingFormatError, match="no such recording file"):
        read_stereo(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    with pytest.raises(RecordingFormatError, match="not a readable PCM WAV"):
        read_stereo(tmp_path / "junk.wav")


def test_default_keyword_list_loads() -> None:
    names = [k.name for k in load_keywords(DEFAULT_KEYWORDS_FILE)]
    assert names == ["投诉", "态度", "退票", "12306"]


@pytest.mark.parametrize(("text", "message"), [
    ("keywords: [投诉\n", r":\d+: not valid YAML"),
    ("words: [投诉]\n", "expected `keywords:`"),
    ("keywords: []\n", "expected `keywords:`"),
    ("keywords: [投诉, 投诉]\n", "listed twice: 投诉"),
    ("keywords:\n  - name: x\n    say: ['  ']\n", "a spoken form is empty"),
])
def test_bad_keyword_lists_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(KeywordError, match=message):
        parse_keywords(text, "kw.yaml")


VOCAB = Vocabulary(["我", "要", "投诉", "幺", "二三", "零六", "一二三", "退票"])


def test_keywords_outside_the_model_vocabulary_are_refused() -> None:
    keywords = parse_keywords("keywords: [投诉, 质检员]\n")
    with pytest.raises(KeywordError, match="does not know: '质检员'"):
        phrases_for(keywords, VOCAB)


def words(*tokens: str) -> list[TimedWord]:
    return [TimedWord(t, i * 0.5, i * 0.5 + 0.4, 1.0) for i, t in enumerate(tokens)]


def test_a_phrase_is_its_words_in_a_row() -> None:
    phrases = phrases_for(parse_keywords(
        "keywords:\n  - 投诉\n  - 幺\n  - name: '12306'\n    say: [幺二三零六, 一二三零六]\n"),
        VOCAB)
    found = find_phrases(words("我", "要", "幺", "二三", "零六", "投诉", "幺", "二三"), phrases)
    assert [(m.phrase.keyword, m.first, m.last) for m in found] == [
        ("12306", 2, 4), ("投诉", 5, 5), ("幺", 6, 6)]
