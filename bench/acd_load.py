"""ACD under load: N registered softphone agents take M queued callers, on a PBX of its own.

Starts its own PBX instance (`bench`: SIP 15560, ARI 18588, AMI 15538, API 18580, RTP
46000-49999, state under /var/lib/hotline/instances/bench; HOTLINE_BENCH_<NAME> overrides) and
`hotline serve --demo-data` on a fresh SQLite database in a temp dir. Creates the agents
(skill ticket:5, spread round-robin over the centers given), starts one `hotline softphone` per
agent (answers after --answer-after s, hangs up after --talk s), makes them ready through the
API, then places the callers evenly over --duration: one `hotline call --dtmf 0` process per
center, its caller number from that center's mobile segment, so each center's callers are
served by its own agents first (overflow to other centers after the queue's 30 s only when a
center's agents are all busy). Menu key 0 queues the caller in `general` (skill ticket).

Printed figures (one JSON line):
  connected_pct        queue entries with result connected / callers placed
  queue_results        queue entries by result; overflowed: connected to another center
  wait_s p50/p99       the queue entries' wait (enqueue -> agent answered, or left)
  enqueue_to_ring_ms   first agent rung per entry, p50/p99, three ways (agents are rung
                       while the caller hears the recording notice, which is played whole
                       before the two talk; --no-notice plays none):
      app_steps        `enqueue` step -> `agent_ring` step (app clock, the call's steps)
      agent_channel    `enqueue` step -> Asterisk creates PJSIP/agent-NO (AMI Newchannel)
      phone_ringing    `enqueue` step -> the phone's 180 Ringing reaches Asterisk (AMI
                       Newstate Ringing); app and PBX stamp the same host clock
      app_steps_agent_free  app_steps, only for entries that found an agent of their
                       center free (not between ring and end of wrap-up): no queueing in it
    The others include any queueing: a caller who waits for a free agent waits in them too.
  failed_calls         callers whose SIP call did not complete, and agent legs not answered
  stranded             calls still live in the app, queue entries still open, once every
                       caller process has ended (after a short settle)
  cpu_ms_per_call      CPU (user+system, /proc) of `hotline serve` (with its child processes)
                       and of Asterisk from the first call to the end of the last, / callers;
                       idle CPU ms per second (2 s before, 5 s after the load) for comparison
  left_after           PBX channels and bridges still up after the settle

Run: .venv/bin/python bench/acd_load.py [--agents 40 --callers 120 --duration 120]
     [--no-notice]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from app.pbx import sandbox

ROOT = Path(__file__).resolve().parents[1]

INSTANCE = {
    "INSTANCE": "bench",
    "STATE_DIR": "/var/lib/hotline/instances/bench",
    "PBX_ROOT": "/var/lib/hotline/pbx-root",
    "SIP_PORT": "15560",
    "ARI_PORT": "18588",
    "AMI_PORT": "15538",
    "API_PORT": "18580",
    "RTP_START": "46000",
    "RTP_END": "49999",
    "DEV_LINES": "1",
}
# A caller number per center, from the mobile segments routing.yaml maps to it.
CALLER_OF = {"北京": "13901001234", "上海": "13902101234", "太原": "13903511234"}
PASSWORD = "bench-agent-pass"
FIRST_AGENT = 8001
TICKS = os.sysconf("SC_CLK_TCK")


class Stop(Exception):
    """SIGTERM: clean up as for Ctrl-C."""


# --- processes ---------------------------------------------------------------------------------
def bench_env(tmp: Path, instance: dict[str, str] | None = None,
              prefix: str = "HOTLINE_BENCH_") -> dict[str, str]:
    """The environment of a bench instance (`instance`, INSTANCE by default; <prefix><NAME>
    overrides) on a fresh SQLite database in tmp."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOTLINE_ARI_PASSWORD", "HOTLINE_AMI_SECRET", "HOTLINE_API_TOKEN")}
    env.update({f"HOTLINE_{k}": os.environ.get(f"{prefix}{k}", v)
                for k, v in (instance or INSTANCE).items()})
    env["HOTLINE_DATABASE_URL"] = f"sqlite:///{tmp / 'hotline.db'}"
    return env


def hotline(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    out = subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                         text=True, env=env, timeout=timeout, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"hotline {' '.join(args[:3])} failed: {out.stderr.strip()}")
    return out.stdout


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime, all threads


def tree_cpu(pid: int) -> float:
    """CPU of a process and its living descendants (serve's speech workers, if any)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu_seconds(p)
        todo.extend(children.get(p, []))
    return total


def stop_group(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, wait: float = 10) -> None:
    """End a child we started in its own session, and everything it started (SIPp)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # SIPp left behind by a finished parent


def idle_cpu(serve_pid: int, pbx_pid: int, seconds: float = 5.0) -> dict[str, float]:
    """CPU ms per second with no call: what a call's share is compared against."""
    a, p = tree_cpu(serve_pid), cpu_seconds(pbx_pid)
    time.sleep(seconds)
    return {"app": round((tree_cpu(serve_pid) - a) * 1000 / seconds, 1),
            "asterisk": round((cpu_seconds(pbx_pid) - p) * 1000 / seconds, 1)}


def wait_quiet(serve_pid: int, pbx_pid: int, tries: int = 30) -> dict[str, float]:
    """Speech warm-up (the recogniser pool's prefill) goes on after /healthz answers: the
    load starts once serve is quiet (under 50 ms CPU a second, at most `tries` x 2 s);
    returns the last idle figures."""
    for _ in range(tries):
        idle = idle_cpu(serve_pid, pbx_pid, 2.0)
        if idle["app"] < 50:
            break
    return idle


def pct(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def spread(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": pct(values, 0.5), "p99": pct(values, 0.99),
            "max": round(max(values), 1) if values else None}


# --- the PBX side: agent channels from AMI ----------------------------------------------------
@dataclass
class AmiWatch:
    """Newchannel and Newstate(Ringing) times of PJSIP/agent-* channels, by Uniqueid."""

    settings: Settings
    created: dict[str, float] = field(default_factory=dict)
    ringing: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        self._ready.wait(20)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _agent(self, event: Any) -> str | None:
        channel = str(event.get("Channel", ""))
        return str(event["Uniqueid"]) if channel.startswith("PJSIP/agent-") else None

    def _new(self, _: Any, event: Any) -> None:
        uid = self._agent(event)
        if uid:
            self.created.setdefault(uid, float(event["Timestamp"]))

    def _state(self, _: Any, event: Any) -> None:
        uid = self._agent(event)
        if uid and event.get("ChannelStateDesc") == "Ringing":
            self.ringing.setdefault(uid, float(event["Timestamp"]))

    async def _run(self) -> None:
        from panoramisk import Manager

        from app.pbx.secrets import load_credentials

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        manager = Manager(host=self.settings.ami_host, port=self.settings.ami_port,
                          username=self.settings.ami_user,
                          secret=load_credentials(self.settings).ami_secret)
        manager.register_event("Newchannel", self._new)
        manager.register_event("Newstate", self._state)
        try:
            await manager.connect()
        except Exception as exc:  # figures from the app side remain
            self.error = f"AMI: {exc}"
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        manager.close()


# --- the platform -------------------------------------------------------------------------------
@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    env: dict[str, str]
    settings: Settings
    api: str
    serve: subprocess.Popen[bytes] | None = None
    phones: list[subprocess.Popen[bytes]] = field(default_factory=list)
    callers: list[subprocess.Popen[str]] = field(default_factory=list)
    started_pbx: bool = False
    token: str = ""
    agents: list[tuple[str, str]] = field(default_factory=list)  # (number, center)
    ami: AmiWatch | None = None
    closing: bool = False
    phone_restarts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    start_timeout: float = 120.0  # seconds for serve to answer /healthz

    def say(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def http(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.api + path, timeout=15,
                             headers={"Authorization": f"Bearer {self.token}"}, **kw)

    # start-up ---------------------------------------------------------------------------------
    def start_platform(self) -> None:
        if sandbox.is_running(self.settings):
            self.say(f"PBX instance {self.settings.instance} already running: using it")
        else:
            sandbox.start(self.settings, say=self.say)
            self.started_pbx = True
        self.forget_contacts()
        log = open(self.tmp / "serve.log", "wb")  # the child writes it until it ends
        self.serve = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--demo-data"], env=self.env, cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        # Speech warm-up takes most of the start (minutes on a loaded machine).
        deadline = time.monotonic() + self.start_timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.api + "/healthz", timeout=2).status_code == 200:
                    break
            if self.serve.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("hotline serve did not become healthy; log: "
                                   + str(self.tmp / "serve.log"))
            time.sleep(0.5)
        self.token = hotline(self.env, "users", "create", "bench-supervisor", "--role",
                             "supervisor", "--token").strip().splitlines()[-1]
        self.say(f"serve healthy (pid {self.serve.pid}), log {self.tmp / 'serve.log'}")

    def create_agents(self) -> None:
        """Through the same service as `hotline agents create`, in one transaction, and one
        provisioning of the SIP accounts (N concurrent CLI runs would each rewrite and
        reload them)."""
        centers = self.args.centers
        self.agents = [(str(FIRST_AGENT + i), centers[i % len(centers)])
                       for i in range(self.args.agents)]

        async def make() -> bool:
            from app.acd.agents import create_agent
            from app.acd.provisioning import apply_agents
            from app.db.session import Database

            db = Database(self.settings.db_url)
            try:
                async with db.session() as session:
                    for number, center in self.agents:
                        await create_agent(session, number, name=f"坐席{number}", center=center,
                                           skills={"ticket": 5}, password=PASSWORD)
                    await session.commit()
                return await apply_agents(self.settings, db)
            finally:
                await db.dispose()

        if not asyncio.run(make()):
            raise RuntimeError("the PBX did not reload the agents' SIP accounts")
        self.say(f"{len(self.agents)} agents created over {', '.join(centers)}")

    def forget_contacts(self) -> None:
        """Registrations of an earlier run (its phones were stopped without unregistering)
        persist in the instance's astdb; drop them so only this run's phones count."""
        with contextlib.suppress(sandbox.SandboxError):
            sandbox.cli(self.settings, "database deltree registrar")

    def _phone(self, number: str, timeout: float) -> subprocess.Popen[bytes]:
        out = open(self.tmp / f"phone-{number}.json", "wb")
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "softphone", "--agent", number, "--password",
             PASSWORD, "--answer-after", str(self.args.answer_after), "--hold",
             str(self.args.talk), "--calls", str(self.args.callers),
             "--timeout", str(int(timeout))],
            env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def start_phones(self, phone_timeout: float) -> None:
        self.phones = [self._phone(number, phone_timeout) for number, _ in self.agents]
        deadline = time.monotonic() + 60 + len(self.agents)
        while True:
            contacts = sandbox.cli(self.settings, "pjsip show contacts")
            missing = [n for n, _ in self.agents if f"agent-{n}/" not in contacts]
            for i, (number, _) in enumerate(self.agents):
                if self.phones[i].poll() is None:
                    continue  # a registered phone runs until its calls or its timeout
                text = (self.tmp / f"phone-{number}.json").read_text(errors="replace")
                # Each phone picks free ports before SIPp binds them: with many starting at
                # once two can pick the same one (SIPp exits at once). Start it again.
                if "no answer to REGISTER" in text and self.phone_restarts < len(self.agents):
                    self.phone_restarts += 1
                    self.say(f"softphone {number} ended at start ({text.strip()[-120:]}); "
                             "starting it again")
                    self.phones[i] = self._phone(number, phone_timeout)
                    continue
                raise RuntimeError(f"softphone {number} ended at start: {text.strip()[-400:]}")
            if not missing:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"softphones not registered: agents {missing[:10]}")
            time.sleep(1)
        for number, _ in self.agents:
            resp = self.http("POST", f"/api/v1/agents/{number}/state", json={"state": "ready"})
            if resp.status_code != 200:
                raise RuntimeError(f"agent {number} not made ready: {resp.text}")
        self.say(f"{len(self.agents)} softphones registered, agents ready")

    # load -------------------------------------------------------------------------------------
    def place_callers(self) -> list[dict[str, Any]]:
        """One SIPp caller process per center, staggered so arrivals are evenly spaced."""
        args, centers = self.args, self.args.centers
        counts = [args.callers // len(centers) + (i < args.callers % len(centers))
                  for i in range(len(centers))]
        gap = args.duration / args.callers
        results: list[dict[str, Any]] = [{} for _ in centers]

        def run(i: int) -> None:
            if counts[i] == 0:
                return
            time.sleep(i * gap)
            results[i] = self.run_caller(
                "--from", CALLER_OF[centers[i]], "--dtmf", "0", "--hold", str(args.patience),
                "--calls", str(counts[i]), "--rate", f"{counts[i] / args.duration:.6f}")

        # Not `with`: on Ctrl-C the main thread must not wait here for the callers to finish;
        # close() ends their processes, which ends these threads.
        pool = concurrent.futures.ThreadPoolExecutor(len(centers))
        try:
            for future in [pool.submit(run, i) for i in range(len(centers))]:
                future.result()
        finally:
            pool.shutdown(wait=False)
        return results

    def run_caller(self, *call_args: str) -> dict[str, Any]:
        """One `hotline call` process (SIPp) that close() ends; its JSON summary, {} when the
        bench is stopping, {"error": ...} when it printed none."""
        with self.lock:  # no caller process starts once the bench is stopping
            if self.closing:
                return {}
            proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "call", "--api", "none", *call_args],
                env=self.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, start_new_session=True)
            self.callers.append(proc)
        out, err = proc.communicate()
        lines = out.strip().splitlines()
        return json.loads(lines[-1]) if lines else {"error": err.strip()[-500:]}

    def live_calls(self) -> int:
        resp = self.http("GET", "/api/v1/calls/recent", params={"active": "true"})
        return len(resp.json()) if resp.status_code == 200 else -1

    def settle(self, seconds: float = 20) -> int:
        """Wait until no call is live in the app (records are written as calls end)."""
        deadline = time.monotonic() + seconds
        live = self.live_calls()
        while live != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
            live = self.live_calls()
        time.sleep(1)
        return self.live_calls()

    def pbx_left(self) -> dict[str, int]:
        text = sandbox.cli(self.settings, "core show channels count")
        channels = next((int(ln.split()[0]) for ln in text.splitlines()
                         if "active channel" in ln), -1)
        bridges = sum(1 for ln in sandbox.cli(self.settings, "bridge show all").splitlines()
                      if re.match(r"[0-9a-f-]{36}\s", ln))
        return {"channels": channels, "bridges": bridges}

    # shutdown ---------------------------------------------------------------------------------
    def close(self) -> None:
        with self.lock:
            self.closing = True
        for caller in self.callers:
            stop_group(caller)
        if self.token and self.serve is not None and self.serve.poll() is None:
            for number, _ in self.agents:
                with contextlib.suppress(httpx.HTTPError):
                    self.http("POST", f"/api/v1/agents/{number}/state",
                              json={"state": "logged_out"})
        for proc in self.phones:
            stop_group(proc, wait=5)
        if self.ami is not None:
            self.ami.stop()
        if self.serve is not None:  # Ctrl-C: serve ends its calls cleanly
            stop_group(self.serve, sig=signal.SIGINT, wait=30)
        if sandbox.is_running(self.settings):
            self.forget_contacts()
        if self.started_pbx:
            with contextlib.suppress(Exception):
                sandbox.stop(self.settings, say=self.say)


# --- figures from the database --------------------------------------------------------------
def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


async def read_figures(db_url: str, sip_ids: list[str], ami: AmiWatch | None,
                       centers: dict[int, str]) -> dict[str, Any]:
    from sqlalchemy import select

    from app.db.models import Agent, AgentLeg, CallRecord, CallStep, QueueEntry
    from app.db.session import Database

    db = Database(db_url)
    try:
        async with db.session() as session:
            records = {r.sip_call_id: r for r in await session.scalars(
                select(CallRecord).where(CallRecord.sip_call_id.in_(sip_ids)))}
            call_ids = [r.id for r in records.values()]
            entries = list(await session.scalars(
                select(QueueEntry).where(QueueEntry.call_id.in_(call_ids))))
            open_entries = list(await session.scalars(
                select(QueueEntry).where(QueueEntry.left_at.is_(None))))
            legs = list(await session.scalars(
                select(AgentLeg).where(AgentLeg.call_id.in_(call_ids)).order_by(AgentLeg.id)))
            steps = list(await session.scalars(
                select(CallStep).where(CallStep.call_id.in_(call_ids),
                                       CallStep.kind.in_(("enqueue", "agent_ring")))
                .order_by(CallStep.call_id, CallStep.seq)))
            agent_center = {a.id: a.center_id for a in await session.scalars(select(Agent))}
    finally:
        await db.dispose()
    enqueued: dict[str, float] = {}
    rung: dict[str, float] = {}
    for s in steps:
        target = enqueued if s.kind == "enqueue" else rung
        target.setdefault(s.call_id, _epoch(s.at))  # the first of each per call
    first_leg: dict[str, AgentLeg] = {}
    for one in legs:
        first_leg.setdefault(one.call_id, one)
    app_ms = [(rung[c] - t) * 1000 for c, t in enqueued.items() if c in rung]
    # Busy from ring to the end of wrap-up; an entry found a free agent when some agent of
    # its own center was not busy at that moment: its ring latency is the distributor's own.
    busy: dict[int, list[tuple[float, float]]] = {}
    for leg in legs:
        end = _epoch(leg.end_at) + (leg.wrap_up_seconds or 0) if leg.end_at else float("inf")
        busy.setdefault(leg.agent_id, []).append((_epoch(leg.ring_at), end))
    free_ms: list[float] = []
    for e in entries:
        t = enqueued.get(e.call_id)
        if t is None or e.call_id not in rung:
            continue
        if any(all(not (a <= t <= b) for a, b in busy.get(agent, []))
               for agent, center in agent_center.items() if center == e.center_id):
            free_ms.append((rung[e.call_id] - t) * 1000)
    chan_ms: list[float] = []
    ring_ms: list[float] = []
    if ami is not None:
        for c, t in enqueued.items():
            channel = first_leg[c].channel_id if c in first_leg else None
            if channel in ami.created:
                chan_ms.append((ami.created[channel] - t) * 1000)
            if channel in ami.ringing:
                ring_ms.append((ami.ringing[channel] - t) * 1000)
    results = Counter(str(e.result.value if e.result else "open") for e in entries)
    overflowed = Counter(f"{centers.get(e.overflow_from_center_id or 0, '?')}->"
                         f"{centers.get(e.overflow_to_center_id or 0, '?')}"
                         for e in entries if e.overflow_to_center_id is not None)
    return {
        "records": len(records), "entries": len(entries),
        "connected": results.get("connected", 0), "queue_results": dict(results),
        "overflowed": dict(overflowed),
        "wait_s": spread([e.wait_seconds for e in entries if e.wait_seconds is not None]),
        "enqueue_to_ring_ms": {"app_steps": spread(app_ms), "agent_channel": spread(chan_ms),
                               "phone_ringing": spread(ring_ms),
                               "app_steps_agent_free": spread(free_ms)},
        "agent_legs": dict(Counter(str(leg.result.value if leg.result else "open")
                                   for leg in legs)),
        "open_entries": len(open_entries),
        "records_not_ended": sum(1 for r in records.values() if r.ended_at is None),
    }


async def center_names(db_url: str) -> dict[int, str]:
    from sqlalchemy import select

    from app.db.models import Center
    from app.db.session import Database

    db = Database(db_url)
    try:
        async with db.session() as session:
            return {c.id: c.name for c in await session.scalars(select(Center))}
    finally:
        await db.dispose()


# --- main -----------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=40, help="softphone agents (default 40)")
    parser.add_argument("--callers", type=int, default=120,
                        help="callers placed over the duration (default 120)")
    parser.add_argument("--duration", type=float, default=120.0, metavar="SECONDS",
                        help="seconds over which the callers arrive, evenly (default 120)")
    parser.add_argument("--talk", type=float, default=8.0, metavar="SECONDS",
                        help="the agent hangs up this long after answering (default 8)")
    parser.add_argument("--answer-after", type=float, default=1.0, metavar="SECONDS",
                        help="each phone rings this long before answering (default 1)")
    parser.add_argument("--patience", type=float, default=180.0, metavar="SECONDS",
                        help="a caller hangs up this long after pressing 0 unless the "
                        "platform ended the call first (default 180)")
    parser.add_argument("--no-notice", action="store_true",
                        help="callers hear no recording notice (HOTLINE_RECORDING_NOTICE=0); "
                        "with it (the default) agents are rung while it plays and the caller "
                        "is connected once it has been heard")
    parser.add_argument("--centers", default="北京,上海,太原",
                        help="centers the agents and callers are spread over, round-robin "
                        "(default 北京,上海,太原; give 北京 alone to keep overflow out)")
    args = parser.parse_args()
    if args.no_notice:
        os.environ["HOTLINE_RECORDING_NOTICE"] = "0"  # serve inherits it
    args.centers = [c.strip() for c in args.centers.split(",") if c.strip()]
    unknown = [c for c in args.centers if c not in CALLER_OF]
    if unknown:
        parser.error(f"--centers: unknown {unknown}; known: {', '.join(CALLER_OF)}")
    if args.agents < 1 or args.callers < 1 or args.duration <= 0 or args.talk <= 0:
        parser.error("--agents and --callers must be >= 1, --duration and --talk > 0")
    if args.agents > 9999 - FIRST_AGENT + 1:
        parser.error("at most 1999 agents (工号 8001-9999)")
    return args


def run(bench: Bench) -> dict[str, Any]:
    args = bench.args
    bench.start_platform()
    bench.create_agents()
    bench.start_phones(phone_timeout=60 + args.duration + args.patience + 120)
    bench.ami = AmiWatch(bench.settings)
    bench.ami.start()
    assert bench.serve is not None
    serve_pid = bench.serve.pid
    pbx_pid = int(sandbox.pid_file(bench.settings).read_text().strip())

    idle_before = wait_quiet(serve_pid, pbx_pid)
    bench.say(f"placing {args.callers} callers over {args.duration:g} s")
    a0, p0, t0 = tree_cpu(serve_pid), cpu_seconds(pbx_pid), time.monotonic()
    summaries = bench.place_callers()
    live = bench.settle()
    app_cpu, pbx_cpu = tree_cpu(serve_pid) - a0, cpu_seconds(pbx_pid) - p0
    wall = time.monotonic() - t0
    bench.say(f"callers done after {wall:.0f} s; reading the records")
    idle_after = idle_cpu(serve_pid, pbx_pid)
    sip_ids = [i for s in summaries for i in s.get("sip_call_ids", [])]
    db_url = bench.env["HOTLINE_DATABASE_URL"]
    figures = asyncio.run(read_figures(db_url, sip_ids, bench.ami,
                                       asyncio.run(center_names(db_url))))
    completed = sum(int(s.get("completed", 0)) for s in summaries)
    agent_states = Counter(
        a["state"] + (f"({a['reason']})" if a.get("reason") else "")
        for a in bench.http("GET", "/api/v1/agents").json())
    legs = figures.pop("agent_legs")
    return {
        "agents": args.agents, "callers": args.callers, "duration_s": args.duration,
        "talk_s": args.talk, "answer_after_s": args.answer_after,
        "recording_notice": not args.no_notice,
        "centers": args.centers,
        "connected_pct": round(100 * figures.pop("connected") / args.callers, 1),
        **{k: figures.pop(k) for k in ("queue_results", "overflowed", "wait_s",
                                        "enqueue_to_ring_ms")},
        "failed_calls": {"caller_sip_not_completed": args.callers - completed,
                         "caller_no_record": args.callers - figures.pop("records"),
                         "agent_legs": legs},
        "stranded": {"live_calls": live, "open_queue_entries": figures.pop("open_entries"),
                     "records_not_ended": figures.pop("records_not_ended")},
        "cpu_ms_per_call": {"app": round(app_cpu * 1000 / args.callers, 1),
                            "asterisk": round(pbx_cpu * 1000 / args.callers, 1),
                            "wall_s": round(wall, 1),
                            "idle_ms_per_s_before": idle_before,
                            "idle_ms_per_s_after": idle_after},
        "left_after": bench.pbx_left(),
        "agent_states_after": dict(agent_states),
        "softphone_restarts_at_start": bench.phone_restarts,
        "ami": bench.ami.error or "ok",
        "serve_log": str(bench.tmp / "serve.log"),
    }


def run_bench(args: argparse.Namespace, name: str, values: dict[str, str] | None,
              prefix: str, run: Callable[[Bench], dict[str, Any]],
              start_timeout: float | None = None) -> int:
    """Point this process and its children at the instance, run, always clean up, print the
    figures as one JSON line."""
    tmp = Path(tempfile.mkdtemp(prefix=f"hotline-{name}-bench-"))
    env = bench_env(tmp, values, prefix)
    for key in ("HOTLINE_ARI_PASSWORD", "HOTLINE_AMI_SECRET", "HOTLINE_DATABASE_URL"):
        os.environ.pop(key, None)
    os.environ.update({k: v for k, v in env.items() if k.startswith("HOTLINE_")})
    settings = Settings()
    bench = Bench(args, tmp, env, settings, f"http://127.0.0.1:{settings.api_port}")
    if start_timeout is not None:
        bench.start_timeout = start_timeout

    def on_term(*_: Any) -> None:
        raise Stop

    signal.signal(signal.SIGTERM, on_term)
    try:
        figures = run(bench)
    except (KeyboardInterrupt, Stop):
        bench.say("interrupted: stopping what was started")
        return 130
    except Exception as exc:
        bench.say(f"bench failed: {exc!r} (serve log: {tmp / 'serve.log'})")
        return 1
    finally:
        bench.close()
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 0


def main() -> int:
    return run_bench(parse_args(), "acd", None, "HOTLINE_BENCH_", run)

if __name__ == "__main__":
    sys.exit(main())
