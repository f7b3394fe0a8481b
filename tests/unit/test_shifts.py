"""Shifts 班务 against a real temporary SQLite database: the CLI, time zones, the roster."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.acd import shifts as svc
from app.acd.agents import get_agent
from app.acd.states import set_state
from app.cli import main
from app.config import get_settings
from app.db import migrate
from app.db.session import Database

CST = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated database with three centers and agents 1001-1004 (北京), 2001 (上海)."""
    db = tmp_path / "hotline.db"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOTLINE_PBX_ROOT", str(tmp_path / "root"))
    get_settings.cache_clear()
    migrate.upgrade(f"sqlite:///{db}")
    con = sqlite3.connect(db)
    con.executemany("insert into centers (name, code, enabled) values (?, ?, 1)",
                    [("北京", "bj"), ("上海", "sh"), ("太原", "ty")])
    con.commit()
    con.close()
    for number, name, center in (("1001", "张一", "北京"), ("1002", "张二", "北京"),
                                 ("1003", "张三", "北京"), ("1004", "张四", "北京"),
                                 ("2001", "李一", "上海")):
        assert main(["agents", "create", number, "--name", name, "--center", center,
                     "--password", "pass-1234"]) == 0
    yield tmp_path
    get_settings.cache_clear()


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main(["shifts", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def stored(tmp: Path) -> list[tuple[int, str, str]]:
    con = sqlite3.connect(tmp / "hotline.db")
    rows = con.execute("select id, starts_at, ends_at from shifts order by id").fetchall()
    con.close()
    return rows


def test_add_list_remove(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    added = run_json(capsys, "add", "1001", "--date", "2026-12-01", "--start", "08:00",
                     "--end", "17:00", "--days", "2", "--note", "早班")
    assert isinstance(added, list)
    assert [(s["agent"], s["center"], s["start"], s["end"], s["note"]) for s in added] == [
        ("1001", "北京", "2026-12-01T08:00:00+08:00", "2026-12-01T17:00:00+08:00", "早班"),
        ("1001", "北京", "2026-12-02T08:00:00+08:00", "2026-12-02T17:00:00+08:00", "早班"),
    ]
    # Stored in UTC: 08:00 in Beijing is midnight UTC.
    assert stored(env)[0][1].startswith("2026-12-01 00:00:00")
    one_day = run_json(capsys, "list", "--from", "2026-12-02", "--to", "2026-12-02")
    assert [s["id"] for s in one_day] == [added[1]["id"]]  # type: ignore[index]
    assert run_json(capsys, "list", "--from", "2026-12-01", "--agent", "1002") == []
    assert run_json(capsys, "list", "--from", "2026-12-01", "--center", "上海") == []
    capsys.readouterr()
    assert main(["shifts", "list", "--from", "2026-12-01"]) == 0
    assert "1001\t张一\t北京\t2026-12-01 08:00 - 2026-12-01 17:00\t早班" in capsys.readouterr().out

    gone = run_json(capsys, "remove", str(added[0]["id"]))
    assert gone["start"] == "2026-12-01T08:00:00+08:00"  # type: ignore[index]
    assert [r[0] for r in stored(env)] == [added[1]["id"]]
    assert main(["shifts", "remove", str(added[0]["id"])]) == 2
    assert f"no shift {added[0]['id']}" in capsys.readouterr().err


def test_overnight_overlap_and_bad_input(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [night] = run_json(capsys, "add", "1002", "--date", "2026-12-01", "--start", "22:00",
                       "--end", "06:00")  # type: ignore[misc]
    assert (night["start"], night["end"]) == ("2026-12-01T22:00:00+08:00",
                                              "2026-12-02T06:00:00+08:00")
    cases = [
        (["1002", "--date", "2026-12-02", "--start", "05:00", "--end", "09:00"],
         "already has shift"),
        (["1002", "--date", "2026-12-03", "--start", "25:00", "--end", "09:00"],
         "not HH:MM"),
        (["1002", "--date", "2026-13-03", "--start", "08:00", "--end", "09:00"],
         "not YYYY-MM-DD"),
        (["1002", "--date", "2026-12-03", "--start", "08:00", "--end", "07:00"], "at most 16"),
        (["1002", "--date", "2026-12-03", "--start", "08:00", "--end", "09:00", "--days", "0"],
         "days must be 1 to 31"),
        (["9999", "--date", "2026-12-03", "--start", "08:00", "--end", "09:00"],
         "no agent 9999"),
        (["1002", "--date", "2026-12-03", "--start", "08:00", "--end", "09:00",
          "--center", "广州"], "unknown center"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert main(["shifts", "add", *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv
    # A run of days that clashes on its last day adds none of them.
    assert main(["shifts", "add", "1002", "--date", "2026-11-29", "--start", "23:00",
                 "--end", "07:00", "--days", "3"]) == 2
    assert len(stored(env)) == 1


def test_times_follow_the_centers_zone(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["centers", "timezone", "上海", "Mars/Olympus"]) == 2
    assert "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err
    assert main(["centers", "timezone", "sh", "Europe/London"]) == 0
    assert "center 上海: time zone Europe/London" in capsys.readouterr().out
    assert main(["centers", "list", "--json"]) == 0
    assert [c["timezone"] for c in json.loads(capsys.readouterr().out)] == [
        "Asia/Shanghai", "Europe/London", "Asia/Shanghai"]
    [shift] = run_json(capsys, "add", "2001", "--date", "2026-12-01", "--start", "08:00",
                       "--end", "12:00")  # type: ignore[misc]
    assert (shift["timezone"], shift["start"]) == ("Europe/London", "2026-12-01T08:00:00+00:00")
    assert stored(env)[0][1].startswith("2026-12-01 08:00:00")


async def _states(url: str, wanted: dict[str, tuple[str, str | None]]) -> None:
    db = Database(url)
    async with db.session() as session:
        for number, (state, reason) in wanted.items():
            await set_state(session, await get_agent(session, number), state, reason)
        await session.commit()
    await db.dispose()


def test_roster_scheduled_vs_logged_in(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for number in ("1001", "1002", "2001"):
        assert main(["shifts", "add", number, "--date", "2026-12-01", "--start", "08:00",
                     "--end", "17:00"]) == 0
    url = get_settings().db_url
    asyncio.run(_states(url, {"1001": ("ready", None), "1003": ("ready", None),
                              "2001": ("ready", None)}))
    asyncio.run(_states(url, {"1003": ("paused", "用餐")}))

    during = run_json(capsys, "roster", "--center", "北京", "--at", "2026-12-01 09:30")
    assert isinstance(during, dict)
    assert during["at"] == "2026-12-01T09:30:00+08:00"
    assert [(r["agent"], r["status"], r["state"], r["reason"]) for r in during["rows"]] == [
        ("1001", "present", "ready", None),
        ("1002", "absent", "logged_out", None),
        ("1003", "extra", "paused", "用餐"),
    ]  # 1004 is neither scheduled nor logged in; 2001 belongs to 上海
    assert during["rows"][0]["shift"]["end"] == "2026-12-01T17:00:00+08:00"

    after = run_json(capsys, "roster", "--center", "bj", "--at", "2026-12-01 17:00")
    assert [(r["agent"], r["status"]) for r in after["rows"]] == [  # type: ignore[index]
        ("1001", "extra"), ("1003", "extra")]

    async def aware() -> list[str]:
        db = Database(url)
        async with db.session() as session:
            _, rows = await svc.roster(session, "北京",
                                       datetime(2026, 12, 1, 1, 0, tzinfo=ZoneInfo("UTC")))
        await db.dispose()
        return [r.status for r in rows]

    assert asyncio.run(aware()) == ["present", "absent", "extra"]  # 09:00 in Beijing
    capsys.readouterr()
    assert main(["shifts", "roster", "--center", "北京", "--at", "2026-12-01 09:30"]) == 0
    assert "1002\t张二\tabsent\t08:00-17:00\tlogged_out" in capsys.readouterr().out
    assert main(["shifts", "roster", "--center", "北京", "--at", "tomorrow"]) == 2
    assert "--at 'tomorrow'" in capsys.readouterr().err
