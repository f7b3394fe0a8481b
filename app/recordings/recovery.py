"""Recordings nobody finalises: those a stopped or crashed platform left being written, and
those of an adopted call that ended before its new task took the recording over. The PBX
closed each file when its call ended (or died with it); whatever it wrote is finalised and
verified."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select

from app.config import Settings
from app.db.models import CallRecord, Recording, RecordingStatus
from app.db.session import Database
from app.recordings.recorder import Recorder, finalise
from app.services.call_records import carried_by

log = logging.getLogger(__name__)


async def finalise_left_behind(settings: Settings, db: Database, live: Callable[[str], bool],
                               recorder: Recorder | None = None, node: str = "main") -> int:
    """`live`: whether a call is in progress here, asked of each recording in turn (a new
    call's recording may appear while this runs). Only this node's calls: another node's
    recordings are being written on its own PBX."""
    async with db.session() as session:
        left = [(r.id, r.call_id) for r in await session.scalars(
            select(Recording).join(CallRecord, CallRecord.id == Recording.call_id)
            .where(Recording.status == RecordingStatus.RECORDING, carried_by(node)))]
    done = 0
    for recording_id, call_id in left:
        if live(call_id) or (recorder is not None and recorder.busy(call_id)):
            continue  # its call goes on (adopted or not), or it is being finalised already
        await finalise(settings, db, recording_id)
        if recorder is not None:
            await recorder.analyse(recording_id)
        done += 1
    if done:
        log.info("finalised %d recordings left by the previous run", done)
    return done
