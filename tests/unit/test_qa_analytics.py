"""Both analytics tiers with the real Mandarin model on a stereo call built from the labelled
development clips placed at known times (caller left, agent right)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.asr import model
from app.asr.audio import read_wav
from app.config import Settings
from app.qa.analytics import Analyzer, QuickAnalysis
from app.qa.analytics_queue import AnalyticsQueue, JobOutcome, Tier
from app.qa.keywords import KeywordError, parse_keywords
from app.qa.stereo import write_stereo
from tests.data import SPEECH

RATE = 8000
SECONDS = 16.0
TOLERANCE = 0.2
# (channel, start second, clip): who says what when.
SCRIPT = [
    ("agent", 0.5, "051"),  # 你好请问在吗
    ("caller", 3.0, "032"),  # 我要投诉列车员服务态度差
    ("agent", 7.0, "011"),  # 退票手续费是多少
    ("caller", 9.5, "007"),  # 我想退票
    ("caller", 12.0, "049"),  # 今天天气怎么样 (no keyword)
    ("agent", 12.6, "054"),  # 嗯 (said over the caller)
]


def clip(name: str) -> np.ndarray:
    return np.frombuffer(read_wav(SPEECH / "pcm8k" / f"{name}.wav").pcm, "<i2")


def voiced(samples: np.ndarray) -> tuple[int, int]:
    """First and last sample of a clip above -50 dBFS: the clips are speech between
    digital silence, so this is where the voice is."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 100)
    return int(loud[0]), int(loud[-1]) + 1


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """The stereo file and, per channel, the truth: which samples carry voice."""
    n = int(SECONDS * RATE)
    audio = {"caller": np.zeros(n, np.int16), "agent": np.zeros(n, np.int16)}
    truth = {"caller": np.zeros(n, bool), "agent": np.zeros(n, bool)}
    for side, start, name in SCRIPT:
        samples = clip(name)
        a = int(start * RATE)
        audio[side][a:a + len(samples)] = samples
        first, last = voiced(samples)
        truth[side][a + first:a + last] = True
    path = tmp_path_factory.mktemp("qa") / "call.wav"
    write_stereo(path, audio["caller"], audio["agent"])
    return path, truth


@pytest.fixture(scope="module")
def analyzer() -> Iterator[Analyzer]:
    yield Analyzer(model_dir=model.install(), warmup_seconds=1.0)


def longest_run(mask: np.ndarray) -> int:
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int(max((b - a for a, b in zip(edges[::2], edges[1::2], strict=True)), default=0))


def test_activity_of_a_spoken_call_is_within_a_fifth_of_a_second(
        call: tuple[Path, dict[str, np.ndarray]], analyzer: Analyzer) -> None:
    path, truth = call
    result = analyzer.quick(path)
    caller, agent = truth["caller"], truth["agent"]
    silent = ~caller & ~agent
    assert result.duration_seconds == pytest.approx(SECONDS, abs=0.01)
    assert result.caller.talk_seconds == pytest.approx(caller.sum() / RATE, abs=TOLERANCE)
    assert result.agent.talk_seconds == pytest.approx(agent.sum() / RATE, abs=TOLERANCE)
    assert result.overtalk_seconds == pytest.approx((caller & agent).sum() / RATE,
                                                    abs=TOLERANCE)
    assert (caller & agent).sum() / RATE > 0.2  # the script does talk over
    assert result.silence_seconds == pytest.approx(silent.sum() / RATE, abs=TOLERANCE)
    assert result.longest_silence_seconds == pytest.approx(longest_run(silent) / RATE,
                                                           abs=TOLERANCE)
    assert result.silence_pct == pytest.approx(100 * silent.mean(), abs=1.5)
    assert len(result.caller.spans) == 3 and len(result.agent.spans) == 3


def test_keywords_are_found_on_the_channel_that_said_them(
        call: tuple[Path, dict[str, np.ndarray]], analyzer: Analyzer) -> None:
    result = analyzer.quick(call[0])
    found = [(h.keyword, h.channel) for h in result.keywords]
    assert found == [("投诉", "caller"), ("态度", "caller"), ("退票", "agent"),
                     ("退票", "caller")]
    refund = next(h for h in result.keywords if h.channel == "agent")
    # 退票手续费是多少 starts at 7.0 s: 退票 is its first word.
    assert 7.0 <= refund.start < refund.end <= 7.0 + 1.0
    caller_refund = next(h for h in result.keywords if h.keyword == "退票"
                         and h.channel == "caller")
    assert 9.5 <= caller_refund.start < caller_refund.end <= 9.5 + len(clip("007")) / RATE
    # Nothing is "heard" in the off-topic question at 12 s.
    assert all(h.start < 12.0 for h in result.keywords)


def test_the_keyword_list_is_configurable(call: tuple[Path, dict[str, np.ndarray]]) -> None:
    own = Analyzer(parse_keywords("keywords: [手续费, 天气]\n"), model_dir=model.install(),
                   warmup_seconds=1.0)
    hits = own.quick(call[0]).keywords
    assert [(h.keyword, h.channel) for h in hits] == [("手续费", "agent"), ("天气", "caller")]


def test_paused_spans_are_left_out(call: tuple[Path, dict[str, np.ndarray]],
                                   analyzer: Analyzer) -> None:
    whole = analyzer.quick(call[0])
    paused = analyzer.quick(call[0], pauses=[(9.0, 11.0)])  # the caller's 我想退票
    assert paused.counted_seconds == pytest.approx(SECONDS - 2.0, abs=0.05)
    assert paused.caller.talk_seconds < whole.caller.talk_seconds - 0.5
    assert ("退票", "caller") not in [(h.keyword, h.channel) for h in paused.keywords]


def test_full_transcription_gives_timed_text_per_channel(
        call: tuple[Path, dict[str, np.ndarray]], analyzer: Analyzer) -> None:
    result = analyzer.transcribe(call[0])
    assert "投诉" in result.text("caller") and "退票" in result.text("caller")
    assert "退票" in result.text("agent") and "投诉" not in result.text("agent")
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    complaint = next(s for s in result.segments if "投诉" in s.text)
    assert complaint.channel == "caller"
    assert 3.0 <= complaint.start < complaint.end <= 3.0 + len(clip("032")) / RATE
    assert all(s.start <= w.start < w.end <= s.end + 0.01 for s in result.segments
               for w in s.words)


def test_recognisers_are_kept_per_thread(analyzer: Analyzer) -> None:
    import threading

    here = analyzer.recognizer("keywords")
    assert analyzer.recognizer("keywords") is here
    other: list[object] = []
    worker = threading.Thread(target=lambda: other.append(analyzer.recognizer("keywords")))
    worker.start()
    worker.join()
    assert other and other[0] is not here
    with pytest.raises(KeyError, match="unknown analytics recogniser 'intent'"):
        analyzer.recognizer("intent")


def test_an_empty_recording_gives_zeros_not_an_error(tmp_path: Path,
                                                     analyzer: Analyzer) -> None:
    empty = np.zeros(0, np.int16)
    write_stereo(tmp_path / "empty.wav", empty, empty)
    quick = analyzer.quick(tmp_path / "empty.wav")
    assert (quick.duration_seconds, quick.silence_pct, quick.keywords) == (0.0, 0.0, ())
    assert analyzer.transcribe(tmp_path / "empty.wav").segments == ()


async def test_queue_runs_both_tiers_and_reports_bad_files(
        call: tuple[Path, dict[str, np.ndarray]], analyzer: Analyzer, tmp_path: Path) -> None:
    outcomes: list[JobOutcome] = []
    queue = AnalyticsQueue(analyzer, outcomes.append)
    await queue.start()
    try:
        queue.submit(41, call[0])
        queue.request_transcript(41, call[0])
        queue.submit(42, tmp_path / "gone.wav")
        assert queue.backlog == 3
        await queue.join()
    finally:
        await queue.stop()
    by_job = {(o.job.recording_id, o.job.tier): o for o in outcomes}
    # The transcript QA is waiting for went first.
    assert (outcomes[0].job.recording_id, outcomes[0].job.tier) == ("41", Tier.FULL)
    quick = by_job[("41", Tier.QUICK)].result
    assert isinstance(quick, QuickAnalysis) and quick.keywords
    failed = by_job[("42", Tier.QUICK)]
    assert failed.result is None and failed.error is not None and "gone.wav" in failed.error
    assert queue.backlog == 0 and queue.stats()["failed"] == 1


async def test_the_platforms_queue_refuses_a_keyword_the_model_cannot_hear(
        tmp_path: Path) -> None:
    keywords = tmp_path / "keywords.yaml"
    keywords.write_text("keywords: [投诉, QA]\n", encoding="utf-8")
    settings = Settings(qa_keywords_file=keywords, qa_transcribe_sample=0.25)
    queue = AnalyticsQueue.from_settings(settings, lambda o: None)
    assert queue.sample_full == 0.25 and queue.workers == 1
    with pytest.raises(KeywordError, match="does not know: 'QA'"):
        await queue.start()
    await queue.stop()
