"""Statistics of a scripted day (tests/stats_scenario.py) in a real SQLite and PostgreSQL
database: every figure exact, the same from the library, `hotline stats` and
`/api/v1/stats`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.main import create_app
from app.cli import main
from app.config import Settings, get_settings
from app.db import migrate
from app.db.session import Database
from app.services.auth import create_user, issue_token
from app.stats import report
from app.stats.figures import Rules
from app.stats.periods import Period
from tests.postgres import create_database
from tests.stats_scenario import DAY, write_scenario

TOTALS = {
    "offered": 17, "answered": 11, "abandoned": 2, "short_abandoned": 1,
    "answer_rate": 0.6471,  # 11 / 17
    "service_level": 0.6364,  # 7 answered within 20 s / (10 live answered + 1 abandoned > 20 s)
    "asa_s": 18.3,  # (5+10+15+20+25+30+8+12+18 + 40) / 10
    "aht_s": 80.0,  # (9 × (60+15) + (120+15) + callback A (55+15)) / 11
    "answered_within_t": 7, "abandoned_after_t": 1,
    "callbacks_requested": 2, "callback_offers": 3, "callbacks_answered": 1,
    "overflow_in": 1, "overflow_out": 1, "messages": 0, "no_agents": 0, "platform_ended": 1,
    "login_s": 3878.0,  # 2 × 1939
    "ready_s": 2312.0,  # 1001: 1939 − 781 busy; 1002: 1939 − 185 busy − 600 paused
    "paused_s": 600.0, "pause_by_reason": {"用餐": 600.0},
    "occupancy": 0.2947,  # 966 busy / (966 + 2312 ready)
    "calls": 16, "self_service": 1, "ivr_completion_rate": 0.0625,
    "speech_share": 0.1875,  # 3 of 16 menu choices spoken
    "confirmation_rate": 0.3333,  # 1 of 3 spoken intents confirmed
    "calls_platform_ended": 1,
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scenario_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> str:
    # The figures are summed in SQL (JSON fields of the steps included): both engines.
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('stats') / 'stats.db'}"
    else:
        url = create_database(request.getfixturevalue("postgres_url"),
                              "stats_" + uuid.uuid4().hex[:10])
    migrate.upgrade(url)
    with pytest.MonkeyPatch.context() as mp:
        asyncio.run(write_scenario(url, mp))
    return url


async def _build(url: str, by: str, interval: str | None = None,
                 rules: Rules | None = None) -> dict[str, Any]:
    db = Database(url)
    try:
        async with db.session() as session:
            return await report.build(session, Period.of(DAY, DAY, "Asia/Shanghai", interval),
                                      by, rules or Rules())
    finally:
        await db.dispose()


def rows_by_key(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in data["rows"]}


async def test_every_total_of_the_scripted_day(scenario_db: str) -> None:
    data = await _build(scenario_db, "center")
    assert data["totals"] == TOTALS
    assert (data["from"], data["to"], data["timezone"], data["by"], data["interval"]) == \
        (DAY, DAY, "Asia/Shanghai", "center", None)


async def test_by_center_offers_at_the_origin_and_overflow_in_at_the_destination(
        scenario_db: str) -> None:
    rows = rows_by_key(await _build(scenario_db, "center"))
    assert set(rows) == {"北京", "上海"}
    beijing, shanghai = rows["北京"], rows["上海"]
    assert (beijing["offered"], beijing["answered"], beijing["overflow_out"],
            beijing["overflow_in"]) == (17, 11, 1, 0)
    assert (shanghai["offered"], shanghai["answered"], shanghai["overflow_out"],
            shanghai["overflow_in"]) == (0, 0, 0, 1)
    # Each center's row carries its own agents' time: 1001 in 北京, 1002 in 上海.
    assert (beijing["login_s"], beijing["ready_s"], beijing["occupancy"]) == \
        (1939.0, 1158.0, 0.4028)  # 781 / (781 + 1158)
    assert (shanghai["paused_s"], shanghai["ready_s"]) == (600.0, 1154.0)
    assert beijing["calls"] is None  # calls have no center: IVR figures by ivr and totals


async def test_by_agent_counts_what_each_agent_answered(scenario_db: str) -> None:
    rows = rows_by_key(await _build(scenario_db, "agent"))
    assert set(rows) == {"1001", "1002", "-"}
    a, b, none = rows["1001"], rows["1002"], rows["-"]
    assert (a["offered"], a["answered"], a["callbacks_answered"], a["aht_s"]) == \
        (10, 10, 1, 74.5)  # (9 × 75 + 70) / 10
    # 1002 took the overflowed call and answered callback B, whose passenger was not reached.
    assert (b["offered"], b["answered"], b["callback_offers"], b["aht_s"]) == (2, 1, 1, 135.0)
    assert b["pause_by_reason"] == {"用餐": 600.0}
    assert (none["offered"], none["abandoned"], none["callbacks_requested"],
            none["short_abandoned"], none["platform_ended"]) == (5, 2, 2, 1, 1)


async def test_by_ivr_branch_completion_and_speech(scenario_db: str) -> None:
    rows = rows_by_key(await _build(scenario_db, "ivr"))
    assert set(rows) == {"order_query", "refund_change", "train_status"}
    train, order = rows["train_status"], rows["order_query"]
    assert (train["calls"], train["self_service"], train["ivr_completion_rate"],
            train["speech_share"], train["confirmation_rate"]) == (1, 1, 1.0, 1.0, 1.0)
    assert (order["calls"], order["ivr_completion_rate"], order["speech_share"],
            order["calls_platform_ended"]) == (12, 0.0, 0.1667, 1)
    assert (rows["refund_change"]["abandoned"], rows["refund_change"]["short_abandoned"]) == \
        (2, 1)


async def test_fifteen_minute_intervals(scenario_db: str) -> None:
    data = await _build(scenario_db, "center", "15m")
    beijing = [r for r in data["rows"] if r["key"] == "北京"]
    assert [r["start"] for r in beijing] == ["2026-11-02T09:00:00+08:00",
                                             "2026-11-02T09:15:00+08:00",
                                             "2026-11-02T09:30:00+08:00"]
    # The 10 answered calls entered before 09:15 (the last at 818 s); the rest after.
    assert [r["offered"] for r in beijing] == [10, 7, 0]
    assert [r["login_s"] for r in beijing] == [900.0, 900.0, 139.0]
    assert sum(r["offered"] for r in data["rows"]) == data["totals"]["offered"]


async def test_thresholds_change_what_counts(scenario_db: str) -> None:
    # T = 10 s for ticket: answered within 5, 10, 8 s; abandoned after 12 and 35 s.
    data = await _build(scenario_db, "queue",
                        rules=Rules(service_level_seconds={"ticket": 10}))
    assert data["totals"]["service_level"] == round(3 / (10 + 2), 4)
    # Short abandons under 2 s: the 3 s abandon now counts as offered and abandoned.
    data = await _build(scenario_db, "queue", rules=Rules(short_abandon=2))
    t = data["totals"]
    assert (t["offered"], t["abandoned"], t["short_abandoned"]) == (18, 3, 0)


def _cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str,
         *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        code = main(["stats", *args])
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json_has_the_issue_shape_and_the_same_figures(
        scenario_db: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _cli(capsys, monkeypatch, scenario_db, "--from", DAY, "--to", DAY,
                        "--by", "queue", "--json")
    assert code == 0
    data = json.loads(out)
    assert {"from", "to", "timezone", "by", "interval", "rows", "totals"} <= set(data)
    assert data["totals"] == TOTALS
    [row] = data["rows"]
    assert row["key"] == "ticket" and row["start"] == "2026-11-02T00:00:00+08:00"
    code, out, _ = _cli(capsys, monkeypatch, scenario_db, "--from", DAY, "--to", DAY)
    assert code == 0 and "TOTAL" in out and "64.7%" in out  # the readable table


@pytest.mark.parametrize("args, message", [
    (("--from", "2026-11-31", "--to", "2026-12-01"), "from '2026-11-31' is not a date"),
    (("--from", "2026-12-02", "--to", "2026-12-01"), "is before from"),
    (("--from", DAY, "--to", DAY, "--timezone", "Mars/Base"), "unknown time zone"),
])
def test_cli_bad_dates_exit_2(scenario_db: str, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...],
                              message: str) -> None:
    code, out, err = _cli(capsys, monkeypatch, scenario_db, *args)
    assert code == 2 and out == "" and message in err


async def test_api_json_csv_and_roles(scenario_db: str, tmp_path: Path) -> None:
    db = Database(scenario_db)
    async with db.session() as session:
        tokens = {}
        for role in ("supervisor", "agent"):
            await create_user(session, f"stats-{role}", role)  # type: ignore[arg-type]
            tokens[role] = await issue_token(session, f"stats-{role}")
        await session.commit()
    app = create_app(Settings(), db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        def auth(role: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[role]}"}

        params = {"from": DAY, "to": DAY, "by": "agent"}
        resp = await client.get("/api/v1/stats", params=params, headers=auth("supervisor"))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["totals"] == TOTALS
        assert body == await _build(scenario_db, "agent")
        resp = await client.get("/api/v1/stats", params={**params, "format": "csv"},
                                headers=auth("supervisor"))
        assert resp.headers["content-type"].startswith("text/csv")
        assert "attachment" in resp.headers["content-disposition"]
        lines = list(csv.DictReader(io.StringIO(resp.text)))
        assert [r["key"] for r in lines] == ["-", "1001", "1002", "TOTAL"]
        assert lines[-1]["answer_rate"] == "0.6471" and lines[-1]["offered"] == "17"
        assert json.loads(lines[2]["pause_by_reason"]) == {"用餐": 600.0}
        resp = await client.get("/api/v1/stats", params=params, headers=auth("agent"))
        assert resp.status_code == 403
        resp = await client.get("/api/v1/stats", params={"from": "2026-02-30", "to": DAY},
                                headers=auth("supervisor"))
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_request"
        resp = await client.get("/api/v1/stats", params={"from": DAY, "to": "2026-11-01"},
                                headers=auth("supervisor"))
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_period"
        assert "is before from" in resp.json()["error"]["message"]
        resp = await client.get("/api/v1/stats/busiest-hour", params={"from": DAY, "to": DAY},
                                headers=auth("supervisor"))
        busiest = resp.json()
        assert (busiest["start"], busiest["offered"], busiest["aht_s"]) == \
            ("2026-11-02T09:00:00+08:00", 17, 80.0)
        assert busiest["staffing"]["traffic_erlangs"] == round(17 * 80 / 3600, 4)
    await db.dispose()


async def test_an_agent_ready_since_the_day_before_counts_from_midnight(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from app.acd.agents import create_agent
    from app.admin.demo_data import seed_centers
    from tests.stats_scenario import CLOCKED, Clock, Scenario

    url = f"sqlite:///{tmp_path / 'ready.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    clock = Clock(datetime(2026, 11, 3, 15, 0, tzinfo=UTC))  # 23:00 on the 3rd, local
    for module in CLOCKED:
        monkeypatch.setattr(f"{module}.now", clock.now)
    db = Database(url)
    async with db.session() as session:
        await seed_centers(session)
        await create_agent(session, "2001", name="王芳", center="太原", password="secret-2001")
        await session.commit()
    await Scenario(db, clock).agent_state("2001", "ready")
    await db.dispose()

    async def ready(day: str) -> Any:
        db = Database(url)
        async with db.session() as session:
            data = await report.build(session, Period.of(day, day, "Asia/Shanghai"), "agent",
                                      Rules())
        await db.dispose()
        return data["totals"]["ready_s"]

    assert await ready("2026-11-03") == 3600.0
    assert await ready("2026-11-04") == 86400.0  # still ready: the whole day


async def test_ivr_step_figures_follow_the_step_details(empty_db_url: str) -> None:
    """Summed in SQL from the steps' JSON: a menu's spoken answer counts as heard even when
    no intent came back (its `intent` is null), a spoken entry (no `intent` key) does not;
    the branch is the first choice that led to a node."""
    from datetime import UTC, datetime, timedelta

    from app.db.models import CallOutcome, CallRecord, CallStep

    await asyncio.to_thread(migrate.upgrade, empty_db_url)
    at = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 local
    db = Database(empty_db_url)
    async with db.session() as session:
        session.add(CallRecord(id="c-1", caller="13800138000", called="12306", started_at=at,
                               ended_at=at + timedelta(minutes=1),
                               outcome=CallOutcome.SELF_SERVICE, language="zh",
                               priority=False))
        for seq, (kind, detail) in enumerate([
                ("speech", {"intent": None, "transcript": "嗯"}),
                ("choice", {"key": "9", "to": "", "by": "speech"}),
                ("speech", {"intent": "refund", "transcript": "退票"}),
                ("confirm", {"intent": "refund", "key": "1"}),
                ("choice", {"key": "2", "to": "refund_change", "by": "speech"}),
                ("speech", {"seconds": 2.0, "entities": ["order_no"]}),
                ("choice", {"key": "1", "to": "order_query"})]):
            session.add(CallStep(call_id="c-1", seq=seq, at=at, kind=kind, detail=detail))
        await session.commit()
    await db.dispose()
    data = await _build(empty_db_url, "ivr")
    [row] = data["rows"]
    assert row["key"] == "refund_change"
    assert (row["calls"], row["self_service"], row["speech_share"],
            row["confirmation_rate"]) == (1, 1, round(2 / 3, 4), 0.5)
