"""Menu responsiveness: key pressed -> next prompt starting to play, on the PBX clock.

Callers press 3 (train status) during the welcome prompt. For the hotline's own flow the delay
is ChannelDtmfReceived -> PlaybackStarted of the next prompt (ARI timestamps, stored in the call
records); for the same step written in plain dialplan (number 12399, no Python) it is AMI
DTMFEnd -> Newexten of its Playback. Prints p50/p99 at 1 and 50 concurrent calls, the ratio
ours/dialplan, and the largest number of concurrent callers in the menu with no failed call.
Run: .venv/bin/python bench/ivr_latency.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from panoramisk import Manager
from sqlalchemy import select

from app.config import Settings
from app.db.models import CallRecord, CallStep
from app.db.session import Database
from app.pbx import sandbox
from app.pbx.secrets import load_credentials

NEXT_PROMPT = "enter_train_number"


def call(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "call", "--api", "none", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else -1


async def ours_latencies(db_url: str, sip_ids: list[str]) -> tuple[list[float], int]:
    """(latencies in ms, calls that reached the next prompt)."""
    db = Database(db_url)
    latencies: list[float] = []
    reached = 0
    async with db.session() as session:
        for sip_id in sip_ids:
            record = await session.scalar(
                select(CallRecord).where(CallRecord.sip_call_id == sip_id)
            )
            if record is None:
                continue
            steps = list(
                await session.scalars(
                    select(CallStep).where(CallStep.call_id == record.id).order_by(CallStep.seq)
                )
            )
            pressed = next(
                (s for s in steps if s.kind == "dtmf" and s.detail.get("digit") == "3"), None
            )
            started = next(
                (
                    s
                    for s in steps
                    if s.kind == "play_started"
                    and str(s.detail.get("media", "")).endswith(NEXT_PROMPT)
                ),
                None,
            )
            if (
                pressed
                and started
                and pressed.detail.get("ari_ts")
                and started.detail.get("ari_ts")
            ):
                reached += 1
                t0 = datetime.fromisoformat(str(pressed.detail["ari_ts"]))
                t1 = datetime.fromisoformat(str(started.detail["ari_ts"]))
                latencies.append((t1 - t0).total_seconds() * 1000)
    await db.dispose()
    return latencies, reached


class AmiWatch:
    """DTMFEnd and Newexten(Playback) per channel from AMI, for the dialplan menu."""

    def __init__(self, settings: Settings) -> None:
        creds = load_credentials(settings)
        self.pressed: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.manager = Manager(
            host=settings.ami_host,
            port=settings.ami_port,
            username=settings.ami_user,
            secret=creds.ami_secret,
        )
        self.manager.register_event("DTMFEnd", self._dtmf)
        self.manager.register_event("Newexten", self._exten)

    def _dtmf(self, _: Any, event: Any) -> None:
        if event.get("Digit") == "3":
            self.pressed.setdefault(event["Uniqueid"], float(event["Timestamp"]))

    def _exten(self, _: Any, event: Any) -> None:
        if (
            event.get("Context") == "bench-dialplan-menu"
            and event.get("Extension") == "3"
            and event.get("Application") == "Playback"
        ):
            self.started.setdefault(event["Uniqueid"], float(event["Timestamp"]))

    def latencies(self) -> list[float]:
        return [(self.started[u] - t) * 1000 for u, t in self.pressed.items() if u in self.started]


async def dialplan_run(settings: Settings, n: int, env: dict[str, str]) -> dict[str, Any]:
    watch = AmiWatch(settings)
    watch.manager.loop = asyncio.get_running_loop()
    await watch.manager.connect()
    await asyncio.sleep(0.5)
    summary = await asyncio.to_thread(
        call,
        [
            "--to",
            "12399",
            "--calls",
            str(n),
            "--rate",
            str(min(n, 50)),
            "--settle",
            "1500",
            "--dtmf",
            "3",
            "--hold",
            "3",
        ],
        env,
    )
    await asyncio.sleep(1)
    watch.manager.close()
    lat = watch.latencies()
    return {
        "calls": n,
        "completed": summary.get("completed", int(summary.get("ok", False))),
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "measured": len(lat),
    }


def ours_run(db_url: str, n: int, env: dict[str, str], hold: str = "3") -> dict[str, Any]:
    summary = call(
        [
            "--to",
            "12306",
            "--calls",
            str(n),
            "--rate",
            str(min(n, 50)),
            "--settle",
            "1500",
            "--dtmf",
            "3",
            "--hold",
            hold,
        ],
        env,
    )
    ids = summary.get("sip_call_ids") or [summary.get("sip_call_id")]
    time.sleep(2)  # records are stored as each call ends
    lat, reached = asyncio.run(ours_latencies(db_url, [i for i in ids if i]))
    return {
        "calls": n,
        "completed": summary.get("completed", int(summary.get("ok", False))),
        "reached_next_prompt": reached,
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=18095)
    parser.add_argument(
        "--ramp", default="50,100,150,200,300", help="caller counts tried for the concurrency limit"
    )
    args = parser.parse_args()
    # A PBX this benchmark starts has the engineers' test numbers (echo, plain menu).
    os.environ.setdefault("HOTLINE_DEV_LINES", "1")
    settings = Settings()
    started_pbx = not sandbox.is_running(settings)
    if not started_pbx and not sandbox.dev_lines_loaded(settings):
        print("the running PBX has no test numbers (12399): restart it with "
              "HOTLINE_DEV_LINES=1 (make run sets it)", file=sys.stderr)
        return 1
    if started_pbx:
        sandbox.start(settings)
    tmp = Path(tempfile.mkdtemp(prefix="hotline-ivr-bench-"))
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    env = {**os.environ, "HOTLINE_API_PORT": str(args.port), "HOTLINE_DATABASE_URL": db_url}
    serve = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--demo-data"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{args.port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                print("serve did not become healthy", file=sys.stderr)
                return 1
            time.sleep(0.3)
        results: dict[str, Any] = {}
        for n in (1, 50):
            ours = ours_run(db_url, n, env)
            plain = asyncio.run(dialplan_run(settings, n, env))
            ratio = round(ours["p50_ms"] / plain["p50_ms"], 2) if plain["p50_ms"] > 0 else None
            results[f"concurrent_{n}"] = {
                "ours": ours,
                "dialplan": plain,
                "ratio_p50_ours_over_dialplan": ratio,
            }
            print(json.dumps({f"concurrent_{n}": results[f"concurrent_{n}"]}), flush=True)
        best = 0
        for n in (int(x) for x in args.ramp.split(",")):
            run = ours_run(db_url, n, env, hold="8")
            ok = run["completed"] == n and run["reached_next_prompt"] == n
            print(json.dumps({"ramp": run, "no_failed_call": ok}), flush=True)
            if not ok:
                break
            best = n
        print(
            json.dumps({"max_concurrent_callers_without_failure": best, "tried": args.ramp}),
            flush=True,
        )
        return 0
    finally:
        serve.send_signal(2)
        serve.wait(timeout=30)
        if started_pbx:
            sandbox.stop(settings)


if __name__ == "__main__":
    sys.exit(main())
