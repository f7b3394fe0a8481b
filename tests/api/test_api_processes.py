"""`hotline api --workers N`: an API-only node of several processes on one port. On
PostgreSQL the look-up throttle holds across them; on SQLite, whose turn on an order is per
process, more than one process is refused with a clear message."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Seeded
from tests.api.test_lookup_throttle import N, new_tokens, wrong_codes
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


@pytest.fixture
def node_env(seeded: Seeded, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HOTLINE_DATABASE_URL": seeded.url, "HOTLINE_STATE_DIR": str(tmp_path),
            "HOTLINE_API_HOST": "127.0.0.1", "HOTLINE_API_PORT": str(free_port()),
            "HOTLINE_LOOKUP_MAX_FAILURES": str(N), "HOTLINE_LOOKUP_CALLER_MAX_FAILURES": "1000",
            "HOTLINE_LOOKUP_USER_MAX_FAILURES": "1000"}


@pytest.fixture
def two_processes(seeded: Seeded, node_env: dict[str, str],
                  tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    if not seeded.url.startswith("postgresql"):
        pytest.fail("two processes are started on PostgreSQL only")
    log = (tmp_path / "api.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "api", "--workers", "2"],
                            env=node_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{node_env['HOTLINE_API_PORT']}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                f"the API did not start: {(tmp_path / 'api.log').read_text()}")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_several_processes_on_sqlite_are_refused(seeded: Seeded,
                                                 node_env: dict[str, str]) -> None:
    if not seeded.url.startswith("sqlite"):
        return  # PostgreSQL: test_the_throttle_holds_across_processes
    done = subprocess.run([sys.executable, "-m", "app.cli", "api", "--workers", "2"],
                          env=node_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "need PostgreSQL" in done.stdout + done.stderr


def test_the_throttle_holds_across_processes(request: pytest.FixtureRequest,
                                             seeded: Seeded) -> None:
    if not seeded.url.startswith("postgresql"):
        return  # SQLite: test_several_processes_on_sqlite_are_refused
    base, proc = request.getfixturevalue("two_processes")
    workers = children(proc.pid)
    assert len(workers) >= 2, workers  # the supervisor's processes (and no more than asked)
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
    # And a correct look-up of another order is served (the processes are not just refusing).
    other = seeded.orders[10]
    ok = httpx.post(f"{base}/api/v1/tickets/lookup", json={
        "order_no": other["order_no"], "verification": other["phone"][-4:]},
        headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=30)
    assert ok.status_code == 200, ok.text
    assert ok.json()["order_no"] == other["order_no"]
