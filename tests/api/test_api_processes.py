"""`hotline api --workers N`: an API-only node of several processes on one port. On
PostgreSQL the look-up throttle holds across them; on SQLite, whose turn on an order is per
process, more than one process is refused with a clear message."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.conftest import Seeded
from tests.api.test_lookup_throttle import N, new_tokens, wrong_codes
from tests.api_node import api_node
from tests.browser import free_port


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def test_two_processes(seeded: Seeded, tmp_path: Path) -> None:
    env = {**os.environ, "HOTLINE_DATABASE_URL": seeded.url, "HOTLINE_STATE_DIR": str(tmp_path),
           "HOTLINE_API_HOST": "127.0.0.1", "HOTLINE_API_PORT": str(free_port()),
           "HOTLINE_LOOKUP_MAX_FAILURES": str(N), "HOTLINE_LOOKUP_CALLER_MAX_FAILURES": "1000",
           "HOTLINE_LOOKUP_USER_MAX_FAILURES": "1000"}
    if seeded.url.startswith("sqlite"):
        done = subprocess.run([sys.executable, "-m", "app.cli", "api", "--workers", "2"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert "need PostgreSQL" in done.stdout + done.stderr
        return
    with api_node(env, tmp_path / "api.log", "--workers", "2") as (base, proc):
        assert len(children(proc.pid)) >= 2  # the supervisor's worker processes
        order = seeded.orders[9]
        tokens = asyncio.run(new_tokens(seeded, 3))
        guesses = [*wrong_codes(order)[:40], order["phone"][-4:]]

        async def burst() -> list[int]:
            # One connection per guess, all at once: both processes accept some of them.
            async def one(i: int, code: str) -> int:
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    resp = await http.post("/api/v1/tickets/lookup", json={
                        "order_no": order["order_no"], "verification": code,
                        "caller_number": f"136{i:08d}"},
                        headers={"Authorization": f"Bearer {tokens[i % 3]}"})
                    return resp.status_code
            return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(guesses))))

        statuses = asyncio.run(burst())
        assert set(statuses) <= {200, 404, 429}, statuses
        assert statuses.count(404) <= N
        assert sum(s in (200, 404) for s in statuses) <= N + (200 in statuses)
        # A correct look-up of another order is served (the processes are not just refusing).
        other = seeded.orders[10]
        ok = httpx.post(f"{base}/api/v1/tickets/lookup", json={
            "order_no": other["order_no"], "verification": other["phone"][-4:]},
            headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=30)
        assert ok.status_code == 200, ok.text
        assert ok.json()["order_no"] == other["order_no"]
