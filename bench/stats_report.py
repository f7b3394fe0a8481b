"""How long a statistics report takes on a big day: the Taiyuan center's record day (15,909
agent-answered calls) as call records in a fresh SQLite database, then `report.build` by
center, queue, agent and IVR branch, per hour and for the whole day.

    python bench/stats_report.py [--calls 16000] [--agents 300]

Prints one JSON line: rows written, seconds to write them (bulk inserts, not the ACD's
per-call transactions), wall and CPU seconds per report, and the machine's load average
(on a shared machine the wall time grows with the load; the CPU time much less).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from app.admin.demo_data import seed_centers
from app.db import migrate
from app.db.models import (
    Agent,
    AgentLeg,
    AgentLegResult,
    AgentStateEvent,
    AgentStateName,
    CallOutcome,
    CallRecord,
    CallStep,
    Center,
    QueueEntry,
    QueueResult,
)
from app.db.session import Database
from app.stats import report
from app.stats.figures import Rules
from app.stats.periods import Period

DAY = datetime(2026, 11, 2, tzinfo=UTC) - timedelta(hours=8)  # local midnight, Asia/Shanghai
BRANCHES = ("order_query", "refund_change", "train_status", "lost_found", "complaint")


async def write(url: str, calls: int, agents: int, rng: random.Random) -> int:
    db = Database(url)
    rows = 0
    async with db.session() as session:
        await seed_centers(session)
        centers = list(await session.scalars(select(Center.id)))
        await session.execute(insert(Agent), [
            {"number": str(5000 + i), "name": f"坐席{i}", "center_id": centers[i % 3],
             "expert": False, "enabled": True, "sip_ha1": "0" * 32, "created_at": DAY}
            for i in range(agents)])
        agent_ids = list(await session.scalars(select(Agent.id)))
        events = []
        for aid in agent_ids:  # an 8-hour shift with a lunch pause
            start = DAY + timedelta(hours=rng.choice((8, 12, 16)))
            events += [
                {"agent_id": aid, "state": AgentStateName.READY, "at": start, "by": "self"},
                {"agent_id": aid, "state": AgentStateName.PAUSED, "reason": "用餐",
                 "at": start + timedelta(hours=4), "by": "self"},
                {"agent_id": aid, "state": AgentStateName.READY,
                 "at": start + timedelta(hours=4, minutes=30), "by": "self"},
                {"agent_id": aid, "state": AgentStateName.LOGGED_OUT,
                 "at": start + timedelta(hours=8), "by": "self"}]
        await session.execute(insert(AgentStateEvent), events)
        rows += len(agent_ids) + len(events)
        records, steps, entries = [], [], []
        for i in range(calls):
            started = DAY + timedelta(seconds=rng.uniform(6 * 3600, 23 * 3600))
            cid = f"b-{i}"
            records.append({"id": cid, "caller": "13800138000", "called": "12306",
                            "started_at": started, "ended_at": started + timedelta(minutes=4),
                            "outcome": CallOutcome.TRANSFERRED, "language": "zh",
                            "priority": False})
            steps.append({"call_id": cid, "seq": 0, "at": started, "kind": "choice",
                          "detail": {"to": rng.choice(BRANCHES), "key": "1"}})
            wait = rng.expovariate(1 / 25)
            entries.append({"call_id": cid, "queue": "ticket", "priority": False,
                            "reason": "menu", "entered_at": started + timedelta(seconds=30),
                            "left_at": started + timedelta(seconds=30 + wait),
                            "result": QueueResult.CONNECTED if wait < 90
                            else QueueResult.ABANDONED,
                            "wait_seconds": wait, "center_id": rng.choice(centers),
                            "skill": "ticket", "kind": "live"})
        await session.execute(insert(CallRecord), records)
        await session.execute(insert(CallStep), steps)
        await session.execute(insert(QueueEntry), entries)
        ids = list(await session.execute(
            select(QueueEntry.id, QueueEntry.call_id, QueueEntry.left_at)
            .where(QueueEntry.result == QueueResult.CONNECTED)))
        await session.execute(insert(AgentLeg), [
            {"call_id": cid, "queue_entry_id": eid, "agent_id": rng.choice(agent_ids),
             "ring_at": left, "answer_at": left, "end_at": left + timedelta(minutes=3),
             "result": AgentLegResult.ANSWERED, "talk_seconds": 180.0, "hold_seconds": 0.0,
             "wrap_up_seconds": 15.0} for eid, cid, left in ids])
        rows += len(records) + len(steps) + len(entries) + len(ids)
        await session.commit()
    await db.dispose()
    return rows


async def time_reports(url: str) -> tuple[dict[str, float], dict[str, float]]:
    """Wall and CPU seconds per report (this process: the CPU time counts SQLite's work in
    its thread too, and is what a loaded machine does not inflate)."""
    db = Database(url)
    out, cpu = {}, {}
    try:
        for by in ("center", "queue", "agent", "ivr"):
            for interval in (None, "hour"):
                period = Period.of("2026-11-02", "2026-11-02", "Asia/Shanghai", interval)
                begin, begin_cpu = time.perf_counter(), time.process_time()
                async with db.session() as session:
                    await report.build(session, period, by, Rules())
                name = f"{by}/{interval or 'day'}"
                out[name] = round(time.perf_counter() - begin, 3)
                cpu[name] = round(time.process_time() - begin_cpu, 3)
    finally:
        await db.dispose()
    return out, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=16000)
    parser.add_argument("--agents", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotline-bench-stats-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'stats.db'}"
        migrate.upgrade(url)
        begin = time.perf_counter()
        rows = asyncio.run(write(url, args.calls, args.agents, random.Random(7)))
        written = round(time.perf_counter() - begin, 2)
        reports, cpu = asyncio.run(time_reports(url))
    print(json.dumps({"calls": args.calls, "agents": args.agents, "rows": rows,
                      "write_s": written, "report_s": reports, "report_cpu_s": cpu,
                      "load_avg_1m": round(os.getloadavg()[0], 2)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
