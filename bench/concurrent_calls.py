"""CPU time the hotline app spends per call, with N concurrent real SIP calls.

Starts the sandbox PBX (if needed) and a `hotline serve` on a bench port, measures the serve
process's CPU time (user + system, from /proc) while idle for the same wall time as the load,
then while N SIPp calls (greeting, 3 keys echoed, hang-up) run at once, and prints the figures.
Run: make bench   (or .venv/bin/python bench/concurrent_calls.py --calls 20)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.config import Settings
from app.pbx import sandbox

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--port", type=int, default=18090, help="API port of the bench server")
    args = parser.parse_args()

    # A PBX this benchmark starts has the engineers' test numbers (echo, plain menu).
    os.environ.setdefault("HOTLINE_DEV_LINES", "1")
    settings = Settings()
    started_pbx = not sandbox.is_running(settings)
    if started_pbx:
        sandbox.start(settings)
    env = {**os.environ, "HOTLINE_API_PORT": str(args.port)}
    serve = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        api = f"http://127.0.0.1:{args.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(api + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                print("serve did not become healthy", file=sys.stderr)
                return 1
            time.sleep(0.2)
        time.sleep(1)
        call = [
            sys.executable,
            "-m",
            "app.cli",
            "call",
            "--api",
            "none",
            "--calls",
            str(args.calls),
            "--rate",
            str(args.calls),
            "--dtmf",
            "1,2,3",
            "--hold",
            "2",
        ]
        wall_start, cpu_start = time.monotonic(), cpu_seconds(serve.pid)
        out = subprocess.run(call, capture_output=True, text=True, env=env)
        wall, cpu = time.monotonic() - wall_start, cpu_seconds(serve.pid) - cpu_start
        idle_start = cpu_seconds(serve.pid)
        time.sleep(wall)
        idle = cpu_seconds(serve.pid) - idle_start
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        per_call = (cpu - idle) / args.calls
        print(
            json.dumps(
                {
                    "calls": args.calls,
                    "completed": summary.get("completed"),
                    "wall_s": round(wall, 2),
                    "app_cpu_s": round(cpu, 3),
                    "idle_cpu_same_wall_s": round(idle, 3),
                    "app_cpu_ms_per_call": round(per_call * 1000, 1),
                }
            )
        )
        return 0 if summary.get("ok") else 1
    finally:
        serve.send_signal(2)
        serve.wait(timeout=20)
        if started_pbx:
            sandbox.stop(settings)


if __name__ == "__main__":
    sys.exit(main())
