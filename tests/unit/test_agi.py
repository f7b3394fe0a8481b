"""Dialplan services: what each route answers from the tables, and that the FastAGI server
answers every request within its budget (defaults when the work is slow or fails)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.agi import answers, store, tables
from app.agi.models import PeriodKind
from app.agi.server import REFRESH_SECONDS, AgiServer, _set_commands
from app.db import migrate
from app.db.models import CallRecord
from app.db.session import Database

# A Wednesday, 10:00 China Standard Time.
WEDNESDAY_10 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'agi.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


async def test_an_unknown_caller_gets_the_defaults(db: Database) -> None:
    async with db.session() as s:
        got = await answers.caller_profile(s, "13800000000", WEDNESDAY_10)
    assert got == answers.DEFAULTS["caller_profile"]


async def test_blocked_special_and_expired_numbers(db: Database) -> None:
    async with db.session() as s:
        await store.block(s, "13900000001", "harassing calls")
        await store.block(s, "13900000002", "old", WEDNESDAY_10 - timedelta(minutes=1))
        await store.add_special(s, "13900000003", "wheelchair")
        await s.commit()
        blocked = await answers.caller_profile(s, "13900000001", WEDNESDAY_10)
        expired = await answers.caller_profile(s, "13900000002", WEDNESDAY_10)
        special = await answers.caller_profile(s, "13900000003", WEDNESDAY_10)
        await answers.caller_profile(s, "13900000001", WEDNESDAY_10, count=False)
        entries = {b.number: b for b in await store.blocked(s)}
    assert blocked["HOTLINE_BLOCKED"] == "1" and expired["HOTLINE_BLOCKED"] == "0"
    assert special["HOTLINE_PRIORITY"] == "1" and blocked["HOTLINE_PRIORITY"] == "0"
    assert entries["13900000001"].hits == 1, "counted once; the preview does not count"


async def test_language_and_repeat_calls_from_the_call_records(db: Database) -> None:
    caller = "13700000000"
    async with db.session() as s:
        for hours_ago, lang in ((30, "zh"), (5, "zh"), (1, "en")):
            started = (WEDNESDAY_10 - timedelta(hours=hours_ago)).timestamp()
            s.add(CallRecord(id=f"c{hours_ago}", caller=caller, called="12306", language=lang,
                             started_at=datetime.fromtimestamp(started, UTC)))
        await s.commit()
        got = await answers.caller_profile(s, caller, WEDNESDAY_10)
    assert got["HOTLINE_LANG"] == "en", "the language of the last call"
    assert got["HOTLINE_REPEAT"] == "2", "calls in the last 24 h"


async def hours_at(s: AsyncSession, moment: datetime) -> dict[str, str]:
    return answers.business_hours(await tables.load(s), moment)


async def test_weekly_hours_holidays_and_peak(db: Database) -> None:
    async with db.session() as s:
        open_all_week = await hours_at(s, WEDNESDAY_10)
        await store.set_weekly_hours(s, [(2, time(8), time(12)), (2, time(14), time(0))])
        morning = await hours_at(s, WEDNESDAY_10)
        lunch = await hours_at(s, WEDNESDAY_10 + timedelta(hours=3))
        late = await hours_at(s, WEDNESDAY_10 + timedelta(hours=13, minutes=59))
        thursday = await hours_at(s, WEDNESDAY_10 + timedelta(days=1))
        await store.set_period(s, "closed day", PeriodKind.HOLIDAY, date(2026, 12, 2),
                               date(2026, 12, 2))
        holiday = await hours_at(s, WEDNESDAY_10)
        await store.set_period(s, "chunyun", PeriodKind.PEAK, date(2026, 12, 1),
                               date(2026, 12, 3), time(6), time(9))
        peak = await hours_at(s, WEDNESDAY_10)
    assert open_all_week == {"HOTLINE_OPEN": "1", "HOTLINE_MODE": "normal"}
    assert morning["HOTLINE_OPEN"] == "1" and lunch["HOTLINE_OPEN"] == "0"
    assert late["HOTLINE_OPEN"] == "1", "closes 24:00: open until midnight"
    assert thursday["HOTLINE_OPEN"] == "0", "no span on Thursday"
    assert holiday == {"HOTLINE_OPEN": "0", "HOTLINE_MODE": "holiday"}
    assert peak == {"HOTLINE_OPEN": "0", "HOTLINE_MODE": "peak"}, "peak wins, its hours 6-9"


async def test_routes_and_bad_input(db: Database) -> None:
    async with db.session() as s:
        await store.set_route(s, "12307", "night", {"hotline", "night"})
        snapshot = await tables.load(s)
        assert answers.route(snapshot, "12307") == {"HOTLINE_FLOW": "night"}
        assert answers.route(snapshot, "12306") == {"HOTLINE_FLOW": "hotline"}
        with pytest.raises(store.StoreError, match="no flow named 'nope'"):
            await store.set_route(s, "12308", "nope", {"hotline"})
        with pytest.raises(store.StoreError, match="3 to 20 digits"):
            await store.block(s, "12a", "x")
        with pytest.raises(store.StoreError, match="closing must be after opening"):
            await store.set_weekly_hours(s, [(0, time(10), time(9))])
        with pytest.raises(store.StoreError, match="time zone"):
            await store.block(s, "13900000009", "x", datetime(2027, 1, 1))


class FakeAsterisk:
    """Asterisk's side of one FastAGI request: the agi_* headers, then '200 result=1' to
    every command, recording the variables set."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.variables: dict[str, str] = {}

    async def request(self, script: str, *args: str) -> float:
        started = asyncio.get_running_loop().time()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = [f"agi_network_script: {script}", "agi_uniqueid: 1.1",
                "agi_callerid: 13800000000"]
        head += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, start=1)]
        writer.write(("\n".join(head) + "\n\n").encode())
        while line := await reader.readline():
            command = line.decode().strip()
            if command.startswith("EXEC MSet "):
                pairs = command.removeprefix("EXEC MSet ").strip('"').split(",")
                self.variables.update(pair.split("=", 1) for pair in pairs)  # type: ignore[misc]
            else:
                _, name, value = command.split(" ", 3)[1:]
                self.variables[name] = value.strip('"')
            writer.write(b"200 result=1\n")
        writer.close()
        return asyncio.get_running_loop().time() - started


@pytest.fixture
async def server(db: Database) -> AsyncIterator[AgiServer]:
    agi = AgiServer(db, "127.0.0.1", 0, budget=0.3, clock=lambda: WEDNESDAY_10)
    await agi.start()
    assert agi.server is not None
    agi.port = agi.server.sockets[0].getsockname()[1]
    yield agi
    await agi.stop()


async def test_each_route_sets_its_variables(server: AgiServer, db: Database) -> None:
    async with db.session() as s:
        await store.add_special(s, "13800000000")
        await s.commit()
    await server.reload_tables()
    asterisk = FakeAsterisk(server.port)
    await asterisk.request("caller_profile", "13800000000")
    await asterisk.request("business_hours")
    await asterisk.request("route", "12306")
    assert asterisk.variables == {
        "HOTLINE_PRIORITY": "1", "HOTLINE_LANG": "zh", "HOTLINE_BLOCKED": "0",
        "HOTLINE_REPEAT": "0", "HOTLINE_OPEN": "1", "HOTLINE_MODE": "normal",
        "HOTLINE_FLOW": "hotline", "HOTLINE_AGI": "ok"}
    assert server.answered == 3 and server.defaulted == 0


async def test_a_hanging_database_call_gets_the_defaults_within_the_budget(
        server: AgiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    release = asyncio.Event()

    async def hangs(*_: object, **__: object) -> tuple[str, int]:
        await release.wait()
        return "en", 9

    monkeypatch.setattr(answers, "caller_history", hangs)
    asterisk = FakeAsterisk(server.port)
    took = await asterisk.request("caller_profile", "13800000000")
    assert asterisk.variables == {**answers.DEFAULTS["caller_profile"], "HOTLINE_AGI": "default"}
    assert took < 1.0
    assert len(server.late) == 1, "the late work is left to finish on its own"
    release.set()
    await asyncio.sleep(0.05)
    assert not server.late


async def test_a_failing_route_gets_the_defaults(server: AgiServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*_: object, **__: object) -> dict[str, str]:
        raise RuntimeError("clock away")

    monkeypatch.setattr(answers, "business_hours", fails)
    asterisk = FakeAsterisk(server.port)
    await asterisk.request("business_hours")
    assert asterisk.variables == {"HOTLINE_OPEN": "1", "HOTLINE_MODE": "normal",
                                  "HOTLINE_AGI": "default"}
    assert server.defaulted == 1


async def test_a_peer_that_closes_before_its_headers_end_is_dropped(server: AgiServer) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: route\n")
    writer.close()
    await asyncio.sleep(0.1)
    asterisk = FakeAsterisk(server.port)
    await asterisk.request("route", "12306")
    assert asterisk.variables["HOTLINE_FLOW"] == "hotline", "the server still answers"


async def test_edits_reach_calls_at_once_when_told_and_within_a_tick_otherwise(
        server: AgiServer, db: Database) -> None:
    asterisk = FakeAsterisk(server.port)
    await asterisk.request("route", "12307")
    assert asterisk.variables["HOTLINE_FLOW"] == "hotline"
    async with db.session() as s:  # an edit through this process's API
        await store.set_route(s, "12307", "night", {"hotline", "night"})
        await s.commit()
    await server.reload_tables()
    await asterisk.request("route", "12307")
    assert asterisk.variables["HOTLINE_FLOW"] == "night"
    async with db.session() as s:  # an edit from another process: nobody tells the server
        await store.add_special(s, "13800000000")
        await s.commit()
    await asyncio.sleep(REFRESH_SECONDS + 0.5)
    await asterisk.request("caller_profile", "13800000000")
    assert asterisk.variables["HOTLINE_PRIORITY"] == "1"


def test_one_mset_for_plain_values_and_set_variable_for_the_rest() -> None:
    assert _set_commands({"A": "1", "B": "zh"}) == ['EXEC MSet "A=1,B=zh"']
    assert _set_commands({"A": "1", "B": 'x,"y'}) == ['SET VARIABLE A "1"',
                                                      'SET VARIABLE B "x,\\"y"']
