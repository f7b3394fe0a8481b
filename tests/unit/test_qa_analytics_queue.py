"""The analytics queue's ordering, holding back, de-duplication and failure handling, with a
stand-in analyzer (the real one is exercised in test_qa_analytics.py)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.qa.analytics import QuickAnalysis, Transcription
from app.qa.analytics_queue import (
    WORKER_NICENESS,
    AnalyticsQueue,
    JobOutcome,
    Tier,
    sampled,
)


class FakeAnalyzer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.threads: set[str] = set()
        self.niceness: set[int] = set()
        self.gate = threading.Event()
        self.gate.set()

    def _record(self, tier: str, wav: Path) -> None:
        self.gate.wait(10)
        self.threads.add(threading.current_thread().name)
        self.niceness.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        if wav.name == "broken.wav":
            raise ValueError("broken.wav: not a readable PCM WAV file")
        self.seen.append((tier, wav.stem))

    def quick(self, wav: Path, pauses: Sequence[tuple[float, float]] = ()) -> QuickAnalysis:
        self._record("quick", wav)
        return QuickAnalysis(1.0, 1.0, None, None, 0, 0, 0, 0, 0, (), 0.0)  # type: ignore[arg-type]

    def transcribe(self, wav: Path) -> Transcription:
        self._record("full", wav)
        return Transcription(1.0, (), 0.0)


async def test_jobs_run_in_worker_threads_and_results_reach_the_callback() -> None:
    fake = FakeAnalyzer()
    stored: list[JobOutcome] = []

    async def store(outcome: JobOutcome) -> None:
        stored.append(outcome)

    queue = AnalyticsQueue(lambda: fake, store)
    await queue.start()
    queue.submit(1, Path("a.wav"))
    await queue.join()
    await queue.stop()
    assert [(o.job.recording_id, o.job.tier) for o in stored] == [("1", Tier.QUICK)]
    assert isinstance(stored[0].result, QuickAnalysis) and stored[0].error is None
    assert fake.threads and all(t.startswith("qa-analytics") for t in fake.threads)
    # Live calls on the same node get the CPU first.
    assert min(fake.niceness) >= WORKER_NICENESS


async def test_transcripts_qa_waits_for_go_ahead_of_the_backlog() -> None:
    fake = FakeAnalyzer()
    fake.gate.clear()  # the first job blocks until everything is queued
    queue = AnalyticsQueue(fake, lambda o: None)
    await queue.start()
    queue.submit(1, Path("r1.wav"))
    await asyncio.sleep(0.05)
    queue.submit(2, Path("r2.wav"))
    queue.submit(3, Path("r3.wav"), Tier.FULL)
    queue.request_transcript(4, Path("r4.wav"))
    assert queue.backlog == 4 and queue.stats()["running"] == 1
    fake.gate.set()
    await queue.join()
    await queue.stop()
    assert fake.seen == [("quick", "r1"), ("full", "r4"), ("quick", "r2"), ("full", "r3")]


async def test_background_work_waits_while_held_but_transcripts_do_not() -> None:
    fake = FakeAnalyzer()
    busy = True
    queue = AnalyticsQueue(fake, lambda o: None, hold=lambda: busy, hold_poll_seconds=0.02)
    await queue.start()
    queue.submit(1, Path("r1.wav"))
    queue.request_transcript(2, Path("r2.wav"))
    for _ in range(100):
        if fake.seen:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert fake.seen == [("full", "r2")] and queue.backlog == 1
    busy = False
    await asyncio.wait_for(queue.join(), 5)
    await queue.stop()
    assert fake.seen == [("full", "r2"), ("quick", "r1")]


async def test_a_recording_waits_once_and_stop_hands_back_what_waited() -> None:
    fake = FakeAnalyzer()
    fake.gate.clear()
    queue = AnalyticsQueue(fake, lambda o: None)
    await queue.start()
    assert queue.submit(1, Path("r1.wav"))
    await asyncio.sleep(0.05)
    assert queue.submit(2, Path("r2.wav"))
    assert not queue.submit(2, Path("r2.wav"))
    assert queue.submit(2, Path("r2.wav"), Tier.FULL)
    assert queue.request_transcript(2, Path("r2.wav"))  # moves the waiting one ahead
    assert not queue.request_transcript(2, Path("r2.wav"))
    assert queue.stats() == {"backlog": 3, "running": 1, "waiting_quick": 1,
                             "waiting_full": 1, "done": 0, "failed": 0}
    left = await queue.stop()
    fake.gate.set()
    assert [(j.recording_id, j.tier, j.urgent) for j in left] == [
        ("2", Tier.FULL, True), ("2", Tier.QUICK, False)]
    assert queue.backlog == 0


async def test_failures_are_reported_and_the_queue_keeps_going() -> None:
    fake = FakeAnalyzer()
    stored: list[JobOutcome] = []

    def store(outcome: JobOutcome) -> None:
        stored.append(outcome)
        if outcome.job.recording_id == "2":
            raise RuntimeError("database is down")

    queue = AnalyticsQueue(fake, store)
    await queue.start()
    for rid, name in ((1, "broken"), (2, "r2"), (3, "r3")):
        queue.submit(rid, Path(f"{name}.wav"))
    await queue.join()
    await queue.stop()
    assert [o.job.recording_id for o in stored] == ["1", "2", "3"]
    assert stored[0].result is None and stored[0].error is not None
    assert "not a readable PCM WAV" in stored[0].error
    assert queue.stats()["failed"] == 1 and queue.stats()["done"] == 2


async def test_a_sample_of_recordings_is_also_transcribed() -> None:
    fake = FakeAnalyzer()
    queue = AnalyticsQueue(fake, lambda o: None, sample_full=0.5)
    await queue.start()
    ids = [str(i) for i in range(40)]
    for rid in ids:
        queue.submit(rid, Path(f"{rid}.wav"))
    await queue.join()
    await queue.stop()
    full = {stem for tier, stem in fake.seen if tier == "full"}
    assert full == {rid for rid in ids if sampled(rid, 0.5)}
    assert 5 < len(full) < 35
    assert not sampled("7", 0.0) and sampled("7", 1.0)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="workers"):
        AnalyticsQueue(FakeAnalyzer(), lambda o: None, workers=0)
    with pytest.raises(ValueError, match="fraction between 0 and 1"):
        AnalyticsQueue(FakeAnalyzer(), lambda o: None, sample_full=2)
