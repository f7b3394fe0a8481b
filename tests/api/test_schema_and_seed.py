"""Migrations up and down on both engines; the demo seed is deterministic."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import delete, inspect, select, text

from app.admin.demo_data import SeedError, seed_demo
from app.db import migrate
from app.db.models import Base, Center, Order, Ticket, Train, TrainRun, TrainStop
from app.db.session import Database


async def _tables(url: str) -> set[str]:
    db = Database(url)
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await db.dispose()
    return names


def test_migrations_up_down_up(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    assert set(Base.metadata.tables) <= asyncio.run(_tables(empty_db_url))
    migrate.downgrade(empty_db_url, "base")
    assert asyncio.run(_tables(empty_db_url)) <= {"alembic_version"}
    migrate.upgrade(empty_db_url)
    assert set(Base.metadata.tables) <= asyncio.run(_tables(empty_db_url))


async def _indexes(url: str) -> set[tuple[str, str]]:
    db = Database(url)
    async with db.engine.connect() as conn:
        found = await conn.run_sync(lambda c: {
            (table, ix["name"]) for table in inspect(c).get_table_names()
            for ix in inspect(c).get_indexes(table) if ix["name"]})
    await db.dispose()
    return found


def test_the_migrations_make_every_index_of_the_models(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    wanted = {(t.name, ix.name) for t in Base.metadata.tables.values() for ix in t.indexes
              if ix.name}
    assert wanted - asyncio.run(_indexes(empty_db_url)) == set()


async def _dump(url: str, seed: int) -> list[tuple[object, ...]]:
    db = Database(url)
    async with db.session() as session:
        await seed_demo(session, orders=150, seed=seed, today=date(2026, 12, 5),
                        progress=lambda _: None)
        await session.commit()
        rows: list[tuple[object, ...]] = []
        for model, order in ((Train, Train.id), (TrainStop, TrainStop.id),
                             (TrainRun, TrainRun.id), (Order, Order.id), (Ticket, Ticket.id)):
            for obj in await session.scalars(select(model).order_by(order)):
                rows.append(tuple(
                    getattr(obj, c.key) for c in model.__table__.columns
                    if c.key not in ("created_at", "updated_at")
                ))
        try:
            await seed_demo(session, orders=1, progress=lambda _: None)
            raise AssertionError("seeding twice must be refused")
        except SeedError:
            pass
    await db.dispose()
    return rows


def test_seed_is_deterministic(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'{n}.db'}" for n in ("a", "b", "c")]
    for url in urls:
        migrate.upgrade(url)
    first = asyncio.run(_dump(urls[0], seed=1))
    second = asyncio.run(_dump(urls[1], seed=1))
    other = asyncio.run(_dump(urls[2], seed=2))
    assert first == second
    assert first != other
    assert len([r for r in first if isinstance(r[1], str) and str(r[1]).startswith("E")]) == 150


async def _queue_results(url: str) -> list[str | None]:
    db = Database(url)
    async with db.engine.connect() as conn:
        rows = await conn.execute(text("select result from queue_entries order by id"))
        results = [r[0] for r in rows]
    await db.dispose()
    return results


async def _insert_waits(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text(
            "insert into calls (id, caller, called, language, priority, started_at) "
            "values ('c1', '13800138000', '12306', 'zh', false, :at)"), {"at": datetime.now(UTC)})
        for result in ("ended", "abandoned", None):
            await conn.execute(text(
                "insert into queue_entries (call_id, queue, priority, reason, entered_at, result) "
                "values ('c1', 'general', false, 'x', :at, :result)"),
                {"at": datetime.now(UTC), "result": result})
    await db.dispose()


def test_contact_center_migration_renames_platform_ended_waits(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url, "0002")
    asyncio.run(_insert_waits(empty_db_url))
    migrate.upgrade(empty_db_url, "0003")
    assert asyncio.run(_queue_results(empty_db_url)) == ["ended_by_platform", "abandoned", None]
    assert {"centers", "agents", "agent_skills", "agent_states", "agent_state_events",
            "agent_legs", "callbacks"} <= asyncio.run(_tables(empty_db_url))
    migrate.downgrade(empty_db_url, "0002")
    assert asyncio.run(_queue_results(empty_db_url)) == ["ended", "abandoned", None]
    assert "agents" not in asyncio.run(_tables(empty_db_url))


async def _centers(url: str) -> list[tuple[str, str]]:
    db = Database(url)
    async with db.session() as session:
        await seed_demo(session, orders=5, seed=3, today=date(2026, 12, 5),
                        progress=lambda _: None)
        await session.commit()
        centers = await session.scalars(select(Center).order_by(Center.id))
        rows = [(c.name, c.code) for c in centers]
    await db.dispose()
    return rows


def test_demo_seed_has_the_centers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    migrate.upgrade(url)
    assert asyncio.run(_centers(url)) == [("北京", "bj"), ("上海", "sh"), ("太原", "ty")]


async def _prepare_existing(url: str, tmp_path: Path) -> list[str]:
    from app.config import Settings
    from app.server import prepare_database

    db = Database(url)
    async with db.session() as session:
        await seed_demo(session, orders=5, seed=3, progress=lambda _: None)
        await session.execute(delete(Center))  # demo data from before centers existed
        await session.commit()
    await prepare_database(Settings(state_dir=tmp_path, database_url=url), db, demo_data=True)
    async with db.session() as session:
        names = list(await session.scalars(select(Center.name).order_by(Center.id)))
    await db.dispose()
    return names


def test_serve_adds_the_centers_to_earlier_demo_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    migrate.upgrade(url)
    assert asyncio.run(_prepare_existing(url, tmp_path)) == ["北京", "上海", "太原"]
