"""Dialplan services (FastAGI): round trip per route and per call at 20 calls/s, and the set-up
time they add to a call, on the PBX clock (AMI event timestamps).

The bench starts its PBX instance (the tests' instance of this environment) and the real FastAGI
server (app/agi/server.py) on a database of its own with blocklist, special passengers, routes
and 2000 earlier calls. Calls to the hotline run `hotline-entry`; no Stasis app is connected, so
each call ends at Stasis(), which is where set-up ends. Measured:
- AGI round trip: Newexten AGI(...) -> the next Newexten (connect, 4-5 SET VARIABLE, close);
- set-up: Newexten of hotline-entry priority 1 -> Newexten Stasis, with the Gosub to the
  services and, after `dialplan reload`, without it (the dialplan before the services).
Run: .venv/bin/python bench/agi.py [--calls 200] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from panoramisk import Manager

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo
from tests.instance import use_test_instance

use_test_instance()

from app.agi import store  # noqa: E402
from app.agi.server import AgiServer  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import migrate  # noqa: E402
from app.db.models import CallRecord  # noqa: E402
from app.db.session import Database  # noqa: E402
from app.pbx import sandbox  # noqa: E402
from app.pbx.render import placeholder_values, render_switches, render_text  # noqa: E402
from app.pbx.secrets import load_credentials  # noqa: E402

GOSUB = " same => n,Gosub(hotline-agi,s,1(${EXTEN}))\n"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Watch:
    """Newexten timestamps per channel, from AMI."""

    def __init__(self, settings: Settings) -> None:
        self.steps: dict[str, list[tuple[float, str, str, int]]] = {}
        self.manager = Manager(host=settings.ami_host, port=settings.ami_port,
                               username=settings.ami_user,
                               secret=load_credentials(settings).ami_secret)
        self.manager.register_event("Newexten", self._exten)

    def _exten(self, _: Any, e: Any) -> None:
        self.steps.setdefault(e["Uniqueid"], []).append(
            (float(e["Timestamp"]), e.get("Context", ""), e.get("Application", ""),
             int(e.get("Priority", 0))))

    def figures(self) -> tuple[list[float], list[float], list[float]]:
        """(AGI round trips, AGI time per call, set-up times) in ms."""
        trips, per_call, setups = [], [], []
        for steps in self.steps.values():
            start = next((t for t, ctx, _, prio in steps
                          if ctx == "hotline-entry" and prio == 1), None)
            stasis = next((t for t, _, app, _ in steps if app == "Stasis"), None)
            if start is None or stasis is None:
                continue
            setups.append((stasis - start) * 1000)
            call_trips = [(steps[i + 1][0] - t) * 1000 for i, (t, _, app, _) in
                          enumerate(steps[:-1]) if app == "AGI"]
            trips += call_trips
            if call_trips:
                per_call.append(sum(call_trips))
        return trips, per_call, setups


def render_extensions(settings: Settings, with_agi: bool) -> None:
    source = (settings.dialplans_dir / "extensions.conf").read_text()
    if not with_agi:
        assert GOSUB in source
        source = source.replace(GOSUB, "")
    text = render_text("extensions.conf", source,
                       placeholder_values(settings, load_credentials(settings)),
                       render_switches(settings))
    (settings.pbx_etc / "extensions.conf").write_text(text)
    sandbox.cli(settings, "dialplan reload")


async def seed(db: Database) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    async with db.session() as s:
        for i in range(50):
            await store.block(s, f"1390000{i:04d}", "bench")
            await store.add_special(s, f"1370000{i:04d}")
        for i in range(10):
            await store.set_route(s, f"1230{i}", "hotline", {"hotline"})
        s.add_all(CallRecord(id=f"bench-{i}", caller=f"1380013{rng.randrange(100):04d}",
                             called="12306", started_at=now - timedelta(hours=rng.random() * 48))
                  for i in range(2000))
        await s.commit()


async def run_calls(settings: Settings, calls: int, rate: float) -> dict[str, Any]:
    env = {**os.environ, "HOTLINE_API_PORT": str(settings.api_port)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "call", "--api", "none", "--calls", str(calls),
        "--rate", str(rate), "--hold", "0", "--no-media", "--timeout", "120",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, _ = await proc.communicate()
    lines = out.decode().strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


async def phase(settings: Settings, calls: int, rate: float) -> tuple[list[float], ...]:
    watch = Watch(settings)
    watch.manager.loop = asyncio.get_running_loop()
    await watch.manager.connect()
    await asyncio.sleep(0.5)
    await run_calls(settings, calls, rate)
    await asyncio.sleep(1.0)
    watch.manager.close()
    return watch.figures()


async def main(args: argparse.Namespace) -> None:
    settings = Settings()
    folder = settings.state_dir / "bench-agi"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    url = f"sqlite:///{folder / 'agi.db'}"
    (folder / "agi.db").unlink(missing_ok=True)
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    await seed(db)
    await db.dispose()
    # The AGI server in a process of its own, as in `hotline serve`: the AMI watcher's event
    # parsing here must not share its event loop.
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", url, stdout=subprocess.PIPE)
    assert server.stdout is not None
    await server.stdout.readline()  # "ready"
    was_running = sandbox.is_running(settings)
    if not was_running:
        await asyncio.to_thread(sandbox.start, settings)
    try:
        render_extensions(settings, with_agi=True)
        trips, per_call, with_agi = await phase(settings, args.calls, args.rate)
        render_extensions(settings, with_agi=False)
        _, _, without = await phase(settings, args.calls, args.rate)
        render_extensions(settings, with_agi=True)
    finally:
        server.terminate()
        report = (await server.communicate())[0].decode().splitlines()
        counts = report[-1].split()
        inside = report[-2].split()
        if not was_running:
            await asyncio.to_thread(sandbox.stop, settings)
    print(f"AGI dialplan services, {args.calls} calls at {args.rate:g} calls/s "
          f"(PBX clock, ms); answers with defaults: {' of '.join(counts[-2:])}")
    print(f"  AGI round trip per route   p50 {pct(trips, .5):6.2f}  p99 {pct(trips, .99):6.2f}"
          f"  ({len(trips)} requests)")
    print(f"  inside the server (per request, from connect incl. header wait)  p50 {inside[0]}"
          f"  p99 {inside[1]}  max {inside[2]}")
    print(f"  AGI per call (3 routes)    p50 {pct(per_call, .5):6.2f}  "
          f"p99 {pct(per_call, .99):6.2f}  ({len(per_call)} calls)")
    print(f"  set-up with services       p50 {pct(with_agi, .5):6.2f}  "
          f"p99 {pct(with_agi, .99):6.2f}")
    print(f"  set-up without services    p50 {pct(without, .5):6.2f}  "
          f"p99 {pct(without, .99):6.2f}  ({len(without)} calls)")
    print(f"  extra set-up per call      p50 {pct(with_agi, .5) - pct(without, .5):6.2f}  "
          f"p99 {pct(with_agi, .99) - pct(without, .99):6.2f}")


class TimedAgiServer(AgiServer):
    """The server with the time each request spends in it, headers read to connection closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inside: list[float] = []

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started = time.perf_counter()
        await super().handler(reader, writer)
        self.inside.append((time.perf_counter() - started) * 1000)


async def serve(url: str) -> None:
    """The FastAGI server alone until SIGTERM; prints `defaulted answered` at the end."""
    import signal

    settings = Settings()
    db = Database(url)
    agi = TimedAgiServer(db, settings.agi_host, settings.agi_port, settings.agi_budget)
    await agi.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await agi.stop()
    await db.dispose()
    inside = sorted(agi.inside)
    print(f"{pct(inside, .5):.2f} {pct(inside, .99):.2f} {max(inside, default=0):.2f}")
    print(agi.defaulted, agi.answered, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve:
        asyncio.run(serve(parsed.serve))
    else:
        asyncio.run(main(parsed))
