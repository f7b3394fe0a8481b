"""The ceiling for the ticket look-up: a bare Starlette route, the same indexed query, the same
driver (aiosqlite or asyncpg), no ORM, no auth, no validation. Run by bench/api_lookup.py."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SQL = """
select o.order_no, o.id_number, o.phone, tr.number, r.run_date, fs.name, ts.name,
       dep.depart_min, arr.arrive_min, t.coach, t.seat, t.seat_class, t.price_cents, t.status
from orders o
left join tickets t on t.order_id = o.id
left join train_runs r on r.id = t.run_id
left join trains tr on tr.id = r.train_id
left join stations fs on fs.id = t.from_station_id
left join stations ts on ts.id = t.to_station_id
left join train_stops dep on dep.train_id = tr.id and dep.station_id = t.from_station_id
left join train_stops arr on arr.train_id = tr.id and arr.station_id = t.to_station_id
where o.order_no = {param}
order by t.id
"""

URL = os.environ["BARE_DATABASE_URL"]
state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    if URL.startswith("sqlite"):
        import aiosqlite

        conn = await aiosqlite.connect(URL.split(":///", 1)[1])
        await conn.execute("PRAGMA journal_mode=WAL")
        state["sqlite"] = conn
        yield
        await conn.close()
    else:
        import asyncpg  # type: ignore[import-untyped]

        pool = await asyncpg.create_pool(URL.replace("+asyncpg", ""), min_size=10, max_size=10)
        state["pg"] = pool
        yield
        await pool.close()


async def lookup(request: Request) -> JSONResponse:
    body = await request.json()
    if "sqlite" in state:
        cur = await state["sqlite"].execute(SQL.format(param="?"), (body["order_no"],))
        rows = list(await cur.fetchall())
    else:
        rows = await state["pg"].fetch(SQL.format(param="$1"), body["order_no"])
    if not rows or not (
        rows[0][1].endswith(body["verification"]) or rows[0][2].endswith(body["verification"])
    ):
        return JSONResponse({"error": "not found"}, 404)
    return JSONResponse(
        {"order_no": rows[0][0], "tickets": [[str(v) for v in r[3:]] for r in rows]}
    )


app = Starlette(routes=[Route("/lookup", lookup, methods=["POST"])], lifespan=lifespan)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
