"""`kill -9` of `hotline serve` with callers in every state, a restart, and how long until every
channel in our Stasis app is owned again; what survived; nothing left once the callers are gone.

Starts its own PBX instance (`crash`: SIP 15670, ARI 18670, AMI 15671, API 18671, RTP
20000-20999, state under /var/lib/hotline/instances/crash; HOTLINE_CRASH_<NAME> overrides) and
`hotline serve --demo-data` on a fresh SQLite database. --talking agents (softphones that answer
and never hang up) and one agent logged in but paused. Then, each group from its own caller
number: --talking callers press 0 and talk to those agents; --waiting callers press 0 and wait
(every agent busy or paused); --in-menu callers press nothing and sit in the main menu;
--ending callers hang up a few seconds after answering, while the app is down. Once all are in
place: SIGKILL to serve, wait until the --ending callers have hung up, start serve again.

Printed figures (one JSON line):
  unowned_s           seconds until the new process had adopted every caller, from the kill
                      and from the restart: `reconciled` (the serve log line, stamped when
                      this script saw it) and `confirmed` (the API's active calls cover every
                      caller channel in Stasis, and every agent leg in Stasis belongs to a
                      talking call: checked over ARI once the API is up after speech warm-up)
  reconciled          the serve log's reconciled line
  survived            per group, how many came through: talking = still with the same agent on
                      the same leg after the restart; waiting = back in their queue entry with
                      its original entered_at (and heard queue_resumed); in_menu = heard
                      service_resumed, then the main menu again; ending = closed as
                      platform_restart / ended_by platform_restart
  outcomes            per group, the calls' final outcome/ended_by
  after               once every caller has hung up: PBX channels and bridges, open records
  failed_calls        callers whose SIP call did not complete

Run: .venv/bin/python bench/crash_recovery.py [--talking 6 --waiting 6 --in-menu 6 --ending 4]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
from acd_load import ROOT, Bench, run_bench
from bench_kit import instance, open_records, placed, rows, stasis_channels

from app.ari_handlers.reconcile import HELPERS

INSTANCE = instance("crash", sip=15670, ari=18670, ami=15671, api=18671, rtp=(20000, 20999))
# One caller number per group (all in 北京's mobile segment), so the records tell them apart.
NUMBER = {"talking": "13901000001", "waiting": "13901000002", "in_menu": "13901000003",
          "ending": "13901000004"}
ENDING_HOLD = 8.0  # the --ending callers hang up this long after answering
RECONCILED = re.compile(r"reconciled: .*")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--talking", type=int, default=6,
                        help="callers talking to an agent at the kill (default 6)")
    parser.add_argument("--waiting", type=int, default=6,
                        help="callers waiting for an agent at the kill (default 6)")
    parser.add_argument("--in-menu", type=int, default=6,
                        help="callers in the main menu at the kill (default 6)")
    parser.add_argument("--ending", type=int, default=4,
                        help="callers who hang up while the app is down (default 4)")
    parser.add_argument("--hold", type=float, default=300.0, metavar="SECONDS",
                        help="the other callers hang up this long after their keys; it must "
                        "outlast the restart and the API's speech warm-up, which takes "
                        "30-200 s on a busy 2-core machine (default 300)")
    args = parser.parse_args()
    if min(args.talking, args.waiting, args.in_menu, args.ending) < 0 or args.talking < 1:
        parser.error("group sizes must be >= 0, --talking >= 1")
    if args.hold < 90:
        parser.error("--hold must be >= 90: the callers must outlast the restart")
    # What acd_load's Bench reads: the talking agents and the paused one, in 北京, answering
    # after 1 s and never hanging up themselves; a phone stays registered for a second and
    # third call (a waiting caller, once its talking caller has hung up).
    args.agents, args.centers, args.answer_after = args.talking + 1, ["北京"], 1.0
    args.talk, args.callers = 3600.0, 3
    return args


class Crash:
    def __init__(self, bench: Bench) -> None:
        self.bench, self.args = bench, bench.args
        self.groups: dict[str, subprocess.Popen[str]] = {}
        self.summaries: dict[str, dict[str, Any]] = {}

    def call(self, group: str, count: int, *script: str) -> None:
        if count == 0:
            return
        self.groups[group] = proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "call", "--api", "none", "--from", NUMBER[group],
             "--calls", str(count), "--rate", "5", *script],
            env=self.bench.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)
        self.bench.callers.append(proc)

    def collect(self, group: str) -> dict[str, Any]:
        if group not in self.groups:
            return {}
        out, err = self.groups[group].communicate(timeout=self.args.hold + 300)
        lines = out.strip().splitlines()
        self.summaries[group] = json.loads(lines[-1]) if lines else {"error": err[-500:]}
        return self.summaries[group]

    def agents(self) -> dict[str, str]:
        return {a["number"]: a["state"] for a in self.bench.http("GET", "/api/v1/agents").json()}

    def active_ids(self) -> set[str]:
        resp = self.bench.http("GET", "/api/v1/calls/recent", params={"active": "true"})
        resp.raise_for_status()
        return {c["call_id"] for c in resp.json() if c["active"]}

    def wait(self, what: str, check: Any, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.3)

    def unowned(self, active: set[str]) -> int:
        """Callers and agent legs in our Stasis app that the API's active calls do not
        account for (media helpers carry no call id over ARI: they are not counted)."""
        count = 0
        for channel in stasis_channels(self.bench.settings):
            if channel["name"].startswith(HELPERS):
                continue
            args = channel["args"]
            if not args:  # a caller: its channel id is the call id
                count += channel["id"] not in active
            elif args[0] == "agent":  # agent,<call id>
                count += args[1:2] == [] or args[1] not in active
            else:
                count += 1  # callbacks and feature lines: none placed by this bench
        return count

    # the run ------------------------------------------------------------------------------
    def place_callers(self) -> None:
        bench, args = self.bench, self.args
        numbers = [n for n, _ in bench.agents]
        paused = numbers[-1]
        resp = bench.http("POST", f"/api/v1/agents/{paused}/state", json={"state": "paused"})
        if resp.status_code != 200:
            raise RuntimeError(f"agent {paused} not paused: {resp.text}")
        hold = str(args.hold)
        self.call("talking", args.talking, "--dtmf", "0", "--hold", hold)
        self.wait("the talking callers with their agents",
                  lambda: sum(s == "on_call" for s in self.agents().values()) == args.talking,
                  60 + 5 * args.talking)
        self.call("waiting", args.waiting, "--dtmf", "0", "--hold", hold)
        self.call("in_menu", args.in_menu, "--hold", hold)
        self.wait("the waiting callers in the queue",
                  lambda: len(rows(bench, "select id from queue_entries where left_at is null"))
                  == args.waiting, 60)
        self.call("ending", args.ending, "--hold", str(ENDING_HOLD),
                  "--timeout", str(args.hold))
        # Kill once all are answered: a caller the app had not answered yet would wait for a
        # 200 OK that never comes. (Starting `hotline call` takes seconds on a busy machine.)
        self.wait("the --ending callers answered", lambda: sum(
            c["caller"]["number"] == NUMBER["ending"] and c["state"] == "Up"
            for c in stasis_channels(bench.settings)) == args.ending, 120)

    def snapshot(self) -> dict[str, Any]:
        """Who is where just before the kill, from the database."""
        bench = self.bench
        calls = rows(bench, "select id, caller from calls where ended_at is null")
        legs = rows(bench, "select l.id, l.call_id, l.agent_id from agent_legs l "
                    "where l.end_at is null and l.answer_at is not null")
        entries = rows(bench, "select id, call_id, entered_at from queue_entries "
                       "where left_at is null")
        by_group: dict[str, list[str]] = {g: [] for g in NUMBER}
        group_of = {n: g for g, n in NUMBER.items()}
        for call_id, caller in calls:
            by_group[group_of.get(str(caller)[-11:], "ending")].append(call_id)
        return {"calls": by_group, "legs": legs, "entries": entries}

    def kill_and_restart(self) -> dict[str, Any]:
        bench = self.bench
        assert bench.serve is not None
        old = bench.serve
        killed = time.monotonic()
        os.kill(old.pid, signal.SIGKILL)
        old.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(old.pid, signal.SIGKILL)  # its children, if any, die with it
        bench.say(f"serve {old.pid} killed; waiting for the --ending callers to hang up")
        self.wait("the --ending callers gone", lambda: not any(
            c["caller"]["number"] == NUMBER["ending"]
            for c in stasis_channels(bench.settings)), ENDING_HOLD + 20)
        log = bench.tmp / "serve.log"
        offset = log.stat().st_size
        restarted = time.monotonic()
        with open(log, "ab") as out:
            bench.serve = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--demo-data"], env=bench.env,
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        bench.say(f"serve restarted (pid {bench.serve.pid}) {restarted - killed:.1f} s after "
                  "the kill")
        line, reconciled = None, None
        healthy, confirmed = None, None
        restarted_wall = datetime.now(UTC)
        deadline = restarted + bench.start_timeout
        while time.monotonic() < deadline and bench.serve.poll() is None:
            now = time.monotonic()
            if line is None:
                with open(log, "rb") as fh:
                    fh.seek(offset)
                    found = RECONCILED.search(fh.read().decode(errors="replace"))
                if found:
                    line, reconciled = found.group(0), now
            if healthy is None:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(bench.api + "/healthz", timeout=1).status_code == 200:
                        healthy = now
            if healthy is not None and confirmed is None:
                with contextlib.suppress(httpx.HTTPError):
                    active = self.active_ids()
                    if self.unowned(active) == 0:
                        confirmed = now
            if line is not None and confirmed is not None:
                break
            time.sleep(0.1)
        if bench.serve.poll() is not None:
            raise RuntimeError(f"restarted serve exited with {bench.serve.returncode}")

        def since(t: float | None, start: float) -> float | None:
            return round(t - start, 2) if t is not None else None

        return {"restarted_wall": restarted_wall, "reconciled_line": line,
                "down_s": round(restarted - killed, 2),
                "unowned_s": {
                    "reconciled": {"from_kill": since(reconciled, killed),
                                   "from_restart": since(reconciled, restarted)},
                    "confirmed": {"from_kill": since(confirmed, killed),
                                  "from_restart": since(confirmed, restarted)},
                    "api_up": {"from_kill": since(healthy, killed),
                               "from_restart": since(healthy, restarted)}}}

    def survived(self, before: dict[str, Any], restarted: datetime) -> dict[str, Any]:
        """Read from the database once every caller has hung up; only calls the new process
        adopted (an `adopted` step in the record) count."""
        bench, calls = self.bench, before["calls"]
        cutoff = restarted.isoformat(" ")[:19]
        adopted = {str(c) for (c,) in rows(
            bench, "select call_id from call_steps where kind = 'adopted'")}

        def steps(call_id: str) -> list[tuple[str, str]]:
            out = []
            for kind, detail in rows(bench, "select kind, detail from call_steps "
                                     "where call_id = ? order by seq", call_id):
                values = json.loads(detail)
                out.append((kind, str(values.get("prompt") or values.get("node") or "")))
            return out

        talking = 0
        for leg_id, call_id, agent_id in before["legs"]:
            legs = rows(bench, "select id, agent_id, end_at from agent_legs where call_id = ?",
                        call_id)
            # The same leg and agent, ended after the kill: the talk went on across it.
            if call_id in adopted and legs and legs[0][:2] == (leg_id, agent_id) \
                    and str(legs[0][2] or "") > cutoff:
                talking += 1
        waiting = 0
        for entry_id, call_id, entered_at in before["entries"]:
            now = rows(bench, "select id, entered_at from queue_entries where call_id = ?",
                       call_id)
            if call_id in adopted and now and now[0] == (entry_id, entered_at) \
                    and ("prompt", "queue_resumed") in steps(call_id):
                waiting += 1
        in_menu = 0
        for call_id in calls["in_menu"]:
            s = steps(call_id)
            if call_id in adopted and ("prompt", "service_resumed") in s \
                    and ("node", "main") in s[s.index(("prompt", "service_resumed")):]:
                in_menu += 1
        ending = sum(1 for call_id in calls["ending"]
                     if rows(bench, "select outcome, ended_by from calls where id = ?", call_id)
                     == [("platform_restart", "platform_restart")])
        outcomes = {group: dict(Counter(
            "/".join(str(v) for v in r) for call_id in ids
            for r in rows(bench, "select outcome, ended_by from calls where id = ?", call_id)))
            for group, ids in calls.items()}
        return {"survived": {
            "talking": f"{talking}/{len(before['legs'])}",
            "waiting": f"{waiting}/{len(before['entries'])}",
            "in_menu": f"{in_menu}/{len(calls['in_menu'])}",
            "ending": f"{ending}/{len(calls['ending'])}"}, "outcomes": outcomes}


def run(bench: Bench) -> dict[str, Any]:
    args = bench.args
    bench.start_platform()
    bench.create_agents()
    bench.start_phones(phone_timeout=args.hold + 600)
    crash = Crash(bench)
    crash.place_callers()
    before = crash.snapshot()
    bench.say("every caller in place: " + ", ".join(
        f"{g} {len(ids)}" for g, ids in before["calls"].items()))
    restart = crash.kill_and_restart()
    bench.say(f"{restart['reconciled_line']}; waiting for the callers to hang up")
    pool = concurrent.futures.ThreadPoolExecutor(len(crash.groups))
    try:
        list(pool.map(crash.collect, [g for g in crash.groups if g not in crash.summaries]))
    finally:
        pool.shutdown(wait=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = {**bench.pbx_left(), **open_records(bench)}
        if not any(after.values()):
            break
        time.sleep(1)
    figures = crash.survived(before, restart.pop("restarted_wall"))
    total = args.talking + args.waiting + args.in_menu + args.ending
    completed = sum(placed(s)[1] for s in crash.summaries.values())
    return {
        "callers": {"talking": args.talking, "waiting": args.waiting, "in_menu": args.in_menu,
                    "ending": args.ending},
        **restart, **figures,
        "after": after,
        "agent_states_after": dict(Counter(crash.agents().values())),
        "failed_calls": total - completed,
        "serve_log": str(bench.tmp / "serve.log"),
    }


def main() -> int:
    return run_bench(parse_args(), "crash", INSTANCE, "HOTLINE_CRASH_", run,
                     start_timeout=400)  # others\' load slows speech warm-up


if __name__ == "__main__":
    sys.exit(main())

