"""How long a call's database writes hold SQLite's write lock while the event loop is busy.

A transaction holds the database's single write lock from its first change to its commit;
each statement in between is a hand-off to the connection's thread and back through the
event loop. With callers' audio on the same loop every hand-off waits its turn, so the hold
grows with the statements under the lock times the loop's lag. This runs the call path's
writes (open the record, queue, ring, answer, talk ended, wrap-up, close the record with its
steps) on a fresh SQLite file in a temporary directory, beside --callers tasks that each do
--frame-us of CPU work 50 times a second (a listening caller's audio), and prints one JSON
line: the loop's lag (ms, p50/p99) and per transaction the statements under the lock and
the hold (ms, p50/max).

Run: .venv/bin/python bench/db_write_lock.py [--calls 40 --callers 150 --frame-us 60 --steps 30]
(a few seconds; no PBX).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from app.acd import records
from app.acd.agents import create_agent, get_agent
from app.acd.states import set_state
from app.admin.demo_data import seed_centers
from app.core.calltrace import CallTrace, EndedBy
from app.db import migrate
from app.db.models import CallOutcome, QueueResult
from app.db.session import Database
from app.db.sqlite_driver import WriteSpan
from app.services import call_records

FRAME = 0.02  # seconds between audio frames of one caller


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=40, help="calls written one after the other")
    p.add_argument("--callers", type=int, default=150,
                   help="tasks standing for listening callers (the loop's load)")
    p.add_argument("--frame-us", type=float, default=60.0,
                   help="CPU microseconds per caller per audio frame")
    p.add_argument("--steps", type=int, default=30, help="steps in each call's record")
    return p.parse_args()


async def caller(frame_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        end = time.perf_counter() + frame_s
        while time.perf_counter() < end:
            pass
        await asyncio.sleep(FRAME)


async def loop_lag(lags: list[float], stop: asyncio.Event) -> None:
    """How late a 10 ms sleep wakes up: the loop's lag, a stall of the process included."""
    while not stop.is_set():
        asked = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(max(0.0, time.perf_counter() - asked - 0.01))


async def one_call(db: Database, n: int, steps: int) -> None:
    trace = CallTrace(f"bench-{n}", "13800138000", "12306")
    async with db.session() as session:
        await call_records.open_call(session, trace)
        await session.commit()
    async with db.session() as session:
        entry = await call_records.enter_queue(session, trace.call_id, "general", False, "bench")
        await session.commit()
    await records.route_entry(db, entry.id, "ticket", None)
    leg = await records.start_ringing(db, "1001", trace.call_id, entry.id)
    assert leg is not None
    await records.answered(db, "1001", leg, f"chan-{n}")
    await records.close_entry(db, entry.id, QueueResult.CONNECTED, answered=True)
    await records.talk_ended(db, "1001", leg, 0.0)
    await records.wrap_up_done(db, "1001")
    for s in range(steps):
        trace.step("prompt", prompt="welcome", n=s)
    trace.ended(EndedBy.CALLER, "bench")
    async with db.session() as session:
        await call_records.close_call(session, trace, language="zh", priority=False,
                                      outcome=CallOutcome.TRANSFERRED, reason="bench",
                                      ended_by=EndedBy.CALLER)
        await session.commit()


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database(url, slow_write_seconds=1e-9)
        spans: list[WriteSpan] = []
        assert db.write_watch is not None
        db.write_watch.ended = spans.append  # type: ignore[method-assign]
        async with db.session() as session:
            await seed_centers(session)
            await create_agent(session, "1001", name="bench", center="北京",
                               skills={"ticket": 5}, password="password-1")
            await set_state(session, await get_agent(session, "1001"), "ready", by="system")
            await session.commit()
        spans.clear()
        stop = asyncio.Event()
        lags: list[float] = []
        load = [asyncio.create_task(caller(args.frame_us / 1e6, stop))
                for _ in range(args.callers)]
        load.append(asyncio.create_task(loop_lag(lags, stop)))
        await asyncio.sleep(0.5)  # the callers' frames spread over the loop
        for n in range(args.calls):
            await one_call(db, n, args.steps)
        stop.set()
        await asyncio.gather(*load)
        await db.dispose()
    by_where: dict[str, list[WriteSpan]] = defaultdict(list)
    for span in spans:
        by_where[span.where.split(" < ")[-1].split(" ")[-1]].append(span)
    return {
        "callers": args.callers, "frame_us": args.frame_us, "calls": args.calls,
        "loop_lag_ms": {"p50": ms(lags, 0.5), "p99": ms(lags, 0.99), "max": ms(lags, 1.0)},
        "write_lock": {
            where: {"statements": statistics.median(s.statements for s in found),
                    "hold_ms_p50": ms([s.seconds for s in found], 0.5),
                    "hold_ms_max": ms([s.seconds for s in found], 1.0)}
            for where, found in by_where.items()},
        "lock_ms_per_call": round(1000 * sum(s.seconds for s in spans) / args.calls, 1),
    }


def main() -> int:
    print(json.dumps(asyncio.run(run(parse_args())), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
