"""Recording a caller's conversation with agents: the PBX's MixMonitor on the caller's channel
writes caller (left) and what the caller hears (right: the agent) interleaved, headerless, from
the first agent's answer to the end of the call; it follows the channel through bridges (holds,
transfers) and outlives a crash of the platform. Pauses mute both directions (silence in the
file, spans kept in the record). At the end the platform wraps the samples into a WAV under the
state dir by date and stores its checksum."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.ami.link import AmiError, AmiLink
from app.config import Settings
from app.core.clock import now
from app.db.models import AgentLeg, Recording, RecordingSegment, RecordingStatus
from app.db.session import Database
from app.recordings import wavfile

if TYPE_CHECKING:
    from app.recordings.analysis import RecordingAnalytics

log = logging.getLogger(__name__)

SETTLE = 0.5  # seconds the PBX's file must stop growing before it is taken as closed
SETTLE_MAX = 8.0


class RecordingError(RuntimeError):
    """A recording could not be started, paused or resumed; the message says why."""


@dataclass
class Active:
    recording_id: int
    call_id: str
    channel: str  # the caller channel's name (AMI addresses channels by name)
    started: float  # epoch seconds
    raw: Path
    paused_at: float | None = None
    pauses: list[list[float]] = field(default_factory=list)
    segments: dict[int, int] = field(default_factory=dict)  # leg id -> segment id

    def offset(self, at: float | None = None) -> float:
        return round((at or time.time()) - self.started, 3)


def recordings_dir(settings: Settings) -> Path:
    return settings.state_dir / "recordings"


def wav_path_for(settings: Settings, call_id: str, started: datetime) -> Path:
    return recordings_dir(settings) / started.strftime("%Y/%m/%d") / f"{call_id}.wav"


class Recorder:
    def __init__(self, settings: Settings, db: Database, ami: AmiLink) -> None:
        self.settings = settings
        self.db = db
        self.ami = ami
        self.active: dict[str, Active] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        self._finishing_calls: set[str] = set()
        self.analytics: RecordingAnalytics | None = None  # finalised recordings are analysed

    def _raw_paths(self, call_id: str) -> tuple[PurePosixPath, Path]:
        """Where the PBX writes (as it sees the path) and the same file on this host."""
        name = f"{call_id}.raw"
        pbx = self.settings.pbx_dir / "spool" / "monitor" / name
        return pbx, self.settings.pbx_spool / "monitor" / name

    async def start(self, call_id: str, channel: str, queue: str | None,
                    center_id: int | None) -> Active:
        """Start recording the call (once: a second agent leg joins the same recording)."""
        if (current := self.active.get(call_id)) is not None:
            return current
        pbx_path, host_path = self._raw_paths(call_id)
        try:
            await self.ami.action({"Action": "MixMonitor", "Channel": channel,
                                   "File": str(pbx_path), "Options": "D"})
        except (AmiError, TimeoutError) as exc:
            raise RecordingError(f"recording of {call_id} not started: {exc}") from exc
        started = time.time()
        async with self.db.session() as session:
            rec = Recording(call_id=call_id, queue=queue, center_id=center_id,
                            status=RecordingStatus.RECORDING, raw_path=str(host_path),
                            started_at=now(), pauses=[])
            session.add(rec)
            await session.commit()
            rec_id = rec.id
        active = self.active[call_id] = Active(rec_id, call_id, channel, started, host_path)
        return active

    async def adopt(self, call_id: str, channel: str) -> Active | None:
        """A call picked up after a restart: its recording (still being written) is ours."""
        async with self.db.session() as session:
            rec = await session.scalar(select(Recording).where(
                Recording.call_id == call_id, Recording.status == RecordingStatus.RECORDING))
            if rec is None:
                return None
            started = rec.started_at.timestamp() if rec.started_at.tzinfo else \
                rec.started_at.replace(tzinfo=now().tzinfo).timestamp()
            active = Active(rec.id, call_id, channel, started, Path(rec.raw_path),
                            pauses=[list(p) for p in rec.pauses or []])
            for seg in await session.scalars(select(RecordingSegment).where(
                    RecordingSegment.recording_id == rec.id,
                    RecordingSegment.end_offset.is_(None))):
                active.segments[seg.leg_id] = seg.id
        self.active[call_id] = active
        return active

    async def leg_started(self, call_id: str, leg_id: int) -> None:
        active = self.active.get(call_id)
        if active is None:
            return
        async with self.db.session() as session:
            leg = await session.get(AgentLeg, leg_id)
            if leg is None:
                return
            seg = RecordingSegment(recording_id=active.recording_id, leg_id=leg_id,
                                   agent_id=leg.agent_id, start_offset=active.offset())
            session.add(seg)
            await session.commit()
            active.segments[leg_id] = seg.id

    async def leg_ended(self, call_id: str, leg_id: int) -> None:
        active = self.active.get(call_id)
        if active is None or (seg_id := active.segments.pop(leg_id, None)) is None:
            return
        async with self.db.session() as session:
            seg = await session.get(RecordingSegment, seg_id)
            if seg is not None:
                seg.end_offset = active.offset()
                await session.commit()

    async def pause(self, call_id: str) -> Active:
        active = self._on(call_id)
        if active.paused_at is None:
            await self._mute(active, True)
            active.paused_at = time.time()
        return active

    async def resume(self, call_id: str) -> Active:
        active = self._on(call_id)
        if active.paused_at is not None:
            await self._mute(active, False)
            active.pauses.append([active.offset(active.paused_at), active.offset()])
            active.paused_at = None
            await self._save_pauses(active)
        return active

    def _on(self, call_id: str) -> Active:
        active = self.active.get(call_id)
        if active is None:
            raise RecordingError(f"call {call_id} is not being recorded")
        return active

    async def _mute(self, active: Active, on: bool) -> None:
        try:
            await self.ami.action({"Action": "MixMonitorMute", "Channel": active.channel,
                                   "Direction": "both", "State": "1" if on else "0"})
        except (AmiError, TimeoutError) as exc:
            raise RecordingError(f"recording of {active.call_id}: {exc}") from exc

    async def _save_pauses(self, active: Active) -> None:
        async with self.db.session() as session:
            rec = await session.get(Recording, active.recording_id)
            if rec is not None:
                rec.pauses = [list(p) for p in active.pauses]
                await session.commit()

    def stop(self, call_id: str, partial: bool = False) -> None:
        """The call is over (the PBX closes the file with the channel): finalise it in the
        background, off the call's path. `partial`: the PBX went away mid-call."""
        active = self.active.pop(call_id, None)
        if active is None:
            return
        if active.paused_at is not None:
            active.pauses.append([active.offset(active.paused_at), active.offset()])
        task = asyncio.create_task(self._finish(active, partial), name=f"recording-{call_id}")
        self._finishing.add(task)
        self._finishing_calls.add(call_id)
        task.add_done_callback(self._finishing.discard)
        task.add_done_callback(lambda _: self._finishing_calls.discard(call_id))

    def busy(self, call_id: str) -> bool:
        """The call's recording is ours: still being written, or being finalised."""
        return call_id in self.active or call_id in self._finishing_calls

    async def _finish(self, active: Active, partial: bool) -> None:
        try:  # the caller may still be on the line (back in the menu): stop the PBX writing
            await self.ami.action({"Action": "StopMixMonitor", "Channel": active.channel})
        except (AmiError, TimeoutError):
            pass  # the channel is gone: the PBX closed the file with it
        await settled(active.raw)
        try:
            await finalise(self.settings, self.db, active.recording_id, active.pauses, partial)
        except Exception:
            log.exception("recording %s could not be finalised", active.recording_id)
            return
        await self.analyse(active.recording_id)

    async def analyse(self, recording_id: int) -> None:
        """Queue a finalised recording for speech analytics (when they run)."""
        if self.analytics is None:
            return
        async with self.db.session() as session:
            rec = await session.get(Recording, recording_id)
            if rec is not None and rec.status in (RecordingStatus.READY,
                                                  RecordingStatus.PARTIAL):
                self.analytics.submit(rec)

    async def drain(self) -> None:
        """Let finalisations under way complete (a stop of the platform)."""
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else -1


async def settled(path: Path) -> None:
    """Wait until the PBX has stopped writing the file (its size holds still)."""
    deadline = time.monotonic() + SETTLE_MAX
    last = -1
    while time.monotonic() < deadline:
        size = await asyncio.to_thread(_size, path)
        if size == last:
            return
        last = size
        await asyncio.sleep(SETTLE)


async def finalise(settings: Settings, db: Database, recording_id: int,
                   pauses: list[list[float]] | None = None, partial: bool = False) -> None:
    """Wrap the PBX's samples into the recording's WAV, store size, duration and checksum,
    remove the raw file. Nothing written at all: status missing."""
    async with db.session() as session:
        rec = await session.get(Recording, recording_id)
        if rec is None or rec.status != RecordingStatus.RECORDING:
            return
        raw = Path(rec.raw_path)
        started = rec.started_at
        call_id = rec.call_id
    wav = wav_path_for(settings, call_id, started)
    info = None
    if await asyncio.to_thread(raw.exists):
        info = await asyncio.to_thread(wavfile.wrap_raw, raw, wav)
    async with db.session() as session:
        rec = await session.get(Recording, recording_id)
        if rec is None:
            return
        # Read before the first change: a change flushed by a read would take the write lock.
        open_segments = list(await session.scalars(select(RecordingSegment).where(
            RecordingSegment.recording_id == recording_id,
            RecordingSegment.end_offset.is_(None))))
        rec.ended_at = now()
        if pauses is not None:
            rec.pauses = [list(p) for p in pauses]
        for seg in open_segments:
            seg.end_offset = info.duration if info is not None else 0.0
        if info is None:
            rec.status = RecordingStatus.MISSING
        else:
            rec.status = RecordingStatus.PARTIAL if partial else RecordingStatus.READY
            rec.path = str(wav.relative_to(recordings_dir(settings)))
            rec.size_bytes, rec.sha256 = info.size, info.sha256
            rec.duration_seconds = info.duration
            rec.channels, rec.sample_rate = info.channels, info.sample_rate
        await session.commit()
    if info is not None:
        await asyncio.to_thread(raw.unlink, True)
    log.info("recording %s %s (%s s)", recording_id,
             "finalised" if info else "missing: the PBX wrote nothing",
             info.duration if info else 0)
