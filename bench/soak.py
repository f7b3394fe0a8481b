"""Soak: --calls real SIP calls (default 1,000) over the hotline's branches at a steady rate,
agents included; what is left and how memory moved once they are done.

Starts its own PBX instance (`soak`: SIP 15690, ARI 18690, AMI 15691, API 18691, RTP
19000-19999, state under /var/lib/hotline/instances/soak; HOTLINE_SOAK_<NAME> overrides)
and `hotline serve --demo-data` on a fresh SQLite database, --agents softphone agents that
answer after 1 s and hang up after --talk s. The calls are split over the branches (one
`hotline call` process each, at its share of --rate):
  order      1, a demo order's number and ID last 4: the tickets are read out
  train      3, a train running today, 1 (today): its status
  lost       4, a train with found items, 1: the items and where to pick them up
  complaint  5, a spoken message after the beep, #: a transcribed work order
  agent      0: an agent answers, talks, hangs up
  hang_up    hangs up 1 s into the welcome prompt
  mid_key    1, then hangs up while asked for the order number
Every other caller stays until the platform hangs up (goodbye after the after-service menu).

Printed figures (one JSON line):
  before/after      PBX channels and bridges, open call records / queue entries / agent legs,
                    RSS (MB) of `hotline serve` (with its children) and of Asterisk; after =
                    once every caller has ended and the platform settled
  concurrency       live calls in the app, sampled each second: mean and max, and how many
                    samples the API did not answer within 15 s
  failed_calls      per branch: SIP calls that did not complete, calls without a record
  outcomes          per branch: outcome/ended_by of the records
  cpu_ms_per_call   CPU (user+system) of serve (with children) and Asterisk over the load,
                    divided by the calls
Run: .venv/bin/python bench/soak.py [--calls 1000 --rate 1.5 --agents 12]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
import threading
import time
import wave
from collections import Counter
from typing import Any

import httpx
from acd_load import ROOT, Bench, cpu_seconds, run_bench, tree_cpu
from bench_kit import instance, open_records, placed, rows, tree_rss_mb

from app.core.clock import today
from app.pbx import sandbox

INSTANCE = instance("soak", sip=15690, ari=18690, ami=15691, api=18691, rtp=(19000, 19999))
SPEECH = ROOT / "tests/data/speech/ulaw8k/020.wav"
# Share of the calls per branch.
SHARES = {"order": 0.2, "train": 0.15, "lost": 0.15, "complaint": 0.1, "agent": 0.1,
          "hang_up": 0.15, "mid_key": 0.15}
TRAIN_KEY = {"G": "1", "D": "2", "K": "3", "Z": "4", "T": "5", "C": "6"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000, help="calls in all (default 1000)")
    parser.add_argument("--rate", type=float, default=1.5,
                        help="new calls per second over all branches (default 1.5: about 40 "
                        "calls at once, most of them staying to the goodbye; 4/s made the "
                        "SQLite writes time out on a loaded 2-core machine)")
    parser.add_argument("--agents", type=int, default=12,
                        help="softphone agents answering the agent branch (default 12)")
    parser.add_argument("--talk", type=float, default=5.0, metavar="SECONDS",
                        help="an agent hangs up this long after answering (default 5)")
    args = parser.parse_args()
    if args.calls < len(SHARES) or args.rate <= 0 or args.agents < 1 or args.talk <= 0:
        parser.error(f"--calls must be >= {len(SHARES)}, --rate and --talk > 0, --agents >= 1")
    # What acd_load's Bench reads: agents in 北京 answering after 1 s; a phone takes at
    # most every agent call.
    args.centers, args.answer_after, args.callers = ["北京"], 1.0, args.calls
    return args


def seconds_of(bench: Bench, *prompts: str) -> float:
    total = 0.0
    for prompt in prompts:
        path = bench.settings.root / f"var/lib/asterisk/sounds/hotline/zh/{prompt}.wav"
        with wave.open(str(path)) as fh:
            total += fh.getnframes() / fh.getframerate()
    return total


def scripts(bench: Bench) -> dict[str, list[str]]:
    """Each branch's caller script, from the demo data."""
    [(order_no, id_number)] = rows(bench, "select order_no, id_number from orders "
                                   "order by id limit 1")
    day = today().isoformat()
    [(train,)] = rows(bench, "select t.number from trains t join train_runs r "
                      "on r.train_id = t.id where r.run_date = ? order by t.id limit 1", day)
    [(lost,)] = rows(bench, "select t.number from trains t join train_runs r on r.train_id "
                     "= t.id join found_items f on f.run_id = r.id where r.run_date = ? "
                     "order by t.id limit 1", day)
    after_beep = "," * (int(seconds_of(bench, "complaint_record")) + 3)  # 1 s per comma
    stay = ["--hold", "90"]  # until the platform says goodbye
    return {
        "order": ["--dtmf", f"1{order_no[1:]}#{id_number[-4:]}#", *stay],
        "train": ["--dtmf", f"3{TRAIN_KEY[train[0]]}{train[1:]}#1", *stay],
        "lost": ["--dtmf", f"4{TRAIN_KEY[lost[0]]}{lost[1:]}#1", *stay],
        "complaint": ["--dtmf", "5" + after_beep, "--speech", str(SPEECH), "--dtmf", "#",
                      *stay],
        "agent": ["--dtmf", "0", *stay],
        "hang_up": ["--hold", "1"],
        "mid_key": ["--dtmf", "1", "--hold", "2"],
    }


def counts(total: int) -> dict[str, int]:
    out = {k: int(total * share) for k, share in SHARES.items()}
    for k in list(out)[: total - sum(out.values())]:
        out[k] += 1
    return out


def snapshot(bench: Bench, serve_pid: int, pbx_pid: int) -> dict[str, Any]:
    return {**bench.pbx_left(), **open_records(bench),
            "serve_rss_mb": tree_rss_mb(serve_pid), "asterisk_rss_mb": tree_rss_mb(pbx_pid)}


def outcomes(bench: Bench, sip_ids: list[str]) -> tuple[dict[str, int], int]:
    """outcome/ended_by counts of these calls' records, and how many have a record."""
    found: Counter[str] = Counter()
    for start in range(0, len(sip_ids), 500):
        chunk = sip_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for outcome, ended_by in rows(
                bench, f"select outcome, ended_by from calls where sip_call_id in ({marks})",
                *chunk):
            found[f"{outcome}/{ended_by}"] += 1
    return dict(found), sum(found.values())


def run(bench: Bench) -> dict[str, Any]:
    args = bench.args
    per_branch = counts(args.calls)
    duration = args.calls / args.rate
    bench.start_platform()
    bench.create_agents()
    bench.start_phones(phone_timeout=duration + 600)
    assert bench.serve is not None
    serve_pid = bench.serve.pid
    pbx_pid = int(sandbox.pid_file(bench.settings).read_text().strip())
    for _ in range(30):  # speech warm-up goes on after /healthz: start once serve is quiet
        a = tree_cpu(serve_pid)
        time.sleep(2)
        if tree_cpu(serve_pid) - a < 0.1:
            break
    before = snapshot(bench, serve_pid, pbx_pid)
    plan = scripts(bench)
    live: list[int] = []
    api_timeouts: list[int] = []
    done = threading.Event()

    def live_calls() -> int:
        """-1 when the API does not answer in time (it shares serve's event loop)."""
        try:
            return bench.live_calls()
        except httpx.HTTPError:
            return -1

    def sample() -> None:
        while not done.wait(1.0):
            n = live_calls()
            if n >= 0:
                live.append(n)
            else:
                api_timeouts.append(1)

    def place(branch: str) -> dict[str, Any]:
        n = per_branch[branch]
        if n == 0:
            return {}
        with bench.lock:
            if bench.closing:
                return {}
            proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "call", "--api", "none", "--calls", str(n),
                 "--rate", f"{n / duration:.6f}", *plan[branch]],
                env=bench.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, start_new_session=True)
            bench.callers.append(proc)
        out, err = proc.communicate()
        lines = out.strip().splitlines()
        return dict(json.loads(lines[-1])) if lines else {"error": err.strip()[-500:]}

    bench.say(f"placing {args.calls} calls at {args.rate:g}/s over {duration:.0f} s: "
              + ", ".join(f"{k} {v}" for k, v in per_branch.items()))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    a0, p0, t0 = tree_cpu(serve_pid), cpu_seconds(pbx_pid), time.monotonic()
    pool = concurrent.futures.ThreadPoolExecutor(len(plan))
    try:
        summaries = dict(zip(plan, pool.map(place, plan), strict=True))
    finally:
        pool.shutdown(wait=False)
    deadline = time.monotonic() + 60  # until no call is live in the app
    while (live_left := live_calls()) != 0 and time.monotonic() < deadline:
        time.sleep(1)
    done.set()
    app_cpu, pbx_cpu = tree_cpu(serve_pid) - a0, cpu_seconds(pbx_pid) - p0
    wall = time.monotonic() - t0
    bench.say(f"calls done after {wall:.0f} s; settling")
    deadline = time.monotonic() + 60
    while True:
        after = snapshot(bench, serve_pid, pbx_pid)
        left = [after[k] for k in ("channels", "bridges", "calls_not_ended",
                                   "queue_entries_open", "agent_legs_open")]
        if not any(left) or time.monotonic() > deadline:
            break
        time.sleep(2)
    failed: dict[str, dict[str, Any]] = {}
    by_branch: dict[str, dict[str, int]] = {}
    for branch, summary in summaries.items():
        sip_ids, completed = placed(summary)
        by_branch[branch], recorded = outcomes(bench, sip_ids)
        failed[branch] = {"not_completed": per_branch[branch] - completed,
                          "no_record": per_branch[branch] - recorded}
        if summary.get("errors") or summary.get("error"):
            failed[branch]["errors"] = summary.get("errors") or summary.get("error")
    return {
        "calls": args.calls, "rate_per_s": args.rate, "agents": args.agents,
        "talk_s": args.talk, "per_branch": per_branch,
        "before": before, "after": after,
        "live_calls_after_settle": live_left,
        "concurrency": {"mean": round(sum(live) / len(live), 1) if live else None,
                        "max": max(live) if live else None,
                        "api_unanswered_samples": len(api_timeouts)},
        "failed_calls": failed,
        "outcomes": by_branch,
        "cpu_ms_per_call": {"app": round(app_cpu * 1000 / args.calls, 1),
                            "asterisk": round(pbx_cpu * 1000 / args.calls, 1)},
        "wall_s": round(wall, 1),
        "serve_log": str(bench.tmp / "serve.log"),
    }


def main() -> int:
    return run_bench(parse_args(), "soak", INSTANCE, "HOTLINE_SOAK_", run,
                     start_timeout=400)  # others\' load slows speech warm-up


if __name__ == "__main__":
    sys.exit(main())
