"""Recording files and the library over a real SQLite database: wrap, verify, purge, export."""

from __future__ import annotations

import asyncio
import os
import struct
import wave
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from app.acd.routing import parse_routing
from app.config import Settings
from app.core.clock import now
from app.db import migrate
from app.db.models import CallRecord, Recording, RecordingAccess, RecordingStatus
from app.db.session import Database
from app.recordings import library, wavfile
from app.recordings.recorder import finalise, recordings_dir
from app.recordings.retention import Retention


def stereo_raw(path: Path, left: np.ndarray, right: np.ndarray, cut: int = 0) -> None:
    frames = np.empty(len(left) * 2, dtype="<i2")
    frames[0::2], frames[1::2] = left, right
    data = frames.tobytes()
    path.write_bytes(data[:len(data) - cut] if cut else data)


def test_a_raw_file_cut_mid_frame_becomes_a_valid_wav_of_whole_frames(tmp_path: Path) -> None:
    raw = tmp_path / "c.raw"
    tone = (np.sin(np.arange(8000) / 5) * 3000).astype("<i2")
    stereo_raw(raw, tone, np.zeros(8000, dtype="<i2"), cut=3)  # the PBX died mid-frame
    info = wavfile.wrap_raw(raw, tmp_path / "c.wav")
    assert (info.channels, info.sample_rate, info.frames) == (2, 8000, 7999)
    assert wavfile.inspect(tmp_path / "c.wav") == info
    with wave.open(str(tmp_path / "c.wav")) as fh:  # any player reads it
        assert fh.getnchannels() == 2 and fh.getnframes() == 7999


def test_inspect_rejects_a_header_that_lies(tmp_path: Path) -> None:
    raw = tmp_path / "c.raw"
    stereo_raw(raw, np.ones(800, dtype="<i2"), np.ones(800, dtype="<i2"))
    wav = tmp_path / "c.wav"
    wavfile.wrap_raw(raw, wav)
    with open(wav, "ab") as fh:
        fh.write(b"\0" * 4)  # appended after the header was written
    with pytest.raises(wavfile.WavError, match="header says"):
        wavfile.inspect(wav)
    wav.write_bytes(b"not a wav file at all, just text" * 3)
    with pytest.raises(wavfile.WavError, match="not a WAV"):
        wavfile.inspect(wav)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'rec.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


async def recorded(db: Database, settings: Settings, call_id: str, seconds: float,
                   age_days: float = 0, lead: float = 2.0, queue: str | None = None) -> int:
    """A finished call with a finalised recording: caller tone left, agent silence right."""
    started = now() - timedelta(days=age_days)
    raw = settings.pbx_spool / "monitor" / f"{call_id}.raw"
    raw.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * 8000)
    stereo_raw(raw, np.full(n, 1000, dtype="<i2"), np.zeros(n, dtype="<i2"))
    async with db.session() as session:
        session.add(CallRecord(id=call_id, caller="13800138000", called="12306",
                               started_at=started, ended_at=started + timedelta(
                                   seconds=lead + seconds + 1)))
        await session.flush()
        rec = Recording(call_id=call_id, status=RecordingStatus.RECORDING, raw_path=str(raw),
                        started_at=started + timedelta(seconds=lead), pauses=[], queue=queue)
        session.add(rec)
        await session.commit()
        rec_id = rec.id
    await finalise(settings, db, rec_id)
    return rec_id


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", pbx_root=tmp_path / "root")


async def test_verify_finds_bad_and_missing_files(db: Database, settings: Settings) -> None:
    ids = [await recorded(db, settings, f"call-{i}", 1.0) for i in range(3)]
    async with db.session() as session:
        recs = {r.id: r for r in await session.scalars(select(Recording))}
        assert all(r.status == RecordingStatus.READY and r.sha256 for r in recs.values())
        assert not (settings.pbx_spool / "monitor" / "call-0.raw").exists()  # raw removed
        good = await library.verify_all(session, settings)
    assert good.as_dict() == {"checked": 3, "ok": 3, "bad": [], "missing": []}
    first = recordings_dir(settings) / (recs[ids[0]].path or "")
    data = bytearray(first.read_bytes())
    data[100] ^= 0xFF  # one flipped bit in the audio
    first.write_bytes(bytes(data))
    (recordings_dir(settings) / (recs[ids[1]].path or "")).unlink()
    async with db.session() as session:
        result = await library.verify_all(session, settings)
    assert result.ok == 1
    assert [b["id"] for b in result.bad] == [ids[0]] and "checksum" in result.bad[0]["reason"]
    assert [m["id"] for m in result.missing] == [ids[1]]


async def test_purge_dry_run_deletes_nothing_and_a_real_one_keeps_the_audit(
        db: Database, settings: Settings) -> None:
    old = await recorded(db, settings, "old", 1.0, age_days=40)
    new = await recorded(db, settings, "new", 1.0, age_days=1)
    async with db.session() as session:
        listed = await library.purge(session, settings, 30, dry_run=True)
        await session.commit()
    assert [r["id"] for r in listed] == [old]
    old_file = listed[0]["path"]
    assert await asyncio.to_thread(os.path.exists, old_file)
    async with db.session() as session:
        purged = await library.purge(session, settings, 30, dry_run=False, actor="admin1")
        await session.commit()
    assert [r["id"] for r in purged] == [old]
    assert not await asyncio.to_thread(os.path.exists, old_file)
    async with db.session() as session:
        rows = {r.id: r for r in await session.scalars(select(Recording))}
        trail = (await session.scalars(select(RecordingAccess))).all()
    assert rows[old].status == RecordingStatus.PURGED and rows[old].purged_at is not None
    assert rows[new].status == RecordingStatus.READY
    assert [(a.recording_id, a.actor, a.action) for a in trail] == [(old, "admin1", "purge")]


RETENTION_ROUTING = """\
queues:
  general:
    skill: ticket
  ticket:
    skill: ticket
    retention_days: 10
  complaint:
    skill: complaint
    retention_days: 60
centers: {names: [北京], default: 北京}
"""


async def test_purge_by_retention_applies_each_queues_days_and_the_default(
        db: Database, settings: Settings) -> None:
    retention = Retention.from_routing(parse_routing(RETENTION_ROUTING), default_days=30)
    ages = {  # call id: (queue, age in days), and whether its retention has passed
        "ticket-old": ("ticket", 15), "ticket-new": ("ticket", 5),
        "complaint-old": ("complaint", 65), "complaint-new": ("complaint", 45),
        "general-old": ("general", 35), "general-new": ("general", 25),  # no retention_days
        "ivr-old": (None, 35), "ivr-new": (None, 25),  # never reached a queue
        "gone-queue": ("lost_found", 35),  # a queue since removed from the routing file
    }
    ids = {c: await recorded(db, settings, c, 0.5, age_days=a, queue=q)
           for c, (q, a) in ages.items()}
    expired = {"ticket-old", "complaint-old", "general-old", "ivr-old", "gone-queue"}
    async with db.session() as session:
        listed = await library.purge(session, settings, retention, dry_run=True)
        await session.commit()
    assert {r["call_id"] for r in listed} == expired
    assert {r["call_id"]: r["retention_days"] for r in listed} == {
        "ticket-old": 10, "complaint-old": 60, "general-old": 30, "ivr-old": 30,
        "gone-queue": 30}
    async with db.session() as session:  # the dry run deleted nothing and audited nothing
        rows = {r.call_id: r for r in await session.scalars(select(Recording))}
        assert not (await session.scalars(select(RecordingAccess))).all()
    assert all(r.status == RecordingStatus.READY for r in rows.values())
    files = {c: recordings_dir(settings) / (r.path or "") for c, r in rows.items()}
    assert all(await asyncio.to_thread(lambda: [f.is_file() for f in files.values()]))

    async with db.session() as session:
        purged = await library.purge(session, settings, retention, dry_run=False,
                                     actor="admin1")
        await session.commit()
    assert {r["call_id"] for r in purged} == expired
    async with db.session() as session:
        rows = {r.call_id: r for r in await session.scalars(select(Recording))}
        trail = {a.recording_id: (a.actor, a.action, a.detail)
                 for a in await session.scalars(select(RecordingAccess))}
    for call_id, rec in rows.items():
        gone = call_id in expired
        assert (rec.status == RecordingStatus.PURGED) == gone, call_id
        assert await asyncio.to_thread(files[call_id].exists) != gone, call_id
    assert trail == {
        ids["ticket-old"]: ("admin1", "purge", "past queue ticket's retention of 10 days"),
        ids["complaint-old"]: ("admin1", "purge",
                               "past queue complaint's retention of 60 days"),
        ids["general-old"]: ("admin1", "purge", "past the default retention of 30 days"),
        ids["ivr-old"]: ("admin1", "purge", "past the default retention of 30 days"),
        ids["gone-queue"]: ("admin1", "purge", "past the default retention of 30 days"),
    }
    async with db.session() as session:  # purged rows are not purged again
        assert await library.purge(session, settings, retention, dry_run=False) == []


def test_older_than_overrides_every_queues_retention() -> None:
    uniform = Retention.uniform(7)
    assert (uniform.days_for("complaint"), uniform.days_for(None)) == (7, 7)
    assert uniform.reason("complaint") == "older than 7 days"


async def test_export_places_the_recording_in_the_whole_call(
        db: Database, settings: Settings, tmp_path: Path) -> None:
    await recorded(db, settings, "c1", 2.0, lead=3.0)  # agent answered 3 s into the call
    out = tmp_path / "caller.wav"
    async with db.session() as session:
        seconds = await library.export(session, settings, "c1", "caller", out)
        both = await library.export(session, settings, "c1", "both", tmp_path / "both.wav")
        await session.commit()
        with pytest.raises(library.ExportError, match="no recording"):
            session.add(CallRecord(id="c2", caller="1", called="12306", started_at=now()))
            await session.flush()
            await library.export(session, settings, "c2", "agent", tmp_path / "x.wav")
    assert seconds == both == pytest.approx(6.0, abs=0.01)  # 3 s lead + 2 s + 1 s after
    with wave.open(str(out)) as fh:
        assert fh.getnchannels() == 1
        samples = struct.unpack(f"<{fh.getnframes()}h", fh.readframes(fh.getnframes()))
    assert set(samples[:3 * 8000]) == {0}  # silence before the agent answered
    assert set(samples[3 * 8000:5 * 8000]) == {1000}  # the caller's side
    assert set(samples[5 * 8000:]) == {0}
    with wave.open(str(tmp_path / "both.wav")) as fh:
        assert fh.getnchannels() == 2


async def test_only_recordings_of_calls_ended_and_unowned_are_finalised_left_behind(
        db: Database, settings: Settings) -> None:
    from app.recordings.recorder import Active, Recorder
    from app.recordings.recovery import finalise_left_behind

    ids = {}
    for call_id in ("talking", "owned", "ended"):
        raw = settings.pbx_spool / "monitor" / f"{call_id}.raw"
        raw.parent.mkdir(parents=True, exist_ok=True)
        stereo_raw(raw, np.full(8000, 1000, dtype="<i2"), np.zeros(8000, dtype="<i2"))
        async with db.session() as session:
            session.add(CallRecord(id=call_id, caller="13800138000", called="12306",
                                   started_at=now()))
            await session.flush()
            rec = Recording(call_id=call_id, status=RecordingStatus.RECORDING,
                            raw_path=str(raw), started_at=now(), pauses=[])
            session.add(rec)
            await session.commit()
            ids[call_id] = rec.id
    recorder = Recorder(settings, db, ami=None)  # type: ignore[arg-type]
    recorder.active["owned"] = Active(ids["owned"], "owned", "PJSIP/x", 0.0,
                                      settings.pbx_spool / "monitor" / "owned.raw")
    done = await finalise_left_behind(settings, db, {"talking"}.__contains__, recorder)
    assert done == 1
    async with db.session() as session:
        status = {r.call_id: r.status for r in await session.scalars(select(Recording))}
    assert status == {"talking": RecordingStatus.RECORDING, "owned": RecordingStatus.RECORDING,
                      "ended": RecordingStatus.READY}
