"""A finished, recorded call stored the way the platform stores one: the call's trace closed
into its record (app.services.call_records), a queue entry and an answered agent leg, the PBX's
raw stereo samples finalised into a verified WAV (app.recordings.recorder.finalise) and speech
analytics stored by the platform's result handler. For the QA page's and API's tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from app.acd import agents as agent_svc
from app.config import Settings
from app.core.calltrace import CallTrace, EndedBy
from app.db.models import (
    AgentLeg,
    AgentLegResult,
    CallOutcome,
    QueueEntry,
    QueueResult,
    Recording,
    RecordingSegment,
    RecordingStatus,
)
from app.db.session import Database
from app.qa.activity import Span
from app.qa.analytics import (
    ChannelActivity,
    KeywordHit,
    QuickAnalysis,
    Transcription,
    TranscriptSegment,
)
from app.qa.analytics_queue import AnalyticsJob, JobOutcome, Tier
from app.recordings.analysis import RecordingAnalytics
from app.recordings.recorder import finalise
from app.services import call_records

RATE = 8000
SECONDS = 10.0
# Who talks when (seconds into the recording): caller on the left, agent on the right.
CALLER_TALKS = ((0.5, 2.5), (6.5, 8.5))
AGENT_TALKS = ((2.8, 4.8), (8.6, 9.6))
PAUSE = (5.0, 6.0)
HOLD = (3.0, 4.0)  # the agent held the caller (trace steps hold / unhold)
TRANSCRIPT = (("caller", 0.5, 2.5, "我想退票"), ("agent", 2.8, 4.8, "好的请您稍等"),
              ("caller", 6.5, 8.5, "谢谢你"))
KEYWORD = ("退票", "caller", 1.0, 1.6)


@dataclass(frozen=True)
class RecordedCall:
    call_id: str
    recording_id: int
    agent: str  # 工号
    queue: str


def stereo(left: np.ndarray, right: np.ndarray) -> bytes:
    frames = np.empty(left.size * 2, dtype="<i2")
    frames[0::2], frames[1::2] = left, right
    return frames.tobytes()


def talk(spans: tuple[tuple[float, float], ...], amplitude: int, hz: float) -> np.ndarray:
    """A tone where the side talks, silence elsewhere."""
    n = int(SECONDS * RATE)
    out = np.zeros(n, dtype="<i2")
    t = np.arange(n) / RATE
    for start, end in spans:
        span = (t >= start) & (t < end)
        out[span] = (amplitude * np.sin(2 * np.pi * hz * t[span])).astype("<i2")
    return out


async def make_agent(db: Database, center: str = "北京") -> str:
    number = str(100000 + uuid.uuid4().int % 900000)
    async with db.session() as session:
        await agent_svc.create_agent(session, number, name="质检回放", center=center,
                                     password="pass-1234")
        await session.commit()
    return number


async def record_call(db: Database, settings: Settings, queue: str = "ticket",
                      agent: str | None = None, audio: bool = True,
                      transcript: bool = True) -> RecordedCall:
    """A call ten minutes ago: IVR menu, a queue wait, an agent rung and connected, a hold,
    a recording pause, a transfer, the caller hanging up; 10 s of stereo recording, analysed
    and transcribed (audio=False: the PBX wrote nothing, the recording is `missing`)."""
    number = agent or await make_agent(db)
    call_id = "qa-" + uuid.uuid4().hex[:12]
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    rec_start = t0 + timedelta(seconds=9)

    def epoch(moment: datetime) -> float:
        return moment.timestamp()

    def on_rec(seconds: float) -> float:
        return epoch(rec_start + timedelta(seconds=seconds))

    trace = CallTrace(call_id=call_id, caller="13800138000", called="12306",
                      started_at=epoch(t0))
    trace.answered_at = epoch(t0) + 0.2
    trace.ended_at = on_rec(SECONDS)
    trace.steps = [
        {"t": epoch(t0) + 0.2, "kind": "answered"},
        {"t": epoch(t0) + 0.5, "kind": "node", "node": "main"},
        {"t": epoch(t0) + 1.0, "kind": "prompt", "prompt": "main_menu", "lang": "zh"},
        {"t": epoch(t0) + 4.0, "kind": "choice", "prompt": "main_menu", "key": "1",
         "to": "ticket"},
        {"t": epoch(t0) + 5.0, "kind": "enqueue", "queue": queue, "reason": "menu"},
        {"t": on_rec(HOLD[0]), "kind": "hold", "agent": number},
        {"t": on_rec(HOLD[1]), "kind": "unhold", "agent": number},
        {"t": on_rec(9.7), "kind": "transfer", "queue": "refund"},
        {"t": on_rec(SECONDS), "kind": "hangup", "event": "ChannelHangupRequest"},
    ]
    async with db.session() as session:
        await call_records.open_call(session, trace)
        await call_records.close_call(session, trace, language="zh", priority=False,
                                      outcome=CallOutcome.TRANSFERRED, reason=f"queue {queue}",
                                      ended_by=EndedBy.CALLER)
        agent_row = await agent_svc.get_agent(session, number)
        entry = QueueEntry(call_id=call_id, queue=queue, priority=False, reason="menu",
                           entered_at=t0 + timedelta(seconds=5), left_at=rec_start,
                           result=QueueResult.CONNECTED, wait_seconds=4.0,
                           answered_at=rec_start, center_id=agent_row.center_id)
        session.add(entry)
        await session.flush()
        leg = AgentLeg(call_id=call_id, queue_entry_id=entry.id, agent_id=agent_row.id,
                       ring_at=t0 + timedelta(seconds=7), answer_at=rec_start,
                       end_at=rec_start + timedelta(seconds=SECONDS),
                       result=AgentLegResult.ANSWERED, talk_seconds=SECONDS - 1,
                       hold_seconds=HOLD[1] - HOLD[0], wrap_up_seconds=5.0)
        session.add(leg)
        await session.flush()
        raw = settings.pbx_spool / "monitor" / f"{call_id}.raw"
        raw.parent.mkdir(parents=True, exist_ok=True)
        if audio:
            raw.write_bytes(stereo(talk(CALLER_TALKS, 8000, 440.0),
                                   talk(AGENT_TALKS, 12000, 660.0)))
        rec = Recording(call_id=call_id, queue=queue, center_id=agent_row.center_id,
                        status=RecordingStatus.RECORDING, raw_path=str(raw),
                        started_at=rec_start, pauses=[])
        session.add(rec)
        await session.flush()
        session.add(RecordingSegment(recording_id=rec.id, leg_id=leg.id, agent_id=agent_row.id,
                                     start_offset=0.0, end_offset=None))
        await session.commit()
        rec_id = rec.id
    await finalise(settings, db, rec_id, pauses=[list(PAUSE)])
    if audio:
        await _store_analyses(db, settings, rec_id, transcript)
    return RecordedCall(call_id, rec_id, number, queue)


async def _store_analyses(db: Database, settings: Settings, rec_id: int,
                          transcript: bool) -> None:
    """What the analytics tiers would find in this audio, stored by the platform's handler."""
    def activity(name: str, spans: tuple[tuple[float, float], ...]) -> ChannelActivity:
        seconds = sum(b - a for a, b in spans)
        return ChannelActivity(name, round(seconds, 2), round(100 * seconds / SECONDS, 1),
                               tuple(Span(a, b) for a, b in spans))

    word, channel, start, end = KEYWORD
    quick = QuickAnalysis(
        duration_seconds=SECONDS, counted_seconds=SECONDS - (PAUSE[1] - PAUSE[0]),
        caller=activity("caller", CALLER_TALKS), agent=activity("agent", AGENT_TALKS),
        silence_seconds=2.0, silence_pct=22.2, overtalk_seconds=0.0, overtalk_pct=0.0,
        longest_silence_seconds=1.7,
        keywords=(KeywordHit(word, channel, start, end, word, 0.93),), cpu_seconds=0.1)
    full = Transcription(SECONDS, tuple(TranscriptSegment(c, a, b, text)
                                        for c, a, b, text in TRANSCRIPT), 0.5)
    analytics = RecordingAnalytics(settings, db)
    wav = settings.state_dir / "unused.wav"
    await analytics._store(JobOutcome(AnalyticsJob(str(rec_id), wav, Tier.QUICK), quick))
    if transcript:
        await analytics._store(JobOutcome(AnalyticsJob(str(rec_id), wav, Tier.FULL), full))
