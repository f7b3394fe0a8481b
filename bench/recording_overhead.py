"""Recording overhead: CPU of `hotline serve` and of Asterisk per call, recorded vs not, with
--agents registered softphone agents talking to as many SIPp callers at once.

Two runs on a PBX instance of its own (`recbench`: SIP 15470, ARI 18470, AMI 15471, API
18471, RTP 23000-24999, state under /var/lib/hotline/instances/recbench;
HOTLINE_RECBENCH_<NAME> overrides), each with a fresh SQLite database and its own `hotline
serve --demo-data` (acd_load's Bench: agents of skill ticket in 北京, callers pressing 0 for
queue general):
  unrecorded  HOTLINE_RECORDING=0
  recorded    HOTLINE_RECORDING=1, the recording notice and the speech analytics off
              (HOTLINE_RECORDING_NOTICE=0, HOTLINE_RECORDING_ANALYTICS=0) so the difference is
              the recording itself: MixMonitor in Asterisk, the AMI commands, the WAV
              finalisation and checksum in serve. The analytics' own cost, CPU-seconds per
              recorded minute per tier, is what bench/qa_analytics.py prints.
The callers arrive over --arrive s; each agent answers after 1 s and hangs up after --talk s,
so all calls are bridged at once for most of the talk.

Printed figures (one JSON line; CPU is user+system from /proc/<pid>/stat, serve with its
child processes):
  <run>.cpu_ms_per_call     first caller -> every call ended and its recording finalised,
                            / callers: app, asterisk, total
  <run>.bridged_cpu_ms_per_call_second
                            while every call was bridged (last answer -> first hang-up,
                            sampled each second): CPU ms per second / calls bridged
  <run>.peak_bridged        most agent legs talking at once (from the call records)
  <run>.idle_ms_per_s       CPU ms per second before the load (no call; the load waits up
                            to 5 min for serve's speech warm-up to end: under 50 ms/s)
  recorded.storage          recordings ready, bytes per recorded minute
  overhead_pct              (recorded - unrecorded) / unrecorded for both measures
With --split, a third run, unrecorded_core: unrecorded, with the PBX's native RTP bridging
unloaded (`module unload bridge_native_rtp.so`), so its media goes through the core as a
recorded call's does (an audiohook such as MixMonitor keeps a bridge off native RTP):
  split_pct.native_rtp_loss (unrecorded_core - unrecorded) / unrecorded: losing native RTP
  split_pct.recording       (recorded - unrecorded_core) / unrecorded: the recording itself
  load_avg                  /proc/loadavg before and after (the machine may be shared)
  target                    recording adds < 10 % CPU per call
Run: .venv/bin/python bench/recording_overhead.py [--agents 40 --talk 60 --arrive 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acd_load import Bench, cpu_seconds, run_bench, tree_cpu, wait_quiet
from bench_kit import instance, rows

from app.pbx import sandbox
from app.recordings.recorder import recordings_dir

INSTANCE = instance("recbench", sip=15470, ari=18470, ami=15471, api=18471,
                    rtp=(23000, 24999))
NO_NATIVE_RTP = "RECBENCH_NATIVE_RTP_OFF"  # read by measure() in this process
RUNS = {
    "unrecorded": {"HOTLINE_RECORDING": "0"},
    "recorded": {"HOTLINE_RECORDING": "1", "HOTLINE_RECORDING_NOTICE": "0",
                 "HOTLINE_RECORDING_ANALYTICS": "0"},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=40,
                        help="softphone agents and callers, all bridged at once (default 40)")
    parser.add_argument("--talk", type=float, default=60.0, metavar="SECONDS",
                        help="the agent hangs up this long after answering (default 60)")
    parser.add_argument("--arrive", type=float, default=10.0, metavar="SECONDS",
                        help="seconds over which the callers arrive (default 10)")
    parser.add_argument("--split", action="store_true",
                        help="a third run without native RTP bridging: how much of the "
                             "overhead is the bridge leaving native RTP")
    args = parser.parse_args()
    if args.agents < 1 or args.talk <= args.arrive or args.arrive <= 0:
        parser.error("--agents >= 1, --arrive > 0 and --talk longer than --arrive")
    # What acd_load's Bench reads: one center, every caller gets an agent at once.
    args.callers, args.duration, args.answer_after = args.agents, args.arrive, 1.0
    args.patience, args.centers = args.talk + 120, ["北京"]
    return args


class Sampler:
    """(epoch, serve tree CPU s, Asterisk CPU s) once a second, on a thread of its own."""

    def __init__(self, serve_pid: int, pbx_pid: int) -> None:
        self.pids = serve_pid, pbx_pid
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), tree_cpu(self.pids[0]), cpu_seconds(self.pids[1])))
            self._stop.wait(1.0)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def rate_between(self, start: float, end: float) -> dict[str, float] | None:
        """CPU ms per second of serve and Asterisk between two moments (inner samples)."""
        inner = [s for s in self.samples if start <= s[0] <= end]
        if len(inner) < 2:
            return None
        (t0, a0, p0), (t1, a1, p1) = inner[0], inner[-1]
        return {"app": (a1 - a0) * 1000 / (t1 - t0), "asterisk": (p1 - p0) * 1000 / (t1 - t0),
                "seconds": t1 - t0}


def _epoch(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def bridged_spans(bench: Bench) -> list[tuple[float, float]]:
    return [(_epoch(a), _epoch(e)) for a, e in rows(
        bench, "select answer_at, end_at from agent_legs where answer_at is not null "
        "and end_at is not null")]


def peak(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(e, -1) for _, e in spans])
    best = now = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def wait_finalised(bench: Bench, seconds: float = 60) -> int:
    """Recordings still being written once every call ended (0 when all are finalised)."""
    deadline = time.monotonic() + seconds
    while True:
        left = int(rows(bench, "select count(*) from recordings where status = 'recording'")
                   [0][0])
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def measure(bench: Bench) -> dict[str, Any]:
    args = bench.args
    bench.start_platform()
    if os.environ.get(NO_NATIVE_RTP):
        answer = sandbox.cli(bench.settings, "module unload bridge_native_rtp.so")
        bench.say(f"native RTP bridging off: {answer.strip()}")
    bench.create_agents()
    bench.start_phones(phone_timeout=60 + args.arrive + args.patience + 120)
    assert bench.serve is not None
    serve_pid = bench.serve.pid
    pbx_pid = int(sandbox.pid_file(bench.settings).read_text().strip())
    # Up to 5 minutes: the recogniser prefill would otherwise count as the calls' CPU.
    idle = wait_quiet(serve_pid, pbx_pid, tries=150)
    bench.say(f"placing {args.callers} callers over {args.arrive:g} s, talk {args.talk:g} s")
    with Sampler(serve_pid, pbx_pid) as sampler:
        a0, p0 = tree_cpu(serve_pid), cpu_seconds(pbx_pid)
        summaries = bench.place_callers()
        live = bench.settle()
        unfinalised = wait_finalised(bench)
        app_cpu, pbx_cpu = tree_cpu(serve_pid) - a0, cpu_seconds(pbx_pid) - p0
    spans = bridged_spans(bench)
    n = args.callers
    result: dict[str, Any] = {
        "callers": n,
        "completed": sum(int(s.get("completed", 0)) for s in summaries),
        "connected_legs": len(spans), "peak_bridged": peak(spans),
        "live_after": live,
        "cpu_ms_per_call": {"app": round(app_cpu * 1000 / n, 1),
                            "asterisk": round(pbx_cpu * 1000 / n, 1),
                            "total": round((app_cpu + pbx_cpu) * 1000 / n, 1)},
        "idle_ms_per_s": idle,
    }
    if spans:
        # Every call bridged: from the last answer to the first hang-up.
        start, end = max(a for a, _ in spans), min(e for _, e in spans)
        rate = sampler.rate_between(start, end) if end > start else None
        if rate is not None:
            bridged = len(spans)
            result["bridged_cpu_ms_per_call_second"] = {
                "app": round(rate["app"] / bridged, 3),
                "asterisk": round(rate["asterisk"] / bridged, 3),
                "total": round((rate["app"] + rate["asterisk"]) / bridged, 3),
                "window_s": round(rate["seconds"], 1)}
    stored = rows(bench, "select count(*), coalesce(sum(size_bytes), 0), "
                  "coalesce(sum(duration_seconds), 0) from recordings where status = 'ready'")
    count, size, seconds = stored[0]
    if count:
        result["storage"] = {"recordings_ready": count, "unfinalised": unfinalised,
                             "recorded_minutes": round(seconds / 60, 1),
                             "bytes_per_recorded_minute": round(size / (seconds / 60))}
    # The run's database is thrown away: its recordings would only fill the instance's disk.
    for (path,) in rows(bench, "select path from recordings where path is not null"):
        (recordings_dir(bench.settings) / path).unlink(missing_ok=True)
    return result


def overhead(rec: dict[str, Any], plain: dict[str, Any], key: str) -> dict[str, float] | None:
    a, b = rec.get(key), plain.get(key)
    if not a or not b:
        return None
    return {part: round(100 * (a[part] - b[part]) / b[part], 1)
            for part in ("app", "asterisk", "total") if b[part]}


def main() -> int:
    args = parse_args()
    loads = [Path("/proc/loadavg").read_text().split()[:3]]
    figures: dict[str, Any] = {"agents": args.agents, "talk_s": args.talk,
                               "arrive_s": args.arrive}
    runs = dict(RUNS)
    if args.split:
        runs["unrecorded_core"] = {"HOTLINE_RECORDING": "0", NO_NATIVE_RTP: "1"}
    for name, env in runs.items():
        os.environ.pop(NO_NATIVE_RTP, None)
        os.environ.update(env)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):  # run_bench prints each run's JSON line
            code = run_bench(args, "recording", INSTANCE, "HOTLINE_RECBENCH_", measure)
        if code != 0:
            return code
        figures[name] = json.loads(out.getvalue().strip().splitlines()[-1])
    loads.append(Path("/proc/loadavg").read_text().split()[:3])
    figures["overhead_pct"] = {
        key: overhead(figures["recorded"], figures["unrecorded"], key)
        for key in ("cpu_ms_per_call", "bridged_cpu_ms_per_call_second")}
    if args.split:
        base = figures["unrecorded"]["cpu_ms_per_call"]["total"]
        core = figures["unrecorded_core"]["cpu_ms_per_call"]["total"]
        recorded = figures["recorded"]["cpu_ms_per_call"]["total"]
        figures["split_pct"] = {"native_rtp_loss": round(100 * (core - base) / base, 1),
                                "recording": round(100 * (recorded - core) / base, 1)}
    figures["load_avg"] = {"before": loads[0], "after": loads[1]}
    figures["target"] = "recording adds < 10 % CPU per call"
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
