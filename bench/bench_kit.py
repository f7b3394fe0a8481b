"""What the soak and crash-recovery benches share beyond acd_load (Bench, run_bench): their own
instance's environment, the PBX's view over ARI, the database's open records and memory."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from acd_load import Bench

from app.config import Settings
from app.pbx.secrets import load_credentials


def instance(name: str, sip: int, ari: int, ami: int, api: int,
             rtp: tuple[int, int]) -> dict[str, str]:
    """A PBX instance of the bench's own (state under /var/lib/hotline/instances/<name>)."""
    return {"INSTANCE": name, "STATE_DIR": f"/var/lib/hotline/instances/{name}",
            "PBX_ROOT": "/var/lib/hotline/pbx-root", "SIP_PORT": str(sip),
            "ARI_PORT": str(ari), "AMI_PORT": str(ami), "API_PORT": str(api),
            "RTP_START": str(rtp[0]), "RTP_END": str(rtp[1])}


def placed(summary: dict[str, Any]) -> tuple[list[str], int]:
    """SIP call ids and completed calls of a `hotline call` summary (one call's summary has
    sip_call_id and ok, several calls' sip_call_ids and completed)."""
    if "sip_call_ids" in summary:
        return [str(i) for i in summary["sip_call_ids"]], int(summary.get("completed", 0))
    one = summary.get("sip_call_id")
    return ([str(one)] if one else []), int(bool(summary.get("ok")))


def ari(settings: Settings, path: str) -> Any:
    creds = load_credentials(settings)
    resp = httpx.get(f"{settings.ari_base_url}/{path}", timeout=5,
                     auth=(settings.ari_user, creds.ari_password))
    resp.raise_for_status()
    return resp.json()


def stasis_channels(settings: Settings) -> list[dict[str, Any]]:
    """Channels in our Stasis app, each with its Stasis arguments under "args"."""
    found = []
    for channel in ari(settings, "channels"):
        plan = channel.get("dialplan") or {}
        if plan.get("app_name") != "Stasis":
            continue
        app, *args = str(plan.get("app_data", "")).split(",")
        if app == settings.ari_app:
            found.append({**channel, "args": [a for a in args if a]})
    return found


def rows(bench: Bench, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    path = bench.env["HOTLINE_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return list(db.execute(sql, args))


def open_records(bench: Bench) -> dict[str, int]:
    """Records the platform still holds open: none once every call has ended."""
    count: Callable[[str], int] = lambda sql: int(rows(bench, sql)[0][0])  # noqa: E731
    return {"calls_not_ended": count("select count(*) from calls where ended_at is null"),
            "queue_entries_open": count(
                "select count(*) from queue_entries where left_at is null"),
            "agent_legs_open": count("select count(*) from agent_legs where end_at is null")}


def rss_mb(pid: int) -> float | None:
    """Resident memory of one process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def tree_rss_mb(pid: int) -> float | None:
    """Resident memory of a process and its children (serve's speech workers, if any)."""
    total = rss_mb(pid)
    if total is None:
        return None
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                total += rss_mb(int(stat.parent.name)) or 0.0
        except (OSError, IndexError, ValueError):
            continue
    return round(total, 1)


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
