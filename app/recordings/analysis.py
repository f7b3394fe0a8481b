"""Recordings to speech analytics and back: every finalised recording is queued for the quick
tier (voice activity, keywords), QA asks for transcripts; results are stored per recording and
tier, searchable by keyword and transcript text. The work runs in the analytics queue's
low-priority threads, never in a call's path."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select

from app.config import Settings
from app.core.clock import now
from app.db.models import Recording, RecordingAnalysis, RecordingStatus
from app.db.session import Database
from app.qa.analytics import QuickAnalysis, Transcription
from app.qa.analytics_queue import AnalyticsQueue, JobOutcome, Tier
from app.recordings.recorder import recordings_dir

log = logging.getLogger(__name__)


class RecordingAnalytics:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.queue = AnalyticsQueue.from_settings(settings, self._store)

    async def start(self) -> None:
        """Load the model, then queue the recordings not analysed yet (the backlog of a
        previous run)."""
        await self.queue.start()
        async with self.db.session() as session:
            done = select(RecordingAnalysis.recording_id).where(
                RecordingAnalysis.tier == Tier.QUICK.value)
            for rec in await session.scalars(select(Recording).where(
                    Recording.status.in_([RecordingStatus.READY, RecordingStatus.PARTIAL]),
                    Recording.id.not_in(done)).order_by(Recording.id)):
                self.submit(rec)

    async def stop(self) -> None:
        left = await self.queue.stop()
        if left:
            log.info("%d recordings left for analysis at the next start", len(left))

    def wav_of(self, rec: Recording) -> Path | None:
        return recordings_dir(self.settings) / rec.path if rec.path else None

    def submit(self, rec: Recording, tier: Tier = Tier.QUICK, urgent: bool = False) -> bool:
        wav = self.wav_of(rec)
        if wav is None:
            return False
        pauses = [(float(a), float(b)) for a, b in rec.pauses or []]
        return self.queue.submit(rec.id, wav, tier, pauses=pauses, urgent=urgent)

    async def _store(self, outcome: JobOutcome) -> None:
        job, result = outcome.job, outcome.result
        keywords, text = "", ""
        if isinstance(result, QuickAnalysis):
            keywords = " ".join(dict.fromkeys(hit.keyword for hit in result.keywords))
        elif isinstance(result, Transcription):
            text = " ".join(s.text for s in result.segments)
        async with self.db.session() as session:
            row = await session.scalar(select(RecordingAnalysis).where(
                RecordingAnalysis.recording_id == int(job.recording_id),
                RecordingAnalysis.tier == job.tier.value))
            if row is None:
                row = RecordingAnalysis(recording_id=int(job.recording_id),
                                        tier=job.tier.value)
                session.add(row)
            row.result = result.as_json() if result is not None else None
            row.keywords, row.text = keywords[:400], text
            row.error = outcome.error[:300] if outcome.error else None
            row.at = now()
            await session.commit()
        if outcome.error:
            log.warning("analysis of recording %s failed: %s", job.recording_id, outcome.error)
