"""Recordings for QA staff, supervisors and the agents on them: search, metadata, audio (HTTP
Range), pause/resume while the call goes on; every listen and download is audited."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import Session, require, roles_doc
from app.api.errors import ApiError, documented
from app.api.schemas import QueryDatetime, UtcDatetime
from app.core.clock import as_utc
from app.db.models import (
    Agent,
    AgentLeg,
    CallOutcome,
    CallRecord,
    Center,
    Recording,
    RecordingAccess,
    RecordingAnalysis,
    RecordingSegment,
    RecordingStatus,
    Role,
)
from app.recordings import wavfile
from app.recordings.library import audit, file_of
from app.recordings.peaks import peaks
from app.recordings.recorder import RecordingError
from app.recordings.timeline import timeline
from app.services.auth import Principal

router = APIRouter(tags=["recordings"], responses=documented(401, 403))
# Ids are database integers: anything beyond is not found, not an error.
RecordingId = Annotated[int, Path(ge=1, le=2_147_483_647)]
READ = (Role.QA, Role.SUPERVISOR, Role.AGENT)  # agents: only the calls they were on
CONTROL = (Role.SUPERVISOR, Role.AGENT)  # pause/resume: the agent on the call, supervisors
REVIEW = (Role.QA, Role.SUPERVISOR)  # the replay page's waveform and timeline


class SegmentOut(BaseModel):
    agent: str
    start_offset: float
    end_offset: float | None


class RecordingOut(BaseModel):
    id: int
    call_id: str
    status: RecordingStatus
    queue: str | None
    center: str | None
    outcome: CallOutcome | None
    started_at: UtcDatetime
    ended_at: UtcDatetime | None
    duration_seconds: float | None
    size_bytes: int | None
    sha256: str | None
    channels: int | None
    sample_rate: int | None
    pauses: list[list[float]]
    agents: list[str]
    segments: list[SegmentOut] | None = None
    # Speech analytics (detail only): voice activity and keywords per side; the transcript
    # once asked for (POST .../transcript) or sampled.
    analysis: dict[str, Any] | None = None
    transcript: dict[str, Any] | None = None


class RecordingPage(BaseModel):
    items: list[RecordingOut]
    total: int
    offset: int
    limit: int


class RecordingControl(BaseModel):
    recording_id: int
    paused: bool
    pauses: list[list[float]]


class AccessOut(BaseModel):
    recording_id: int
    actor: str
    action: str
    at: UtcDatetime
    detail: str | None


def _mine(user: Principal) -> Select[Any]:
    """Recordings with a segment of this agent (an agent user's name is the 工号)."""
    return (select(RecordingSegment.recording_id).join(Agent, Agent.id ==
                                                       RecordingSegment.agent_id)
            .where(Agent.number == user.name))


async def _out(session: AsyncSession, rec: Recording, detail: bool = False) -> RecordingOut:
    rows = (await session.execute(
        select(RecordingSegment, Agent.number).join(Agent, Agent.id == RecordingSegment.agent_id)
        .where(RecordingSegment.recording_id == rec.id)
        .order_by(RecordingSegment.start_offset))).all()
    call = await session.get(CallRecord, rec.call_id)
    center = await session.get(Center, rec.center_id) if rec.center_id else None
    agents = list(dict.fromkeys(number for _, number in rows))
    analyses = {a.tier: a.result for a in await session.scalars(
        select(RecordingAnalysis).where(RecordingAnalysis.recording_id == rec.id))} \
        if detail else {}
    started = as_utc(rec.started_at)
    assert started is not None
    return RecordingOut(
        id=rec.id, call_id=rec.call_id, status=rec.status, queue=rec.queue,
        center=center.name if center else None, outcome=call.outcome if call else None,
        started_at=started, ended_at=as_utc(rec.ended_at),
        duration_seconds=rec.duration_seconds, size_bytes=rec.size_bytes, sha256=rec.sha256,
        channels=rec.channels, sample_rate=rec.sample_rate, pauses=rec.pauses or [],
        agents=agents,
        segments=[SegmentOut(agent=n, start_offset=s.start_offset, end_offset=s.end_offset)
                  for s, n in rows] if detail else None,
        analysis=analyses.get("quick"), transcript=analyses.get("full"))


async def _playable_file(request: Request, rec: Recording) -> pathlib.Path:
    """The finished recording's file: 409 while it is not playable, 404 when it is gone (the
    file check off the event loop: storage may be slow)."""
    path = file_of(request.app.state.settings, rec)
    if rec.status not in (RecordingStatus.READY, RecordingStatus.PARTIAL) or path is None:
        raise ApiError(409, "not_available", f"recording {rec.id} is {rec.status.value}")
    if not await asyncio.to_thread(path.is_file):
        raise ApiError(404, "not_found", f"the file of recording {rec.id} is missing")
    return path


async def _readable(session: AsyncSession, user: Principal, recording_id: int) -> Recording:
    rec = await session.get(Recording, recording_id)
    if rec is None:
        raise ApiError(404, "not_found", f"no recording {recording_id}")
    if user.role == Role.AGENT and not await session.scalar(
            select(exists(_mine(user).where(RecordingSegment.recording_id == rec.id)))):
        raise ApiError(403, "forbidden", "agents may only open recordings of their own calls")
    return rec


@router.get("/api/v1/recordings", response_model=RecordingPage,
            summary="Search recordings, newest first", description=roles_doc(*READ)
            + " Agents see only the calls they were on.")
async def list_recordings(
    session: Session,
    user: Annotated[Principal, Depends(require(*READ))],
    started_from: QueryDatetime | None = None,
    started_to: QueryDatetime | None = None,
    agent: Annotated[str | None, Query(pattern=r"^\d{4,6}$", description="工号")] = None,
    queue: str | None = None,
    center: str | None = None,
    outcome: CallOutcome | None = None,
    min_seconds: Annotated[float | None, Query(ge=0)] = None,
    max_seconds: Annotated[float | None, Query(ge=0)] = None,
    keyword: Annotated[str | None, Query(min_length=1, max_length=40,
                                         description="a spotted keyword or transcript text")
                       ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RecordingPage:
    conditions = []
    if started_from is not None:
        conditions.append(Recording.started_at >= started_from)
    if started_to is not None:
        conditions.append(Recording.started_at < started_to)
    if queue:
        conditions.append(Recording.queue == queue)
    if center:
        conditions.append(Recording.center_id.in_(select(Center.id)
                                                   .where(Center.name == center)))
    if outcome is not None:
        conditions.append(Recording.call_id.in_(select(CallRecord.id)
                                                 .where(CallRecord.outcome == outcome)))
    if min_seconds is not None:
        conditions.append(Recording.duration_seconds >= min_seconds)
    if max_seconds is not None:
        conditions.append(Recording.duration_seconds <= max_seconds)
    if agent:
        conditions.append(Recording.id.in_(
            select(RecordingSegment.recording_id).join(Agent, Agent.id ==
                                                       RecordingSegment.agent_id)
            .where(Agent.number == agent)))
    if keyword:
        like = f"%{keyword.replace('%', '').replace('_', '')}%"
        conditions.append(Recording.id.in_(select(RecordingAnalysis.recording_id).where(
            RecordingAnalysis.keywords.like(like) | RecordingAnalysis.text.like(like))))
    if user.role == Role.AGENT:
        conditions.append(Recording.id.in_(_mine(user)))
    where = and_(*conditions) if conditions else None
    query = select(Recording)
    counted = select(func.count(Recording.id))
    if where is not None:
        query, counted = query.where(where), counted.where(where)
    total = await session.scalar(counted) or 0
    recs = await session.scalars(query.order_by(Recording.started_at.desc(), Recording.id.desc())
                                 .offset(offset).limit(limit))
    return RecordingPage(items=[await _out(session, r) for r in recs], total=total,
                         offset=offset, limit=limit)


@router.get("/api/v1/recordings/access", response_model=list[AccessOut],
            summary="Who listened to, downloaded or changed recordings",
            description=roles_doc())
async def access_log(
    session: Session, user: Annotated[Principal, Depends(require())],
    recording_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AccessOut]:
    query = select(RecordingAccess)
    if recording_id is not None:
        query = query.where(RecordingAccess.recording_id == recording_id)
    rows = await session.scalars(query.order_by(RecordingAccess.id.desc()).limit(limit))
    return [AccessOut(recording_id=r.recording_id, actor=r.actor, action=r.action,
                      at=as_utc(r.at) or r.at, detail=r.detail) for r in rows]


@router.get("/api/v1/recordings/{recording_id}", response_model=RecordingOut,
            summary="One recording: metadata, pauses, agent segments",
            description=roles_doc(*READ), responses=documented(404))
async def get_recording(
    recording_id: RecordingId, session: Session,
    user: Annotated[Principal, Depends(require(*READ))],
) -> RecordingOut:
    return await _out(session, await _readable(session, user, recording_id), detail=True)


@router.get("/api/v1/recordings/{recording_id}/audio", response_class=FileResponse,
            summary="The recording's audio (WAV, stereo: caller left, agent right)",
            description=roles_doc(*READ) + " Supports HTTP Range. `download=true` sends it "
            "as an attachment. Every request is written to the access log.",
            responses={200: {"content": {"audio/wav": {}}},
                       206: {"content": {"audio/wav": {}}, "description": "the range asked for"},
                       416: {"description": "the range is outside the file"},
                       **documented(404, 409)})
async def recording_audio(
    recording_id: RecordingId, request: Request, session: Session,
    user: Annotated[Principal, Depends(require(*READ))], download: bool = False,
) -> FileResponse:
    rec = await _readable(session, user, recording_id)
    path = await _playable_file(request, rec)
    audit(session, rec.id, user.name, "download" if download else "listen",
          request.headers.get("range"))
    await session.commit()
    return FileResponse(path, media_type="audio/wav",
                        filename=f"{rec.call_id}.wav" if download else None,
                        content_disposition_type="attachment" if download else "inline")


class PeaksOut(BaseModel):
    recording_id: int
    duration_seconds: float
    sample_rate: int
    channels: dict[str, list[float]]


class TimelineEventOut(BaseModel):
    offset: float
    end_offset: float | None
    category: str
    kind: str
    agent: str | None
    detail: dict[str, Any]


class TimelineOut(BaseModel):
    recording_id: int
    call_id: str
    recording_started_at: UtcDatetime
    call_started_at: UtcDatetime | None
    duration_seconds: float | None
    events: list[TimelineEventOut]


@router.get("/api/v1/recordings/{recording_id}/peaks", response_model=PeaksOut,
            summary="The waveform outline per channel (caller, agent) for drawing it",
            description=roles_doc(*REVIEW) + " `points` slices of equal length, each the "
            "channel's peak in it, 0 to 1 of full scale. Not a listen: not in the access log.",
            responses=documented(404, 409))
async def recording_peaks(
    recording_id: RecordingId, request: Request, session: Session,
    user: Annotated[Principal, Depends(require(*REVIEW))],
    points: Annotated[int, Query(ge=10, le=4000)] = 800,
) -> PeaksOut:
    rec = await _readable(session, user, recording_id)
    path = await _playable_file(request, rec)
    try:
        info, outline = await asyncio.to_thread(peaks, path, points)
    except wavfile.WavError as exc:
        raise ApiError(409, "not_available", f"recording {recording_id} does not verify "
                       f"(hotline recordings verify): {exc}") from None
    return PeaksOut(recording_id=rec.id, duration_seconds=info.duration,
                    sample_rate=info.sample_rate, channels=outline)


@router.get("/api/v1/recordings/{recording_id}/timeline", response_model=TimelineOut,
            summary="The call's events on the recording's clock",
            description=roles_doc(*REVIEW) + " IVR steps, queue waits, agents rung and "
            "connected, holds, transfers, recording pauses and the end, each with its offset "
            "in seconds from the recording's start (negative: before recording began). "
            "Categories: ivr, queue, ring, connect, hold, transfer, pause, end.",
            responses=documented(404))
async def recording_timeline(
    recording_id: RecordingId, session: Session,
    user: Annotated[Principal, Depends(require(*REVIEW))],
) -> TimelineOut:
    rec = await _readable(session, user, recording_id)
    story = await timeline(session, rec, user.role)
    return TimelineOut(
        recording_id=story.recording_id, call_id=story.call_id,
        recording_started_at=story.recording_started_at,
        call_started_at=story.call_started_at, duration_seconds=story.duration_seconds,
        events=[TimelineEventOut(offset=e.offset, end_offset=e.end_offset,
                                 category=e.category, kind=e.kind, agent=e.agent,
                                 detail=e.detail) for e in story.events])


async def _control(request: Request, session: AsyncSession, user: Principal, call_id: str,
                   pause: bool) -> RecordingControl:
    if user.role == Role.AGENT and not await session.scalar(select(exists(
            select(AgentLeg.id).join(Agent, Agent.id == AgentLeg.agent_id).where(
                AgentLeg.call_id == call_id, Agent.number == user.name,
                AgentLeg.answer_at.is_not(None), AgentLeg.end_at.is_(None))))):
        raise ApiError(403, "forbidden", "only the agent on the call (or a supervisor) may")
    platform = request.app.state.platform
    recorder = platform.acd.recorder if platform is not None and platform.acd else None
    if recorder is None:
        raise ApiError(503, "unavailable", "recording is controlled by `hotline serve` "
                       "with recording on")
    try:
        active = await (recorder.pause(call_id) if pause else recorder.resume(call_id))
    except RecordingError as exc:
        raise ApiError(409, "not_recording", str(exc)) from exc
    audit(session, active.recording_id, user.name, "pause" if pause else "resume")
    await session.commit()
    return RecordingControl(recording_id=active.recording_id, paused=pause,
                            pauses=active.pauses)


@router.post("/api/v1/calls/{call_id}/recording/pause", response_model=RecordingControl,
             summary="Pause the call's recording (silence in the file until resumed)",
             description=roles_doc(*CONTROL) + " Agents: only on their own call.",
             responses=documented(409, 503))
async def pause_recording(call_id: str, request: Request, session: Session,
                          user: Annotated[Principal, Depends(require(*CONTROL))]
                          ) -> RecordingControl:
    return await _control(request, session, user, call_id, pause=True)


@router.post("/api/v1/calls/{call_id}/recording/resume", response_model=RecordingControl,
             summary="Resume the call's recording", description=roles_doc(*CONTROL)
             + " Agents: only on their own call.",
             responses=documented(409, 503))
async def resume_recording(call_id: str, request: Request, session: Session,
                           user: Annotated[Principal, Depends(require(*CONTROL))]
                           ) -> RecordingControl:
    return await _control(request, session, user, call_id, pause=False)


class TranscriptRequest(BaseModel):
    recording_id: int
    queued: bool  # False: already waiting (it keeps its place) or already transcribed
    backlog: int


@router.post("/api/v1/recordings/{recording_id}/transcript", response_model=TranscriptRequest,
             status_code=202, summary="Transcribe the recording ahead of the backlog",
             description=roles_doc(Role.QA, Role.SUPERVISOR) + " The transcript appears in "
             "the recording's detail when done.",
             responses=documented(404, 409, 503))
async def request_transcript(
    recording_id: RecordingId, request: Request, session: Session,
    user: Annotated[Principal, Depends(require(Role.QA, Role.SUPERVISOR))],
) -> TranscriptRequest:
    rec = await _readable(session, user, recording_id)
    if rec.status not in (RecordingStatus.READY, RecordingStatus.PARTIAL):
        raise ApiError(409, "not_available", f"recording {recording_id} is {rec.status.value}")
    platform = request.app.state.platform
    analytics = platform.analytics if platform is not None else None
    if analytics is None:
        raise ApiError(503, "unavailable", "speech analytics run in `hotline serve`")
    done = await session.scalar(select(exists().where(
        RecordingAnalysis.recording_id == rec.id, RecordingAnalysis.tier == "full",
        RecordingAnalysis.error.is_(None))))
    from app.qa.analytics_queue import Tier

    queued = False if done else analytics.submit(rec, Tier.FULL, urgent=True)
    return TranscriptRequest(recording_id=rec.id, queued=queued,
                             backlog=analytics.queue.backlog)
