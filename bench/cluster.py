"""The cluster path on one machine: what Kamailio in front of two media nodes costs against one
node called directly, the call set-up time it adds, and failover when a node's PBX dies.

One run, a 2-node cluster of its own (`hotline cluster`'s code, a throwaway PostgreSQL):
  1. direct: N calls (key 9, hold H s) at node 1's own SIP port: CPU of node 1's Asterisk and
     `hotline serve` per call, set-up time (INVITE sent -> 200 OK) p50/p99;
  2. cluster: the same N calls at the proxy: CPU of Kamailio and both nodes per call, set-up;
  3. failover: calls at R/s through the proxy while node 2's Asterisk is killed (kill -9):
     the calls it carried (lost), the calls delayed by failing over, the time from the kill
     until new calls all went straight to node 1, and, after node 2's PBX is started again,
     the time until calls reach it again.
On two cores two nodes cannot out-run one: this measures overhead and behaviour, not capacity.
Run: .venv/bin/python bench/cluster.py [--calls 100 --rate 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from app.cluster.run import Cluster
from app.config import Settings
from app.db.pgserver import postgres_server
from app.pbx import sandbox

TICKS = os.sysconf("SC_CLK_TCK")
# The bench's ports: apart from the tests' (15010-18383, 24038-27093, docker 26038-29088).
BASE = {"sip_port": 23060, "ari_port": 23260, "ami_port": 23360, "api_port": 23460,
        "passenger_port": 23560, "agi_port": 23660, "rtp_start": 30000, "rtp_end": 31999}


def cpu_tree(pid: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants."""
    stats: dict[int, tuple[int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12]))
                                        / TICKS)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            total += stats[current][1]
        todo += [p for p, (parent, _) in stats.items() if parent == current]
    return total


def pcts(values: list[int]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.0f} ms, p99 {p99} ms"


def call(cluster: Cluster, target: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "app.cli", "call", "--pbx", target, "--api",
                           "none", *args], capture_output=True, text=True,
                          env=cluster.nodes[0].env, timeout=900)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def nodes_of(db_url: str, ids: list[str]) -> dict[str, str]:
    import asyncio

    async def run() -> dict[str, str]:
        conn = await asyncpg.connect(db_url)
        try:
            rows = await conn.fetch("select sip_call_id, node from calls "
                                    "where sip_call_id = any($1)", ids)
            return {r[0]: r[1] for r in rows}
        finally:
            await conn.close()

    return asyncio.run(run())


def measured(cluster: Cluster, target: str, pids: list[int], calls: int, rate: float,
             hold: int) -> tuple[dict[str, Any], float]:
    before = sum(cpu_tree(p) for p in pids)
    summary = call(cluster, target, "--dtmf", "9", "--hold", str(hold), "--calls", str(calls),
                   "--rate", str(rate))
    time.sleep(2)  # the last hang-ups are handled
    used = sum(cpu_tree(p) for p in pids) - before
    return summary, used


def asterisk_pid(cluster: Cluster, number: int) -> int:
    return int(sandbox.pid_file(cluster.nodes[number - 1].settings()).read_text().strip())


def failover(cluster: Cluster, db_url: str, rate: float, seconds: int) -> None:
    count = int(rate * seconds)
    kill_at = seconds / 3
    result: dict[str, Any] = {}

    def place() -> None:
        result.update(call(cluster, f"127.0.0.1:{cluster.proxy_port}", "--dtmf", "9",
                           "--hold", "2", "--calls", str(count), "--rate", str(rate),
                           "--keep"))

    runner = threading.Thread(target=place)
    started = time.monotonic()
    runner.start()
    time.sleep(kill_at)
    victim = asterisk_pid(cluster, 2)
    killed = time.monotonic() - started
    os.kill(victim, signal.SIGKILL)
    runner.join()
    log = Path(result["files"]) / "calls.log"
    invites: dict[str, int] = {}
    answers: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split()
        if parts and parts[0] == "invite":
            invites[parts[1]] = int(parts[2])
        elif parts[:2] == ["final", "200"]:
            answers[parts[2]] = int(parts[3])
    first = min(invites.values())
    # SIPp's clock starts when it starts: the first INVITE left at about 0.3 s (start-up).
    offset = (killed - 0.3) * 1000
    after = {cid: t - first for cid, t in invites.items() if t - first >= offset}
    slow = [cid for cid in after if answers.get(cid, 10**9) - invites[cid] > 1000]
    where = nodes_of(db_url, list(invites))
    last_slow = max((after[c] for c in slow), default=offset)
    lost = result["answered"] - result["completed"]
    print(f"failover: node 2's Asterisk killed {killed:.1f} s into {count} calls at "
          f"{rate:g}/s; {lost} calls in progress on it were cut off (answered, never "
          f"completed); {len(after)} calls placed after the kill: "
          f"{sum(1 for c in after if c in answers)} answered, {len(slow)} of them failed over "
          f"(set-up > 1 s), all on {sorted({where.get(c, '?') for c in after})}; new calls "
          f"went straight to the survivor {max(0.0, (last_slow - offset) / 1000):.1f} s after "
          f"the kill (set-up of the failed-over: "
          f"{pcts([answers[c] - invites[c] for c in slow if c in answers])})")
    started = time.monotonic()
    sandbox.start(cluster.nodes[1].settings(), say=lambda _msg: None)
    while True:
        summary = call(cluster, f"127.0.0.1:{cluster.proxy_port}", "--dtmf", "9", "--hold",
                       "1", "--calls", "4", "--rate", "4")
        if cluster.nodes[1].name in set(nodes_of(db_url, summary["sip_call_ids"]).values()):
            break
        if time.monotonic() - started > 120:
            print("put back: node 2 got no call within 120 s of its PBX's start")
            return
    print(f"put back: node 2's PBX started; calls reached it again "
          f"{time.monotonic() - started:.1f} s later (PBX start included)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--hold", type=int, default=2)
    parser.add_argument("--failover-rate", type=float, default=5)
    parser.add_argument("--failover-seconds", type=int, default=24)
    args = parser.parse_args()
    os.environ.setdefault("HOTLINE_DEV_LINES", "1")
    main_settings = Settings()
    base = main_settings.model_copy(update={
        "instance": "clusterbench", "pbx_root": main_settings.root,
        "state_dir": main_settings.state_dir / "instances" / "clusterbench", **BASE})
    folder = Path(tempfile.mkdtemp(prefix="hotline-clusterbench-"))
    with postgres_server() as db_url:
        cluster = Cluster(base, 2, db_url, folder,
                          extra_env={"HOTLINE_TTS_ENGINE": "espeak", "HOTLINE_TTS_WORKERS": "1"})
        cluster.start(progress=sys.stderr)
        try:
            assert cluster.proxy_proc is not None
            nodes = [(asterisk_pid(cluster, n.number), n.proc.pid if n.proc else 0)
                     for n in cluster.nodes]
            direct, direct_cpu = measured(
                cluster, f"127.0.0.1:{cluster.nodes[0].sip_port}", list(nodes[0]), args.calls,
                args.rate, args.hold)
            proxied, proxied_cpu = measured(
                cluster, f"127.0.0.1:{cluster.proxy_port}",
                [cluster.proxy_proc.pid, *nodes[0], *nodes[1]], args.calls, args.rate,
                args.hold)
            kamailio = cpu_tree(cluster.proxy_proc.pid)
            where = nodes_of(db_url, proxied["sip_call_ids"])
            spread = {n.name: sum(1 for v in where.values() if v == n.name)
                      for n in cluster.nodes}
            for name, summary, cpu in (("direct to node 1", direct, direct_cpu),
                                       ("through the proxy", proxied, proxied_cpu)):
                done = summary["completed"]
                print(f"{name}: {done}/{summary['calls']} calls completed in "
                      f"{summary['elapsed']:.1f} s ({done / summary['elapsed']:.1f} calls/s "
                      f"offered at {args.rate:g}/s); CPU {1000 * cpu / max(done, 1):.1f} ms "
                      f"per call; set-up {pcts(summary['setup_ms'])}")
            print(f"cluster spread: {spread}; Kamailio's CPU over the whole run so far "
                  f"{kamailio:.2f} s")
            per_proxied = proxied_cpu / max(proxied["completed"], 1)
            per_direct = direct_cpu / max(direct["completed"], 1)
            print(f"cluster / direct CPU per call: {per_proxied / per_direct:.2f}x")
            failover(cluster, db_url, args.failover_rate, args.failover_seconds)
        finally:
            cluster.stop()
    print(f"(logs in {folder})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
