"""Wallboard under load: --screens WebSocket clients on /api/v1/wall/ws (a load script, not
browsers) while --callers real SIP callers queue for --agents softphone agents.

Starts its own PBX instance (`wallbench`: SIP 15790, ARI 18790, AMI 15791, API 18791, RTP
21000-22999, state under /var/lib/hotline/instances/wallbench; HOTLINE_WALLBENCH_<NAME>
overrides) and `hotline serve --demo-data` on a fresh SQLite database. The agents (北京, skill
ticket) answer after 1 s and hang up after --talk s; the callers (menu key 0: queue general)
arrive evenly over --arrive s and stay until an agent hangs up or --patience s. With the
defaults, 60 calls are in progress at the peak: 20 talking, 40 waiting, and every answer,
wrap-up and ready moves the board.

Each update the server pushes lists the events it carries with the moment each was published
(`sources`: [kind, epoch]); every screen stamps each message as it arrives (same host clock).

Printed figures (one JSON line):
  event_to_screen_ms  p50/p99/max over every (event, screen) pair: published -> the update
                      carrying it received by that screen; of_which: event -> pushed (the
                      server's coalescing and loop) and pushed -> received (per update and
                      screen: sending, the network, the client's own loop). The screens run
                      in --client-processes processes on the same machine: on a loaded
                      machine their own CPU shows in pushed -> received
  updates             updates per screen (mean), events carried, snapshots first (all screens)
  calls               placed, peak in progress (the app's live calls, sampled each second)
  app_cpu             CPU (user+system) of `hotline serve`, % of one core: no call and no
                      screen, the screens connected and no call, and during the calls
  target              p99 < 250 ms
Run: .venv/bin/python bench/wallboard.py [--screens 200 --agents 20 --callers 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from acd_load import Bench, pct, run_bench, tree_cpu
from bench_kit import instance
from websockets.asyncio.client import connect

INSTANCE = instance("wallbench", sip=15790, ari=18790, ami=15791, api=18791,
                    rtp=(21000, 22999))


class Screens:
    """N wallboard WebSockets in one asyncio loop on a thread of their own."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.count = count
        self.latencies: list[float] = []  # ms, one per (event, screen): published -> received
        self.server_ms: list[float] = []  # published -> pushed (coalescing, the server's loop)
        self.transit_ms: list[float] = []  # pushed -> received, one per (update, screen)
        self.updates = 0
        self.snapshot_first = 0
        self.errors: list[str] = []
        self.connected = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.stop_at: asyncio.Future[None] | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete,
                                       args=(self._main(),), daemon=True)

    def start(self) -> None:
        self.thread.start()
        if not self.connected.wait(120):
            raise RuntimeError(f"screens not connected: {self.errors[:3]}")

    def stop(self) -> None:
        if self.stop_at is not None:
            self.loop.call_soon_threadsafe(self.stop_at.set_result, None)
        self.thread.join(30)

    def figures(self) -> dict[str, Any]:
        return {"latencies": self.latencies, "server_ms": self.server_ms,
                "transit_ms": self.transit_ms, "updates": self.updates,
                "snapshot_first": self.snapshot_first, "errors": self.errors}

    async def _main(self) -> None:
        self.stop_at = self.loop.create_future()
        ready = 0

        async def screen() -> None:
            nonlocal ready
            try:
                async with connect(self.url, max_size=2**22, open_timeout=60) as ws:
                    first = json.loads(await ws.recv())
                    self.snapshot_first += first.get("kind") == "wall.snapshot"
                    ready += 1
                    if ready == self.count:
                        self.connected.set()
                    async for raw in ws:
                        arrived = time.time()
                        message = json.loads(raw)
                        if message.get("kind") != "wall.update":
                            continue
                        self.updates += 1
                        pushed = message["pushed_at"]
                        self.transit_ms.append((arrived - pushed) * 1000)
                        for _, at in message.get("sources", []):
                            self.latencies.append((arrived - at) * 1000)
                            self.server_ms.append((pushed - at) * 1000)
            except Exception as exc:
                self.errors.append(repr(exc))

        tasks = []
        for _ in range(self.count):  # not all at once: the server's accept queue is finite
            tasks.append(asyncio.create_task(screen()))
            await asyncio.sleep(0.01)
        await self.stop_at
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def screens_process(url: str, count: int, conn: Connection) -> None:
    """One process of screens: says "connected", waits for "stop", sends its figures."""
    screens = Screens(url, count)
    try:
        screens.start()
        conn.send("connected")
    except RuntimeError as exc:
        conn.send(f"failed: {exc}")
        return
    conn.recv()
    screens.stop()
    conn.send(screens.figures())


class ScreenProcesses:
    """The screens spread over a few processes, so the clients' own JSON parsing does not
    queue every screen behind one Python loop."""

    def __init__(self, url: str, count: int, processes: int) -> None:
        sizes = [count // processes + (i < count % processes) for i in range(processes)]
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.Process] = []
        for size in sizes:
            ours, theirs = multiprocessing.Pipe()
            proc = multiprocessing.Process(target=screens_process, args=(url, size, theirs),
                                           daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    def wait_connected(self) -> None:
        for pipe in self.pipes:
            if not pipe.poll(180):
                raise RuntimeError("screens not connected within 180 s")
            answer = pipe.recv()
            if answer != "connected":
                raise RuntimeError(str(answer))

    def stop(self) -> dict[str, Any]:
        for pipe in self.pipes:
            pipe.send("stop")
        merged: dict[str, Any] = {"latencies": [], "server_ms": [], "transit_ms": [],
                                  "updates": 0, "snapshot_first": 0, "errors": []}
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            part = pipe.recv() if pipe.poll(60) else {}
            for key, value in part.items():
                merged[key] += value
            proc.join(10)
        return merged

    def kill(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screens", type=int, default=200,
                        help="wallboard WebSocket clients (default 200)")
    parser.add_argument("--client-processes", type=int, default=4,
                        help="processes the screens are spread over (default 4)")
    parser.add_argument("--agents", type=int, default=20, help="softphone agents (default 20)")
    parser.add_argument("--callers", type=int, default=60,
                        help="SIP callers, all in progress at the peak (default 60)")
    parser.add_argument("--arrive", type=float, default=30.0, metavar="SECONDS",
                        help="the callers arrive evenly over this (default 30)")
    parser.add_argument("--talk", type=float, default=15.0, metavar="SECONDS",
                        help="an agent hangs up this long after answering (default 15)")
    parser.add_argument("--patience", type=float, default=60.0, metavar="SECONDS",
                        help="a caller still waiting hangs up after this (default 60)")
    args = parser.parse_args()
    if min(args.screens, args.agents, args.callers) < 1 or args.arrive <= 0 \
            or args.talk <= 0 or args.patience <= 0:
        parser.error("--screens, --agents, --callers >= 1; --arrive, --talk, --patience > 0")
    # What acd_load's Bench reads.
    args.centers, args.answer_after, args.duration = ["北京"], 1.0, args.arrive
    return args


def cpu_pct(pid: int, seconds: float) -> float:
    before = tree_cpu(pid)
    time.sleep(seconds)
    return round((tree_cpu(pid) - before) * 100 / seconds, 1)


def run(bench: Bench) -> dict[str, Any]:
    args = bench.args
    bench.start_platform()
    bench.create_agents()
    bench.start_phones(phone_timeout=args.arrive + args.patience + 600)
    assert bench.serve is not None
    serve_pid = bench.serve.pid
    for _ in range(30):  # speech warm-up goes on after /healthz: start once serve is quiet
        if cpu_pct(serve_pid, 2.0) < 10:
            break
    idle_alone = cpu_pct(serve_pid, 5.0)
    url = bench.api.replace("http://", "ws://") + f"/api/v1/wall/ws?token={bench.token}"
    screens = ScreenProcesses(url, args.screens, max(1, min(args.client_processes,
                                                            args.screens)))
    try:
        screens.wait_connected()
        bench.say(f"{args.screens} screens connected")
        idle = cpu_pct(serve_pid, 5.0)
        live: list[int] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(1.0):
                try:
                    live.append(bench.live_calls())
                except Exception:
                    live.append(-1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        bench.say(f"placing {args.callers} callers over {args.arrive:g} s")
        cpu0, t0 = tree_cpu(serve_pid), time.monotonic()
        summaries = bench.place_callers()
        load_s = time.monotonic() - t0
        load_cpu = round((tree_cpu(serve_pid) - cpu0) * 100 / load_s, 1)
        done.set()
        sampler.join()
        time.sleep(2)  # the last updates
        got = screens.stop()
    finally:
        screens.kill()
    completed = sum(int(s.get("completed", 0)) for s in summaries)

    def spread(values: list[float]) -> dict[str, Any]:
        return {"n": len(values), "p50": pct(values, 0.5), "p99": pct(values, 0.99),
                "max": round(max(values), 1) if values else None}

    return {
        "screens": args.screens, "client_processes": len(screens.procs),
        "agents": args.agents, "callers": args.callers,
        "event_to_screen_ms": spread(got["latencies"]),
        "of_which": {"event_to_push_ms": spread(got["server_ms"]),
                     "push_to_screen_ms": spread(got["transit_ms"])},
        "updates": {"per_screen": round(got["updates"] / args.screens, 1),
                    "snapshot_first": got["snapshot_first"],
                    "screen_errors": len(got["errors"])},
        "calls": {"placed": args.callers, "completed": completed,
                  "peak_in_progress": max(live, default=0)},
        "app_cpu_pct_of_one_core": {"idle_no_screens": idle_alone,
                                    "idle_with_screens": idle, "during_calls": load_cpu,
                                    "load_s": round(load_s, 1)},
        "machine_load_avg_1m": round(os.getloadavg()[0], 1),
        "target": "p99 < 250 ms",
        "serve_log": str(bench.tmp / "serve.log"),
    }


def main() -> int:
    # Others' load on the machine slows the speech warm-up: up to 400 s for serve to start.
    return run_bench(parse_args(), "wallboard", INSTANCE, "HOTLINE_WALLBENCH_", run,
                     start_timeout=400)


if __name__ == "__main__":
    raise SystemExit(main())
