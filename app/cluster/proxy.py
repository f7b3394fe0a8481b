"""The cluster's SIP proxy: Kamailio's config rendered from docker/kamailio/kamailio.cfg.

Passengers' calls are spread round-robin over the nodes that answer the proxy's OPTIONS probes;
agents register with the proxy (their HA1s read from the `sip_subscribers` view) and every node
rings them through it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from app.acd.identity import SIP_REALM
from app.config import REPO_ROOT
from app.pbx.render import render_text

TEMPLATE = REPO_ROOT / "docker" / "kamailio" / "kamailio.cfg"
NODES_SET = 1  # the dispatcher set of the media nodes


class ProxyError(RuntimeError):
    pass


def kamailio_db_url(url: str) -> str:
    """Kamailio's form (postgres://user:password@host:port/db) of the platform's database URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ProxyError("the cluster's nodes and SIP proxy share one PostgreSQL database: set "
                         "HOTLINE_DATABASE_URL=postgresql://user:password@host:port/db "
                         "(or let `hotline cluster run --local-postgres` start one)")
    user = parsed.username or "postgres"
    secret = f":{parsed.password}" if parsed.password else ""
    host = parsed.host or "127.0.0.1"
    port = parsed.port or 5432
    return f"postgres://{user}{secret}@{host}:{port}/{parsed.database or 'postgres'}"


@dataclass
class ProxyConfig:
    listen: str
    port: int
    nodes: list[tuple[str, int]]  # each media node's SIP address
    db_url: str  # the platform's URL; converted for Kamailio
    ping_interval: int = 2  # seconds between OPTIONS probes of each node
    reply_timeout_ms: int = 2000  # a node silent this long is down
    children: int = 2
    extra: dict[str, str] = field(default_factory=dict)

    def values(self, dispatcher_list: Path) -> dict[str, str]:
        return {
            "LISTEN": self.listen,
            "PORT": str(self.port),
            "CHILDREN": str(self.children),
            "DB_URL": kamailio_db_url(self.db_url),
            "DISPATCHER_LIST": str(dispatcher_list),
            "PING_INTERVAL": str(self.ping_interval),
            "REPLY_TIMEOUT_MS": str(self.reply_timeout_ms),
            "REALM": SIP_REALM,
        } | self.extra


def dispatcher_list(nodes: list[tuple[str, int]]) -> str:
    lines = ["# set destination flags priority attributes: the media nodes, written by the "
             "platform"]
    lines += [f"{NODES_SET} sip:{host}:{port} 0 0 node={i}"
              for i, (host, port) in enumerate(nodes, start=1)]
    return "\n".join(lines) + "\n"


def render(config: ProxyConfig, folder: Path) -> Path:
    """kamailio.cfg and dispatcher.list into folder; returns the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    listing = folder / "dispatcher.list"
    listing.write_text(dispatcher_list(config.nodes))
    cfg = folder / "kamailio.cfg"
    text = render_text(TEMPLATE.name, TEMPLATE.read_text(), config.values(listing))
    # The database password is in it: the owner only.
    cfg.touch(mode=0o600)
    cfg.chmod(0o600)
    cfg.write_text(text)
    return cfg


def binary() -> str:
    found = shutil.which("kamailio") or ("/usr/sbin/kamailio"
                                         if Path("/usr/sbin/kamailio").exists() else None)
    if found is None:
        raise ProxyError("Kamailio is not installed: apt-get install kamailio "
                         "kamailio-postgres-modules (the setup does this)")
    return found


def check(cfg: Path) -> None:
    """Kamailio's own check of the rendered config."""
    done = subprocess.run([binary(), "-c", "-f", str(cfg)], capture_output=True, text=True)
    if done.returncode:
        raise ProxyError(f"Kamailio refused {cfg}:\n{done.stderr.strip()[-2000:]}")


def command(cfg: Path) -> list[str]:
    """Kamailio in the foreground, logging to stderr, its runtime files beside its config."""
    folder = cfg.parent
    (folder / "run").mkdir(exist_ok=True)
    return [binary(), "-f", str(cfg), "-DD", "-E", "-P", str(folder / "kamailio.pid"),
            "-Y", str(folder / "run"), "-w", str(folder), "-m", "64", "-M", "8"]
