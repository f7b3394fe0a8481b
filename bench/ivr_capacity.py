"""IVR capacity: the hotline's own menu (12306, `hotline serve` with speech listening on) against
the same first menu step in plain dialplan (12399, context bench-dialplan-menu: no Python), in
one run, with the same scripted SIPp callers. Every caller sends RTP silence all call long (as
a phone does), keys as RFC 4733 events.

Starts a PBX instance of its own (`capbench`: SIP 15490, ARI 18490, AMI 15491, API 18491, AGI
18494, RTP 30000-31999 - 1000 callers' RTP/RTCP pairs, below Linux's ephemeral ports that
SIPp takes and above the test instances' 21000-29999; state under
/var/lib/hotline/instances/capbench; HOTLINE_CAPBENCH_<NAME> overrides) with the test numbers
on, and `hotline serve --demo-data` on a fresh SQLite database; stops both at the end. Raises
this process's open-file limit to its hard limit first (Asterisk, serve and SIPp inherit it:
500 callers take well over 1024 sockets). Progress goes to stderr; stdout gets one JSON line,
then a short table. Before measuring: serve's speech warm-up ends, then --warmup calls to each
number (they grow the recogniser pool and fill caches), not counted.

Figures, for each number (plain = 12399, hotline = 12306). CPU is user+system from
/proc/<pid>/stat: Asterisk, and `hotline serve` with its child processes ("python"); each is
net of the idle CPU measured for 5 s right before (idle_ms_per_s), so the plain menu's python
figure is about 0.
  dtmf_call.<number>         --calls callers at --rate a second, each: welcome, press 3
                             --press-after s after the answer, next prompt, hold --hold s,
                             hang up.
      cpu_ms_per_call        CPU from the first call to the last one's end (every channel
                             gone, every call record closed), / callers: asterisk, python,
                             total
      reached_next_prompt    callers whose key started the next prompt (AMI Newexten of the
                             dialplan's Playback; the call's play_started step)
      failed                 see below
  silent.<number>            --silent callers at --rate a second, pressing nothing, each
                             hanging up --silent-hold s after the answer: all of them sit in
                             the first menu step (welcome, then the menu prompt).
      ms_per_call_second     CPU ms per second (sampled each second) while every caller is
                             in the call (last arrival + 3 s .. first hang-up - 2 s),
                             / callers: asterisk, python, total
      in_menu                caller channels (PJSIP) up right after that window
  max_callers.<number>       steps of --steps callers, placed at --rate a second (faster
                             where a step needs it to have all its callers in the menu at
                             once for 8 s; --step-rate fixes it), held
                             silent for --step-hold s; stops at the first step with a failed
                             call. max_callers_without_failure: the last step before it.
  failed (every run)         SIPp calls not completed (no answer, error, timeout), callers
                             who never heard the welcome start (AMI Newexten Background
                             welcome; the call's play_started step of welcome), caller
                             channels hung up with a cause other than normal clearing (AMI
                             Hangup), hotline calls with no record, not ended or ended as
                             error / media_timeout / platform_* / pbx_restart, and, in the
                             silent runs, callers not up at once (in_menu < callers);
                             total: their sum (one call may count in several).
                             log_errors: ERROR lines the run added to Asterisk's messages log
                             and serve's log (reported, not counted: not tied to a call).
  targets                    issue 15: hotline/plain CPU per DTMF call <= 2; hotline silent
                             CPU <= 1.5 ms per call-second (Asterisk + Python); >= 500
                             callers in the hotline's menu with 0 failed calls. Printed, never
                             a reason to fail: the exit code is 0 whenever the bench ran.
  load_avg                   /proc/loadavg before and after (the machine may be shared).

Run: .venv/bin/python bench/ivr_capacity.py [--calls 100 --rate 20 --hold 10 --silent 50
     --steps 50,100,200,300,500] [--skip-max | --max-only]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from acd_load import Bench, cpu_seconds, idle_cpu, run_bench, tree_cpu, wait_quiet
from bench_kit import instance, rows
from ivr_capacity_figures import (
    STEP_TOGETHER_S,
    against_targets,
    all_in_window,
    net_cpu_ms,
    parse_steps,
    step_rate,
    table,
)
from ivr_latency import AmiWatch, ours_latencies
from recording_overhead import Sampler

from app.pbx import sandbox

INSTANCE = {**instance("capbench", sip=15490, ari=18490, ami=15491, api=18491,
                       rtp=(30000, 31999)),
            "AGI_PORT": "18494", "PASSENGER_PORT": "15494", "DEV_LINES": "1"}
NUMBERS = {"plain": "12399", "hotline": "12306"}
# The plain menu hangs up on a silent caller after its welcome (4.9 s), menu prompt (19.7 s)
# and 5 s wait: a silent hold must end before that for both menus to hold the same callers.
MAX_SILENT_HOLD = 26.0
QUIET_MS_PER_S = 50  # serve's CPU ms per second below which it counts as idle
SETTLE_S = 0.5  # `hotline call` waits this long after the answer before its script
# Normal clearing, or no cause given (a caller's BYE): anything else is a failed call.
NORMAL_CAUSES = ("0", "16")
PLATFORM_FAILED = ("error", "media_timeout", "platform_shutdown", "platform_restart",
                   "pbx_restart")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100,
                        help="callers of the DTMF run, per number (default 100)")
    parser.add_argument("--rate", type=float, default=20,
                        help="new calls a second in the DTMF and silent runs (default 20)")
    parser.add_argument("--press-after", type=float, default=6.0, metavar="SECONDS",
                        help="the DTMF callers press 3 this long after the answer, once the "
                        "4.9 s welcome has played (default 6)")
    parser.add_argument("--hold", type=float, default=10.0, metavar="SECONDS",
                        help="the DTMF callers hang up this long after pressing 3 (default 10)")
    parser.add_argument("--silent", type=int, default=50,
                        help="callers of the silent run, per number (default 50)")
    parser.add_argument("--silent-hold", type=float, default=24.0, metavar="SECONDS",
                        help="the silent callers hang up this long after the answer, at most "
                        f"{MAX_SILENT_HOLD:g} (default 24)")
    parser.add_argument("--steps", default="50,100,200,300,500",
                        help="caller counts tried for the largest number in the menu with 0 "
                        "failed calls, rising (default 50,100,200,300,500)")
    parser.add_argument("--step-rate", type=float, default=None,
                        help="new calls a second in those steps (default: --rate, or as much "
                        f"faster as a step needs for all its callers to be in for "
                        f"{STEP_TOGETHER_S:g} s at once)")
    parser.add_argument("--step-hold", type=float, default=24.0, metavar="SECONDS",
                        help="each step's callers hang up this long after the answer, at most "
                        f"{MAX_SILENT_HOLD:g} (default 24)")
    parser.add_argument("--warmup", type=int, default=10, metavar="CALLS",
                        help="calls to each number before measuring, pressing 3 (default 10; "
                        "0: none)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--skip-max", action="store_true",
                       help="measure CPU only, not the largest number of callers (the long part)")
    which.add_argument("--max-only", action="store_true",
                       help="measure only the largest number of callers")
    args = parser.parse_args()
    try:
        args.step_counts = parse_steps(args.steps)
    except ValueError as exc:
        parser.error(f"--steps: {exc}")
    if args.calls < 1 or args.silent < 1 or args.rate <= 0 or (args.step_rate or 1) <= 0:
        parser.error("--calls and --silent at least 1, --rate and --step-rate above 0")
    if args.warmup < 0:
        parser.error("--warmup at least 0")
    if args.press_after < SETTLE_S or args.hold < 0:
        parser.error(f"--press-after at least {SETTLE_S:g} s, --hold at least 0")
    for flag, hold in (("--silent-hold", args.silent_hold), ("--step-hold", args.step_hold)):
        if hold > MAX_SILENT_HOLD:
            parser.error(f"{flag} at most {MAX_SILENT_HOLD:g} s: the plain menu hangs up on a "
                         "silent caller soon after")
    try:
        if not args.max_only:
            all_in_window(args.silent, args.rate, SETTLE_S, args.silent_hold)
        if not args.skip_max:
            all_in_window(args.step_counts[-1], rate_of_step(args, args.step_counts[-1]),
                          SETTLE_S, args.step_hold)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def rate_of_step(args: argparse.Namespace, callers: int) -> float:
    if args.step_rate is not None:
        return float(args.step_rate)
    return step_rate(callers, args.rate, SETTLE_S, args.step_hold)


def raise_open_files() -> int:
    """Soft open-file limit up to the hard one, for this process and what it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return int(soft)


class MenuWatch(AmiWatch):
    """ivr_latency's watch of the plain menu (key 3 -> its Playback) and, for both numbers,
    which channels started the plain menu's welcome and how the callers' channels ended."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.welcomed: set[str] = set()
        self.causes: Counter[str] = Counter()
        self.manager.register_event("Hangup", self._hangup)

    def _exten(self, manager: Any, event: Any) -> None:
        super()._exten(manager, event)
        if (event.get("Context") == "bench-dialplan-menu"
                and str(event.get("Application", "")).lower() == "background"
                and str(event.get("AppData", "")).endswith("/welcome")):
            self.welcomed.add(event["Uniqueid"])

    def _hangup(self, _: Any, event: Any) -> None:
        if str(event.get("Channel", "")).startswith("PJSIP/"):
            self.causes[str(event.get("Cause", "?"))] += 1


def caller_channels(bench: Bench) -> int:
    text = sandbox.cli(bench.settings, "core show channels concise")
    return sum(1 for line in text.splitlines() if line.startswith("PJSIP/"))


def wait_gone(bench: Bench, seconds: float = 60) -> int:
    """Wait for every caller channel to end and every call record to close; channels left."""
    deadline = time.monotonic() + seconds
    left = caller_channels(bench)
    while left and time.monotonic() < deadline:
        time.sleep(1)
        left = caller_channels(bench)
    bench.settle(max(5.0, deadline - time.monotonic()))
    return left


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def error_lines(path: Path, since: int) -> int:
    try:
        with open(path, "rb") as log:
            log.seek(since)
            return sum(1 for line in log if b"ERROR" in line)
    except OSError:
        return 0


def hotline_records(bench: Bench, sip_ids: list[str]) -> dict[str, int]:
    """What the platform stored of these calls: records, welcome started, ended as failed."""
    wanted = set(sip_ids)
    found = [r for r in rows(
        bench,
        "select c.sip_call_id, c.outcome, c.ended_at is not null, exists(select 1 from "
        "call_steps s where s.call_id = c.id and s.kind = 'play_started' and "
        "json_extract(s.detail, '$.media') like '%welcome') from calls c") if r[0] in wanted]
    return {"records": len(found),
            "welcomed": sum(1 for r in found if r[3]),
            "not_ended": sum(1 for r in found if not r[2]),
            "platform_failed": sum(1 for r in found if str(r[1]).lower() in PLATFORM_FAILED)}


class Runner:
    """Places one batch of callers on one number and measures it."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        assert bench.serve is not None
        self.serve_pid = bench.serve.pid
        self.pbx_pid = int(sandbox.pid_file(bench.settings).read_text().strip())

    def idle(self) -> dict[str, float]:
        """Idle CPU ms per second over 5 s once serve is quiet (its speech warm-up and
        the last run's clean-up come in bursts), as wait_quiet has it over 2 s."""
        for _ in range(30):
            idle = idle_cpu(self.serve_pid, self.pbx_pid, 5.0)
            if idle["app"] < QUIET_MS_PER_S:
                break
        return idle

    def cpu(self) -> tuple[float, float]:
        return cpu_seconds(self.pbx_pid), tree_cpu(self.serve_pid)

    def place(self, name: str, n: int, rate: float, hold: float, press_after: float | None = None,
              window: tuple[float, float] | None = None) -> dict[str, Any]:
        """n callers at `rate` a second; each presses 3 `press_after` s after the answer (or
        nothing) and hangs up `hold` s after that (after the answer, when silent)."""
        return asyncio.run(self._place(name, n, rate, hold, press_after, window))

    async def _place(self, name: str, n: int, rate: float, hold: float,
                     press_after: float | None,
                     window: tuple[float, float] | None) -> dict[str, Any]:
        bench = self.bench
        watch = MenuWatch(bench.settings)
        watch.manager.loop = asyncio.get_running_loop()
        await watch.manager.connect()
        logs = (sandbox.messages_log(bench.settings), bench.tmp / "serve.log")
        marks = [log_size(p) for p in logs]
        idle = await asyncio.to_thread(self.idle)
        script = ["--dtmf", "3"] if press_after is not None else []
        settle = SETTLE_S if press_after is None else press_after
        bench.say(f"{name}: {n} callers at {rate:g}/s to {NUMBERS[name]}, "
                  f"{'silent' if press_after is None else 'pressing 3'}, hold {hold:g} s")
        result: dict[str, Any] = {"callers": n}
        with Sampler(self.serve_pid, self.pbx_pid) as sampler:
            (p0, a0), t0 = self.cpu(), time.time()
            calls = asyncio.create_task(asyncio.to_thread(
                bench.run_caller, "--to", NUMBERS[name], "--calls", str(n), "--rate", f"{rate:g}",
                "--settle", str(int(settle * 1000)), *script, "--hold", f"{hold:g}"))
            if window is not None:
                await asyncio.sleep(max(0.0, t0 + window[1] - time.time()))
                result["in_menu"] = await asyncio.to_thread(caller_channels, bench)
            summary = await calls
            left = await asyncio.to_thread(wait_gone, bench)
            (p1, a1), t1 = self.cpu(), time.time()
        await asyncio.sleep(1)  # the last Hangup events
        watch.manager.close()
        sip_ids = [str(i) for i in summary.get("sip_call_ids", [])]
        completed = int(summary.get("completed", 0))
        failed: dict[str, int] = {"sip_not_completed": n - completed,
                                  "abnormal_hangup": sum(c for cause, c in watch.causes.items()
                                                         if cause not in NORMAL_CAUSES),
                                  "channels_left": left}
        if name == "plain":
            failed["no_welcome"] = n - len(watch.welcomed)
            reached = len(watch.started)
        else:
            stored = await asyncio.to_thread(hotline_records, bench, sip_ids)
            failed.update(no_welcome=n - stored["welcomed"], no_record=n - stored["records"],
                          not_ended=stored["not_ended"],
                          platform_failed=stored["platform_failed"])
            reached = (await ours_latencies(bench.env["HOTLINE_DATABASE_URL"], sip_ids))[1]
        if window is not None:
            failed["not_in_menu_at_once"] = max(0, n - int(result["in_menu"]))
        result["failed"] = {**failed, "total": sum(failed.values())}
        result["log_errors"] = {"asterisk": error_lines(logs[0], marks[0]),
                                "serve": error_lines(logs[1], marks[1])}
        errors = summary.get("errors") or summary.get("error")
        if errors:  # SIPp's error file has several events to a line: the start of it
            result["sipp_errors"] = str(errors)[:400]
        result["hangup_causes"] = dict(watch.causes)
        result["idle_ms_per_s"] = idle
        if script:
            result["reached_next_prompt"] = reached
        wall = t1 - t0
        result["cpu_ms_per_call"] = self._net(p1 - p0, a1 - a0, idle, wall, n)
        result["wall_s"] = round(wall, 1)
        if window is not None:
            rate_in = sampler.rate_between(t0 + window[0], t0 + window[1])
            if rate_in is not None:
                secs = rate_in["seconds"]
                result["ms_per_call_second"] = self._net(
                    rate_in["asterisk"] * secs / 1000, rate_in["app"] * secs / 1000, idle, secs,
                    n * secs)
                result["window_s"] = round(secs, 1)
        bench.say(f"{name}: failed {result['failed']['total']}, "
                  f"CPU ms per call {result['cpu_ms_per_call']}")
        return result

    @staticmethod
    def _net(pbx_s: float, app_s: float, idle: dict[str, float], seconds: float,
             units: float) -> dict[str, float]:
        ast = net_cpu_ms(pbx_s, idle["asterisk"], seconds, units)
        py = net_cpu_ms(app_s, idle["app"], seconds, units)
        return {"asterisk": ast, "python": py, "total": round(ast + py, 3)}


def measure(bench: Bench) -> dict[str, Any]:
    args = bench.args
    figures: dict[str, Any] = {"open_files_limit": args.open_files}
    bench.start_platform()
    runner = Runner(bench)
    bench.say("waiting for serve's speech warm-up to end")
    wait_quiet(runner.serve_pid, runner.pbx_pid, tries=150)
    if args.warmup:
        # The first calls grow the recogniser pool and fill caches in both processes: not
        # what a call costs once the platform runs.
        bench.say(f"warm-up: {args.warmup} calls to each number, not measured")
        for number in NUMBERS.values():
            bench.run_caller("--to", number, "--calls", str(args.warmup), "--rate",
                             f"{args.rate:g}", "--dtmf", "3", "--hold", "1")
        wait_gone(bench)
    figures["idle_ms_per_s_at_start"] = wait_quiet(runner.serve_pid, runner.pbx_pid, tries=150)
    if not args.max_only:
        figures["dtmf_call"] = {
            name: runner.place(name, args.calls, args.rate, args.hold, args.press_after)
            for name in NUMBERS}
        window = all_in_window(args.silent, args.rate, SETTLE_S, args.silent_hold)
        figures["silent"] = {
            name: runner.place(name, args.silent, args.rate, args.silent_hold, window=window)
            for name in NUMBERS}
    if not args.skip_max:
        figures["max_callers"] = {}
        for name in NUMBERS:
            best, tried = 0, []
            for n in args.step_counts:
                rate = rate_of_step(args, n)
                window = all_in_window(n, rate, SETTLE_S, args.step_hold)
                step = runner.place(name, n, rate, args.step_hold, window=window)
                tried.append({"callers": n, "rate": rate, "failed": step["failed"],
                              "in_menu": step.get("in_menu"), "log_errors": step["log_errors"],
                              **({"sipp_errors": step["sipp_errors"]}
                                 if "sipp_errors" in step else {})})
                if step["failed"]["total"]:
                    break
                best = n
            figures["max_callers"][name] = {"max_callers_without_failure": best,
                                            "steps": tried}
    figures["targets"] = against_targets(figures)
    return figures


def main() -> int:
    args = parse_args()
    args.open_files = raise_open_files()
    loads = [Path("/proc/loadavg").read_text().split()[:3]]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # run_bench prints the figures' JSON line
        code = run_bench(args, "ivrcap", INSTANCE, "HOTLINE_CAPBENCH_", measure,
                         start_timeout=300)
    if code != 0:
        return code
    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    figures["settings"] = {k: getattr(args, k) for k in (
        "warmup", "calls", "rate", "press_after", "hold", "silent", "silent_hold", "steps",
        "step_rate", "step_hold")}
    figures["load_avg"] = {"before": loads[0],
                           "after": Path("/proc/loadavg").read_text().split()[:3]}
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    print(table(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
