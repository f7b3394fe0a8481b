"""Background work queue for speech analytics: recordings in, results out through a callback.

The platform submits (recording id, WAV path) when a call's recording is final and gets each
result through `on_result`; storing it is the platform's business. Jobs never run in the call
path: asyncio worker tasks hand the CPU work to their own threads (Vosk and numpy release the
GIL), run at a lower CPU priority than live calls, and can be held back while the platform is
busy (`hold`) so the backlog drains when calls are quiet. On-demand transcriptions (QA has the
call open) go ahead of the backlog and are never held back.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import inspect
import itertools
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from app.config import Settings
from app.qa.analytics import Analyzer, QuickAnalysis, Transcription
from app.qa.keywords import load_keywords

log = logging.getLogger(__name__)

# Analytics threads yield the CPU to live calls (speech recognition, media) on the same node.
WORKER_NICENESS = 10


class Tier(StrEnum):
    QUICK = "quick"  # voice activity and keywords, every call
    FULL = "full"  # free transcription with word times, on demand or sampled


class Analyses(Protocol):
    """What the queue runs: app.qa.analytics.Analyzer."""

    def quick(self, wav: Path, pauses: Sequence[tuple[float, float]] = ()) -> QuickAnalysis: ...

    def transcribe(self, wav: Path) -> Transcription: ...


@dataclass(frozen=True)
class AnalyticsJob:
    recording_id: str
    wav: Path
    tier: Tier
    pauses: tuple[tuple[float, float], ...] = ()
    urgent: bool = False
    submitted: float = field(default_factory=time.monotonic, compare=False)


@dataclass(frozen=True)
class JobOutcome:
    job: AnalyticsJob
    result: QuickAnalysis | Transcription | None
    error: str | None = None  # what went wrong, for the log and the recording's page
    waited_seconds: float = 0.0


ResultHandler = Callable[[JobOutcome], Awaitable[None] | None]


def sampled(recording_id: str, fraction: float) -> bool:
    """Whether a recording falls in the transcribed sample; stable for a given id."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(recording_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") < fraction * 2**32


def _lower_priority() -> None:
    try:  # Linux applies niceness per thread
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
    except (OSError, AttributeError):
        log.debug("could not lower the analytics thread's CPU priority")


class AnalyticsQueue:
    """Call `start()` once on the running loop, `submit()` per recording, `stop()` at exit.

    analyzer: an Analyzer, or a function making one (it loads the model, so it runs in a
    thread at start). workers: jobs analysed at once. sample_full: fraction of recordings that
    also get a background full transcription. hold: polled before each background job; while
    it returns True (e.g. many live calls) background jobs wait."""

    def __init__(self, analyzer: Analyses | Callable[[], Analyses], on_result: ResultHandler, *,
                 workers: int = 1, sample_full: float = 0.0,
                 hold: Callable[[], bool] | None = None, hold_poll_seconds: float = 1.0) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if not 0.0 <= sample_full <= 1.0:
            raise ValueError(f"sample_full is a fraction between 0 and 1, not {sample_full}")
        self._analyzer_source = analyzer
        self._analyzer: Analyses | None = None
        self.on_result = on_result
        self.workers = workers
        self.sample_full = sample_full
        self.hold = hold
        self.hold_poll_seconds = hold_poll_seconds
        self._heap: list[tuple[int, int, AnalyticsJob]] = []
        self._latest: dict[tuple[str, Tier], int] = {}  # queued job -> its live heap entry
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self.done = 0
        self.failed = 0

    @classmethod
    def from_settings(cls, settings: Settings, on_result: ResultHandler, *,
                      hold: Callable[[], bool] | None = None) -> AnalyticsQueue:
        """The platform's queue: keyword list, workers and sample from the settings. The
        keyword list and the model are loaded by start(), which raises on a bad list."""
        keywords_file = settings.qa_keywords_file
        return cls(lambda: Analyzer(load_keywords(keywords_file)), on_result,
                   workers=settings.qa_analytics_workers,
                   sample_full=settings.qa_transcribe_sample, hold=hold)

    @property
    def backlog(self) -> int:
        """Recordings waiting or being analysed (each tier counted)."""
        return len(self._latest) + self._running

    def stats(self) -> dict[str, int]:
        waiting = {tier: sum(1 for _, t in self._latest if t == tier) for tier in Tier}
        return {"backlog": self.backlog, "running": self._running,
                "waiting_quick": waiting[Tier.QUICK], "waiting_full": waiting[Tier.FULL],
                "done": self.done, "failed": self.failed}

    async def start(self) -> None:
        if self._tasks:
            return
        source = self._analyzer_source
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="qa-analytics",
                                            initializer=_lower_priority)
        loop = asyncio.get_running_loop()
        if callable(source) and not hasattr(source, "quick"):
            self._analyzer = await loop.run_in_executor(self._executor, source)
        else:
            self._analyzer = source  # type: ignore[assignment]
        self._tasks = [asyncio.create_task(self._work(), name=f"qa-analytics-{i}")
                       for i in range(self.workers)]

    async def stop(self) -> list[AnalyticsJob]:
        """Stop the workers; returns the jobs that were still waiting (not analysed)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        left = [job for _, seq, job in sorted(self._heap)
                if self._latest.get((job.recording_id, job.tier)) == seq]
        self._heap.clear()
        self._latest.clear()
        self._idle.set()
        return left

    def submit(self, recording_id: str | int, wav: Path, tier: Tier = Tier.QUICK, *,
               pauses: Sequence[tuple[float, float]] = (), urgent: bool = False) -> bool:
        """Queue a recording; False when the same analysis is already waiting (an urgent
        request still moves it ahead). A quick job of a sampled recording also queues a
        background full transcription."""
        job = AnalyticsJob(str(recording_id), Path(wav), tier, tuple(pauses), urgent)
        added = self._push(job)
        if tier == Tier.QUICK and sampled(job.recording_id, self.sample_full):
            self._push(AnalyticsJob(job.recording_id, job.wav, Tier.FULL))
        return added

    def request_transcript(self, recording_id: str | int, wav: Path) -> bool:
        """QA opened a call: transcribe it ahead of the backlog."""
        return self.submit(recording_id, wav, Tier.FULL, urgent=True)

    def _push(self, job: AnalyticsJob) -> bool:
        key = (job.recording_id, job.tier)
        if key in self._latest:
            if not job.urgent:
                return False
            queued = next(j for _, s, j in self._heap if s == self._latest[key])
            if queued.urgent:
                return False
        seq = next(self._seq)
        heapq.heappush(self._heap, (0 if job.urgent else 1, seq, job))
        self._latest[key] = seq  # an older entry for the key is now stale
        self._idle.clear()
        self._wakeup.set()
        return True

    def _pop(self) -> AnalyticsJob | None:
        """The next live job, skipping stale entries; held-back background work stays."""
        while self._heap:
            _, seq, job = self._heap[0]
            if self._latest.get((job.recording_id, job.tier)) != seq:
                heapq.heappop(self._heap)
                continue
            if not job.urgent and self.hold is not None and self.hold():
                return None
            heapq.heappop(self._heap)
            del self._latest[(job.recording_id, job.tier)]
            return job
        return None

    async def _work(self) -> None:
        while True:
            job = self._pop()
            if job is None:
                # No await between the empty pop and clear(): a submit cannot be missed.
                self._wakeup.clear()
                timeout = self.hold_poll_seconds if self._heap else None
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout)
                except TimeoutError:
                    pass
                continue
            self._running += 1
            try:
                outcome = await self._run(job)
                await self._deliver(outcome)
            finally:
                self._running -= 1
                if not self._latest and not self._running:
                    self._idle.set()

    async def _run(self, job: AnalyticsJob) -> JobOutcome:
        analyzer = self._analyzer
        assert analyzer is not None and self._executor is not None
        waited = round(time.monotonic() - job.submitted, 3)
        loop = asyncio.get_running_loop()
        try:
            if job.tier == Tier.QUICK:
                result: QuickAnalysis | Transcription = await loop.run_in_executor(
                    self._executor, analyzer.quick, job.wav, job.pauses)
            else:
                result = await loop.run_in_executor(self._executor, analyzer.transcribe,
                                                    job.wav)
        except Exception as exc:  # a bad file must not stop the queue
            self.failed += 1
            log.warning("recording %s: %s analysis failed: %s", job.recording_id, job.tier, exc)
            return JobOutcome(job, None, f"{type(exc).__name__}: {exc}", waited)
        self.done += 1
        return JobOutcome(job, result, None, waited)

    async def _deliver(self, outcome: JobOutcome) -> None:
        try:
            returned = self.on_result(outcome)
            if inspect.isawaitable(returned):
                await returned
        except Exception:
            log.exception("recording %s: storing the %s analysis failed",
                          outcome.job.recording_id, outcome.job.tier)

    async def join(self) -> None:
        """Wait until nothing is waiting or running."""
        await self._idle.wait()
