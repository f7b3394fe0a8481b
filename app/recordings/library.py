"""The stored recordings as a whole: verify every file, purge old ones (keeping the audit
trail), export one call's side or both, and the access audit itself."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import as_utc, now
from app.db.models import CallRecord, Recording, RecordingAccess, RecordingStatus
from app.recordings import wavfile
from app.recordings.recorder import recordings_dir
from app.recordings.retention import Retention

KEPT = (RecordingStatus.READY, RecordingStatus.PARTIAL)


def audit(session: AsyncSession, recording_id: int, actor: str, action: str,
          detail: str | None = None) -> None:
    session.add(RecordingAccess(recording_id=recording_id, actor=actor, action=action,
                                at=now(), detail=detail))


def file_of(settings: Settings, rec: Recording) -> Path | None:
    return recordings_dir(settings) / rec.path if rec.path else None


@dataclass
class Verification:
    checked: int = 0
    ok: int = 0
    bad: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "ok": self.ok, "bad": self.bad,
                "missing": self.missing}


def check_file(path: Path | None, rec: Recording) -> str | None:
    """Why the recording's file is not the one recorded; None when it is."""
    if path is None or not path.is_file():
        return "missing"
    try:
        info = wavfile.inspect(path)
    except wavfile.WavError as exc:
        return str(exc)
    if info.sha256 != rec.sha256:
        return "checksum differs from the one stored"
    if info.size != rec.size_bytes:
        return f"size {info.size} differs from the stored {rec.size_bytes}"
    return None


async def verify_all(session: AsyncSession, settings: Settings) -> Verification:
    result = Verification()
    for rec in await session.scalars(select(Recording).where(Recording.status.in_(KEPT))
                                     .order_by(Recording.id)):
        result.checked += 1
        path = file_of(settings, rec)
        problem = await asyncio.to_thread(check_file, path, rec)
        entry = {"id": rec.id, "call_id": rec.call_id, "path": str(path) if path else None}
        if problem is None:
            result.ok += 1
        elif problem == "missing":
            result.missing.append(entry)
        else:
            result.bad.append({**entry, "reason": problem})
    return result


async def purge(session: AsyncSession, settings: Settings, retention: Retention | float,
                dry_run: bool, actor: str = "cli") -> list[dict[str, Any]]:
    """Recordings past their retention (a number: started more than that many days ago):
    their files deleted, each row kept as `purged` with an audit entry. A dry run only lists
    them."""
    if not isinstance(retention, Retention):
        retention = Retention.uniform(retention)
    found = []
    for rec in await session.scalars(select(Recording).where(
            retention.expired(now()),
            Recording.status.in_([*KEPT, RecordingStatus.MISSING]))
            .order_by(Recording.id)):
        path = file_of(settings, rec)
        found.append({"id": rec.id, "call_id": rec.call_id, "queue": rec.queue,
                      "retention_days": retention.days_for(rec.queue),
                      "started_at": as_utc(rec.started_at).isoformat(),
                      "path": str(path) if path else None, "size_bytes": rec.size_bytes})
        if dry_run:
            continue
        if path is not None:
            await asyncio.to_thread(path.unlink, True)
        rec.status, rec.purged_at, rec.path = RecordingStatus.PURGED, now(), None
        audit(session, rec.id, actor, "purge", retention.reason(rec.queue))
    return found


class ExportError(ValueError):
    """The call has no recording to export; the message says why."""


SIDES = {"caller": (0,), "agent": (1,), "both": (0, 1)}


async def export(session: AsyncSession, settings: Settings, call_id: str, side: str,
                 out: Path, actor: str = "cli") -> float:
    """Write the call's `side` for the whole call (silence before the first agent answered
    and after the recording ended) as 8 kHz 16-bit WAV; returns its duration in seconds."""
    call = await session.get(CallRecord, call_id)
    if call is None:
        raise ExportError(f"no call {call_id}")
    rec = await session.scalar(select(Recording).where(Recording.call_id == call_id))
    if rec is None or rec.status not in KEPT:
        state = "no recording" if rec is None else f"its recording is {rec.status.value}"
        raise ExportError(f"call {call_id} has {state}")
    path = file_of(settings, rec)
    problem = await asyncio.to_thread(check_file, path, rec)
    if problem is not None or path is None:
        raise ExportError(f"recording of call {call_id} does not verify: {problem}")
    lead = max(0.0, (as_utc(rec.started_at) - as_utc(call.started_at)).total_seconds())
    total = (as_utc(call.ended_at) - as_utc(call.started_at)).total_seconds() \
        if call.ended_at else lead + (rec.duration_seconds or 0)
    duration = await asyncio.to_thread(_write_side, path, SIDES[side], lead, total, out)
    audit(session, rec.id, actor, "export", f"{side} -> {out.name}")
    return duration


def _write_side(src: Path, picks: tuple[int, ...], lead: float, total: float,
                out: Path) -> float:
    rate, width = wavfile.RATE, wavfile.WIDTH
    with open(src, "rb") as fh:
        fh.seek(44)
        data = fh.read()
    frames = len(data) // (2 * width)
    samples = struct.unpack(f"<{frames * 2}h", data[:frames * 2 * width])
    lead_frames = round(lead * rate)
    total_frames = max(lead_frames + frames, round(total * rate))
    channels = len(picks)
    body = bytearray(b"\0" * lead_frames * channels * width)
    if channels == 2:
        body += data[:frames * 2 * width]
    else:
        body += struct.pack(f"<{frames}h", *samples[picks[0]::2])
    body += b"\0" * (total_frames - lead_frames - frames) * channels * width
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        fh.write(wavfile.header(channels, rate, len(body)))
        fh.write(body)
    return round(total_frames / rate, 3)
