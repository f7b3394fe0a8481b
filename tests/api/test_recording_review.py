"""The QA replay's data on both engines: a recording's waveform outline per channel and the
call's events on the recording's clock; QA and supervisors only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.api.main import create_app
from app.config import Settings
from app.db.session import Database
from app.services.auth import issue_token
from tests.api.conftest import Seeded, assert_error
from tests.recorded_calls import AGENT_TALKS, CALLER_TALKS, HOLD, PAUSE, SECONDS, record_call


class Review:
    def __init__(self, client: httpx.AsyncClient, seeded: Seeded, settings: Settings,
                 db: Database) -> None:
        self.client, self.seeded, self.settings, self.db = client, seeded, settings, db

    async def get(self, path: str, role: str | None = None, token: str | None = None,
                  **kw: object) -> httpx.Response:
        bearer = token or self.seeded.tokens[role or "qa"]
        return await self.client.get(path, headers={"Authorization": f"Bearer {bearer}"},
                                     **kw)  # type: ignore[arg-type]


@pytest.fixture
async def review(seeded: Seeded, tmp_path: Path) -> AsyncIterator[Review]:
    settings = Settings(state_dir=tmp_path / "state", pbx_root=tmp_path / "root")
    db = Database(seeded.url)
    transport = httpx.ASGITransport(app=create_app(settings, db), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Review(client, seeded, settings, db)
    await db.dispose()


def peak_over(values: list[float], start: float, end: float) -> float:
    """The highest value of the slices wholly inside [start, end) seconds."""
    per = SECONDS / len(values)
    inside = [v for i, v in enumerate(values) if i * per >= start and (i + 1) * per <= end]
    assert inside, (start, end)
    return max(inside)


async def test_peaks_outline_each_side_where_it_talks(review: Review) -> None:
    call = await record_call(review.db, review.settings)
    resp = await review.get(f"/api/v1/recordings/{call.recording_id}/peaks?points=100")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["duration_seconds"] == SECONDS and body["sample_rate"] == 8000
    caller, agent = body["channels"]["caller"], body["channels"]["agent"]
    assert len(caller) == len(agent) == 100
    (c_start, c_end), (a_start, a_end) = CALLER_TALKS[0], AGENT_TALKS[0]
    # 8000 and 12000 of 32768 full scale: each side loud only while it talks.
    assert 0.2 < peak_over(caller, c_start, c_end) <= 0.25
    assert peak_over(agent, c_start, c_end) == 0
    assert 0.33 < peak_over(agent, a_start, a_end) <= 0.37
    assert peak_over(caller, a_start, a_end) == 0
    assert peak_over(caller, *PAUSE) == peak_over(agent, *PAUSE) == 0
    # Nobody listened: the outline is not an access to the audio.
    log = await review.get(f"/api/v1/recordings/access?recording_id={call.recording_id}",
                           role="admin")
    assert log.json() == []


async def test_timeline_puts_the_calls_events_on_the_recordings_clock(review: Review) -> None:
    call = await record_call(review.db, review.settings)
    resp = await review.get(f"/api/v1/recordings/{call.recording_id}/timeline",
                            role="supervisor")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["call_id"] == call.call_id and body["duration_seconds"] == SECONDS
    events = [(e["category"], e["kind"], e["offset"], e["end_offset"], e["agent"])
              for e in body["events"]]
    assert events == [
        ("ivr", "answered", -8.8, None, None),
        ("ivr", "node", -8.5, None, None),
        ("ivr", "prompt", -8.0, None, None),
        ("ivr", "choice", -5.0, None, None),
        ("queue", "queue", -4.0, 0.0, None),
        ("ring", "ring", -2.0, None, call.agent),
        ("connect", "connect", 0.0, SECONDS, call.agent),
        ("hold", "hold", HOLD[0], None, None),
        ("hold", "unhold", HOLD[1], None, None),
        ("pause", "pause", PAUSE[0], PAUSE[1], None),
        ("transfer", "transfer", 9.7, None, None),
        ("end", "hangup", SECONDS, None, None),
    ]
    queue = next(e for e in body["events"] if e["category"] == "queue")
    assert queue["detail"] == {"queue": call.queue, "result": "connected", "wait_seconds": 4.0,
                               "priority": False}
    choice = next(e for e in body["events"] if e["kind"] == "choice")
    assert choice["detail"]["key"] == "1"


async def test_only_qa_supervisors_and_admins_review(review: Review) -> None:
    call = await record_call(review.db, review.settings)
    async with review.db.session() as session:
        own = await issue_token(session, call.agent)  # the agent on this very call
        await session.commit()
    for what in ("peaks", "timeline"):
        path = f"/api/v1/recordings/{call.recording_id}/{what}"
        for role in ("qa", "supervisor", "admin"):
            assert (await review.get(path, role=role)).status_code == 200, (what, role)
        assert_error(await review.get(path, role="agent"), 403, "forbidden")
        assert_error(await review.get(path, token=own), 403, "forbidden")
        assert_error(await review.client.get(path), 401, "unauthenticated")
        assert_error(await review.get(f"/api/v1/recordings/2000000000/{what}"), 404,
                     "not_found")
    too_many = await review.get(f"/api/v1/recordings/{call.recording_id}/peaks?points=5000")
    assert too_many.status_code == 422


async def test_peaks_of_a_missing_file_say_so(review: Review) -> None:
    call = await record_call(review.db, review.settings)
    listed = await review.get(f"/api/v1/recordings/{call.recording_id}")
    for wav in (review.settings.state_dir / "recordings").rglob(f"{call.call_id}.wav"):
        wav.unlink()
    assert listed.status_code == 200
    error = assert_error(await review.get(f"/api/v1/recordings/{call.recording_id}/peaks"),
                         404, "not_found")
    assert "missing" in error["message"]
