"""Recordings a stopped or crashed platform left being written: the PBX closed each file when
its call ended (or died with it); whatever it wrote is finalised and verified."""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.config import Settings
from app.db.models import Recording, RecordingStatus
from app.db.session import Database
from app.recordings.recorder import Recorder, finalise

log = logging.getLogger(__name__)


async def finalise_left_behind(settings: Settings, db: Database, live: set[str],
                               recorder: Recorder | None = None) -> int:
    async with db.session() as session:
        left = [(r.id, r.call_id) for r in await session.scalars(
            select(Recording).where(Recording.status == RecordingStatus.RECORDING))]
    done = 0
    for recording_id, call_id in left:
        if call_id in live:
            continue  # adopted: its call goes on, and so does the recording
        await finalise(settings, db, recording_id)
        if recorder is not None:
            await recorder.analyse(recording_id)
        done += 1
    if done:
        log.info("finalised %d recordings left by the previous run", done)
    return done
