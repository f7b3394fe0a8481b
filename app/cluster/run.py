"""A local cluster on this machine: one SIP proxy, N media nodes, one shared PostgreSQL.

Node k (1-based) is a platform instance of its own, `<instance>-nk`: its own PBX and
`hotline serve`, every port 10·k above this instance's, its share of the RTP range. The proxy
takes this instance's SIP port: callers and agents' phones use it as they would one node.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from app.cluster import proxy
from app.config import Settings

PORTS = ("SIP_PORT", "ARI_PORT", "AMI_PORT", "API_PORT", "PASSENGER_PORT", "AGI_PORT")
PORT_STEP = 10  # node k's ports: this instance's + 10·k (an instance's ports lie 50 apart)
MAX_NODES = 4
RESTART_AFTER = 30.0  # a node's app that dies sooner than this after its start is not restarted


class ClusterError(RuntimeError):
    pass


@dataclass
class Node:
    number: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0  # monotonic time of the last start of its app

    @property
    def name(self) -> str:
        return self.env["HOTLINE_INSTANCE"]

    @property
    def sip_port(self) -> int:
        return int(self.env["HOTLINE_SIP_PORT"])

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['HOTLINE_API_PORT']}"

    def settings(self) -> Settings:
        """This node's settings, as its `hotline serve` has them."""
        fields = Settings.model_fields
        given = {k[len("HOTLINE_"):].lower(): v for k, v in self.env.items()
                 if k.startswith("HOTLINE_") and k[len("HOTLINE_"):].lower() in fields}
        return Settings.model_validate(given)

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@dataclass
class Cluster:
    base: Settings
    nodes_count: int
    db_url: str
    folder: Path  # logs and the proxy's config
    ping_interval: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    proxy_proc: subprocess.Popen[bytes] | None = None
    proxy_cfg: Path | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.nodes_count <= MAX_NODES:
            raise ClusterError(f"--nodes must be 1 to {MAX_NODES}")
        proxy.kamailio_db_url(self.db_url)  # PostgreSQL, or a clear error now
        self.nodes = [Node(k, self.node_env(k), self.folder / f"node-{k}.log")
                      for k in range(1, self.nodes_count + 1)]

    @property
    def proxy_port(self) -> int:
        return self.base.sip_port

    def node_env(self, k: int) -> dict[str, str]:
        base = self.base
        ports = {"SIP_PORT": base.sip_port, "ARI_PORT": base.ari_port, "AMI_PORT": base.ami_port,
                 "API_PORT": base.api_port, "PASSENGER_PORT": base.passenger_port,
                 "AGI_PORT": base.agi_port}
        share = (base.rtp_end - base.rtp_start + 1) // self.nodes_count // 2 * 2
        instance = f"{base.instance}-n{k}"
        env = {k2: v for k2, v in os.environ.items() if not k2.startswith("HOTLINE_")}
        env |= {f"HOTLINE_{name}": v for name, v in self._inherited().items()}
        env |= {f"HOTLINE_{name}": str(port + PORT_STEP * k) for name, port in ports.items()}
        env |= {
            "HOTLINE_INSTANCE": instance,
            "HOTLINE_STATE_DIR": str(base.state_dir / "instances" / instance),
            "HOTLINE_PBX_ROOT": str(base.root),
            "HOTLINE_RTP_START": str(base.rtp_start + share * (k - 1)),
            "HOTLINE_RTP_END": str(base.rtp_start + share * k - 1),
            "HOTLINE_DATABASE_URL": self.db_url,
            "HOTLINE_SIP_PROXY": f"127.0.0.1:{self.proxy_port}",
        }
        return env | self.extra_env

    def _inherited(self) -> dict[str, str]:
        """This process's HOTLINE_ settings a node keeps (all but those each node has its own)."""
        own = {*PORTS, "INSTANCE", "STATE_DIR", "PBX_ROOT", "RTP_START", "RTP_END",
               "DATABASE_URL", "SIP_PROXY", "ARI_PASSWORD", "AMI_SECRET"}
        return {k[len("HOTLINE_"):]: v for k, v in os.environ.items()
                if k.startswith("HOTLINE_") and k[len("HOTLINE_"):] not in own}

    # --- start and stop ---------------------------------------------------------------------
    def start(self, demo_data: bool = False, progress: IO[str] = sys.stdout,
              timeout: float = 420) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._say(progress, f"database {proxy.kamailio_db_url(self.db_url).split('@')[-1]}: "
                            "schema" + (" and demo data" if demo_data else ""))
        self.prepare_database(demo_data)
        for node in self.nodes:
            self._say(progress, f"node {node.number} ({node.name}): PBX SIP :{node.sip_port}, "
                                f"API {node.api}, log {node.log}")
            self.start_node(node)
        try:
            deadline = time.monotonic() + timeout
            for node in self.nodes:
                self.wait_healthy(node, deadline)
            self._say(progress, f"SIP proxy on 127.0.0.1:{self.proxy_port} "
                                f"(dispatcher over {len(self.nodes)} nodes)")
            self.start_proxy()
        except BaseException:
            self.stop()
            raise
        self._say(progress, "cluster up: call 12306 at "
                            f"sip:12306@127.0.0.1:{self.proxy_port}")

    @staticmethod
    def _say(progress: IO[str], text: str) -> None:
        print(f"cluster: {text}", file=progress, flush=True)

    def prepare_database(self, demo_data: bool) -> None:
        from app.db.session import Database
        from app.server import prepare_database

        # The schema once, before any node starts (two nodes migrating at once would race).
        settings = self.base.model_copy(update={"database_url": self.db_url})

        async def run() -> None:
            db = Database(self.db_url)
            try:
                await prepare_database(settings, db, demo_data)
            finally:
                await db.dispose()

        asyncio.run(run())

    def start_node(self, node: Node) -> None:
        node.started = time.monotonic()
        with node.log.open("ab") as fh:
            node.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--with-pbx"],
                stdout=fh, stderr=subprocess.STDOUT, env=node.env, start_new_session=True)

    def wait_healthy(self, node: Node, deadline: float) -> None:
        while not node.healthy():
            if node.proc is not None and node.proc.poll() is not None:
                raise ClusterError(f"node {node.number} exited ({node.proc.returncode}); "
                                   f"its log:\n{node.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise ClusterError(f"node {node.number} not healthy in time; see {node.log}")
            time.sleep(0.5)

    def start_proxy(self) -> None:
        config = proxy.ProxyConfig("127.0.0.1", self.proxy_port,
                                   [("127.0.0.1", n.sip_port) for n in self.nodes],
                                   self.db_url, ping_interval=self.ping_interval)
        self.proxy_cfg = proxy.render(config, self.folder / "proxy")
        proxy.check(self.proxy_cfg)
        log = self.folder / "proxy.log"
        with log.open("ab") as fh:
            self.proxy_proc = subprocess.Popen(proxy.command(self.proxy_cfg), stdout=fh,
                                               stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(0.5)
        if self.proxy_proc.poll() is not None:
            raise ClusterError(f"the SIP proxy exited; its log:\n{log.read_text()[-3000:]}")

    def stop_node(self, node: Node, timeout: float = 60) -> int | None:
        """Ctrl-C, as an operator would: serve drains, stops its PBX and exits."""
        if node.proc is None or node.proc.poll() is not None:
            return node.proc.returncode if node.proc is not None else None
        node.proc.send_signal(signal.SIGINT)
        try:
            return node.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.proc.pid, signal.SIGKILL)
            return node.proc.wait(10)

    def stop(self) -> None:
        if self.proxy_proc is not None and self.proxy_proc.poll() is None:
            self.proxy_proc.terminate()
            try:
                self.proxy_proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proxy_proc.kill()
                self.proxy_proc.wait(5)
        for node in self.nodes:
            self.stop_node(node)

    def run_until_stopped(self) -> int:
        """Foreground until Ctrl-C or SIGTERM, then stop everything. A node's app that dies is
        started again; the proxy dying, or an app dying again at once, stops the cluster."""
        stop = {"requested": False}

        def request(signum: int, frame: object) -> None:
            stop["requested"] = True

        signal.signal(signal.SIGTERM, request)
        signal.signal(signal.SIGINT, request)
        code = 0
        try:
            while not stop["requested"]:
                dead = [n for n in self.nodes if n.proc is not None and n.proc.poll() is not None]
                if self.proxy_proc is not None and self.proxy_proc.poll() is not None:
                    print("cluster: the SIP proxy exited; stopping", file=sys.stderr)
                    code = 1
                    break
                for node in dead:
                    # Its PBX stays up with the calls: a new `hotline serve` adopts them (the
                    # proxy meanwhile sends new calls to the other nodes: 503 from this one).
                    if time.monotonic() - node.started < RESTART_AFTER:
                        print(f"cluster: node {node.number}'s app exited again within "
                              f"{RESTART_AFTER:.0f} s; stopping (see {node.log})",
                              file=sys.stderr)
                        stop["requested"], code = True, 1
                        break
                    print(f"cluster: node {node.number}'s app exited "
                          f"({node.proc.returncode if node.proc else '?'}); restarting it",
                          file=sys.stderr, flush=True)
                    self.start_node(node)
                time.sleep(0.5)
        finally:
            print("cluster: stopping", flush=True)
            self.stop()
        return code
