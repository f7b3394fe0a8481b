"""What the look-up throttle costs a correct look-up, and what a brute-force attempt gets.

On a seeded SQLite database (and PostgreSQL with --postgres URL): the mean time of a correct
order look-up through the service (throttle check included) against the bare order query, with
an empty failure table and with one holding many failures (an attack on many orders); then a
brute force of one order's 10,000 verification codes from ever-changing callers, counting how
many were judged before the lock. Prints one JSON line per engine.
Run: .venv/bin/python bench/lookup_throttle.py [--orders 2000] [--failures 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from app.admin.demo_data import seed_demo
from app.db import migrate
from app.db.models import LookupFailure, Order
from app.db.session import Database
from app.services import throttle as throttle_module
from app.services.throttle import LookupThrottle, OrderLocked
from app.services.tickets import ORDER_QUERY, lookup_order


async def mean_ms(db: Database, sample: list[tuple[str, str]], throttled: bool) -> float:
    lookups = LookupThrottle()
    started = time.perf_counter()
    for order_no, code in sample:
        if throttled:
            view = await lookup_order(db, order_no, code, lookups, caller="13800138000",
                                      user_id=1)
            assert view is not None
        else:
            async with db.raw.connection() as conn:
                (rows,) = await conn.fetch((db.raw.compile(ORDER_QUERY), {"number": order_no}))
            assert rows
    return round((time.perf_counter() - started) * 1000 / len(sample), 3)


async def brute_force(db: Database, order_no: str) -> dict[str, int]:
    lookups = LookupThrottle()
    judged = refused = 0
    for n in range(10000):
        try:
            await lookup_order(db, order_no, f"{n:04d}", lookups, caller=f"139{n:08d}",
                               user_id=n)
            judged += 1
        except OrderLocked:
            refused += 1
    return {"codes_tried": 10000, "judged": judged, "refused": refused}


async def run(url: str, orders: int, failures: int) -> dict[str, object]:
    db = Database(url)
    async with db.session() as session:
        await seed_demo(session, orders=orders, progress=lambda _: None)
        await session.commit()
        rows = await session.execute(select(Order.order_no, Order.phone).limit(500))
        sample = [(no, phone[-4:]) for no, phone in rows]
    for throttled in (False, True):
        await mean_ms(db, sample[:50], throttled)  # warm-up
    result: dict[str, object] = {"engine": db.dialect, "lookups": len(sample)}
    result["bare_query_ms"] = await mean_ms(db, sample, False)
    result["with_throttle_ms"] = await mean_ms(db, sample, True)
    async with db.session() as session:
        now = throttle_module.now()
        for start in range(0, failures, 10000):
            await session.execute(insert(LookupFailure), [
                {"key": f"order:E9{n:08d}", "at": now} for n in range(start, start + 10000)])
        await session.commit()
    result["failures_stored"] = failures
    result["with_throttle_full_table_ms"] = await mean_ms(db, sample, True)
    result["brute_force"] = await brute_force(db, sample[-1][0])
    await db.dispose()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000, help="orders to seed")
    parser.add_argument("--failures", type=int, default=100_000,
                        help="failures of other orders in the table for the second run")
    parser.add_argument("--postgres", metavar="URL", help="also run on this empty database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = [f"sqlite:///{Path(tmp) / 'bench' / 'throttle.db'}"]
        if args.postgres:
            urls.append(args.postgres)
        for url in urls:
            migrate.upgrade(url)
            print(json.dumps(asyncio.run(run(url, args.orders, args.failures))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
