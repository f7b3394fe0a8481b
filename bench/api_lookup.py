"""Ticket look-up throughput and latency: our API vs a bare Starlette route, on both engines.

For each engine: migrate and seed N orders (timed), then drive POST /api/v1/tickets/lookup with
wrk from a separate process on loopback (valid order numbers and verifications, so nothing is
throttled), then the bare route (bench/bare_lookup.py) with the same query and driver; bare and ours
alternate for --rounds pairs. Each run also reports the server's CPU time per request, which
other processes' load on a shared machine skews much less than throughput.
Prints one JSON line per engine (every round; the median ratio).
Run: .venv/bin/python bench/api_lookup.py [--orders N] (1,000,000 by default;
--engine sqlite|postgresql|both; --rounds N).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy import select

from app.admin.demo_data import seed_demo
from app.db import migrate
from app.db.models import Order, Role
from app.db.session import Database
from app.services.auth import create_user, issue_token

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(url: str, orders: int) -> tuple[float, str, list[tuple[str, str]]]:
    db = Database(url)
    started = time.monotonic()
    async with db.session() as session:
        await seed_demo(session, orders=orders, progress=lambda m: print(m, file=sys.stderr))
        await session.commit()
    seconds = time.monotonic() - started
    async with db.session() as session:
        await create_user(session, "bench-ivr", Role.IVR)
        token = await issue_token(session, "bench-ivr")
        step = max(1, orders // 2000)
        rows = await session.execute(
            select(Order.order_no, Order.phone).where(Order.id % step == 0).limit(2000)
        )
        sample = [(no, phone[-4:]) for no, phone in rows]
        await session.commit()
    await db.dispose()
    return seconds, token, sample


def wrk_script(path: Path, sample: list[tuple[str, str]], token: str | None) -> None:
    bodies = ",\n".join(
        "'" + json.dumps({"order_no": no, "verification": v}) + "'" for no, v in sample
    )
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"\n' if token else ""
    path.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        + auth
        + "local bodies = {\n"
        + bodies
        + "\n}\nlocal i = 0\n"
        "request = function()\n  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\nend\n"
    )


def run_wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def bench_engine(url: str, args: argparse.Namespace, work: Path) -> dict[str, object]:
    migrate.upgrade(url)
    seed_s, token, sample = asyncio.run(seed(url, args.orders))
    result: dict[str, object] = {
        "engine": url.split(":")[0],
        "orders": args.orders,
        "seed_seconds": round(seed_s, 1),
    }
    ours_script, bare_script = work / "ours.lua", work / "bare.lua"
    wrk_script(ours_script, sample, token)
    wrk_script(bare_script, sample, None)
    routes = {
        "ours": (
            [sys.executable, "-m", "app.cli", "api"],
            {
                "HOTLINE_DATABASE_URL": url,
                "HOTLINE_API_PORT": str(port := free_port()),
                "HOTLINE_LOOKUP_MAX_FAILURES": "1000000000",
            },
            f"http://127.0.0.1:{port}/api/v1/tickets/lookup",
            ours_script,
        ),
        "bare": (
            [sys.executable, str(HERE / "bare_lookup.py"), str(port2 := free_port())],
            {"BARE_DATABASE_URL": url},
            f"http://127.0.0.1:{port2}/lookup",
            bare_script,
        ),
    }
    if args.workers > 1 and url.startswith("postgresql"):
        # An API-only node's processes (several need PostgreSQL), against the same one-process
        # bare route.
        routes[f"ours_{args.workers}_workers"] = (
            [sys.executable, "-m", "app.cli", "api", "--workers", str(args.workers)],
            {**routes["ours"][1], "HOTLINE_API_PORT": str(port3 := free_port())},
            f"http://127.0.0.1:{port3}/api/v1/tickets/lookup",
            ours_script,
        )
    rounds: list[dict[str, object]] = []
    # Bare and ours back to back, several times: the machine is shared, so one pair can be
    # skewed by someone else's load; every round is printed.
    for _ in range(args.rounds):
        one: dict[str, object] = {}
        for name, (cmd, env, target, script) in routes.items():
            one[name] = measure(cmd, env, target, script, args)
        bare_rps = one["bare"]["rps"]  # type: ignore[index]
        for name in routes:
            if name != "bare":
                ours_rps = one[name]["rps"]  # type: ignore[index]
                one[f"ratio_{name}"] = round(ours_rps / bare_rps, 3) if bare_rps else None
        rounds.append(one)
    result["rounds"] = rounds
    for name in routes:
        if name != "bare":
            ratios = sorted(r[f"ratio_{name}"] for r in rounds  # type: ignore[type-var]
                            if r[f"ratio_{name}"] is not None)
            result[f"ratio_rps_{name}_over_bare"] = ratios[len(ratios) // 2] if ratios else None
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live children (Linux /proc): an
    API of several processes is a supervisor and its workers."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
    tree, todo = set(), [pid]
    while todo:
        tree.add(parent := todo.pop())
        todo += [p for p, fields in stats.items() if int(fields[1]) == parent]
    ticks = sum(int(stats[p][11]) + int(stats[p][12]) for p in tree if p in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(cmd: list[str], env: dict[str, str], target: str, script: Path,
            args: argparse.Namespace) -> dict[str, float]:
    """Start a server, warm it up, load it; its CPU per request is robust to others' load."""
    with ExitStack() as stack:
        proc = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        stack.callback(proc.wait, 20)
        stack.callback(proc.terminate)
        wait_up(target.rsplit("/", 1)[0], proc)
        run_wrk(target, script, 2, args.connections)  # warm-up
        before = cpu_seconds(proc.pid)
        figures = run_wrk(target, script, args.seconds, args.connections)
        used = cpu_seconds(proc.pid) - before
        if figures["requests"]:
            figures["server_cpu_ms_per_request"] = round(used * 1000 / figures["requests"], 3)
        figures["load_average"] = os.getloadavg()[0]
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000,
                        help="orders to seed (default 1,000,000)")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both",
                        help="database engine(s) to measure (default both)")
    parser.add_argument("--seconds", type=int, default=10, help="load duration per route")
    parser.add_argument("--connections", type=int, default=32,
                        help="concurrent connections of the load process")
    parser.add_argument("--workers", type=int, default=2,
                        help="PostgreSQL: also measure an API-only node of N processes "
                        "(default 2; 1: skip)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="bare/ours pairs measured back to back (default 3; median ratio)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from tests.postgres import create_database, postgres_server

    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        work = Path(tmp)
        if args.engine in ("sqlite", "both"):
            print(
                json.dumps(bench_engine(f"sqlite:///{work / 'bench.db'}", args, work)), flush=True
            )
        if args.engine in ("postgresql", "both"):
            with postgres_server() as server:
                url = create_database(server, "bench")
                print(json.dumps(bench_engine(url, args, work)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
