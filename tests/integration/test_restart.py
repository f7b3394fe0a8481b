"""Asterisk goes away under a running `hotline serve` and comes back."""

from __future__ import annotations

import concurrent.futures
import re
import subprocess
import sys
from pathlib import Path

from app.config import Settings
from app.pbx import sandbox
from tests.integration.conftest import Platform, wait_for


def mounts_left_by(settings: Settings) -> list[str]:
    """Mounts under the PBX root seen by any process other than another instance's Asterisk
    (an instance's /proc and /dev mounts live in its own namespace, gone with it)."""
    other_instance = re.compile(rf"/srv/hotline/(?!{re.escape(settings.instance)}/)")
    found = []
    for info in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            text = info.read_text()
            cmdline = (info.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if other_instance.search(cmdline):
            continue
        found += [line for line in text.splitlines() if f" {settings.root}/" in line]
    return found


def asterisk_of(settings: Settings) -> bool:
    conf = f"/srv/hotline/{settings.instance}/etc/asterisk.conf"
    return subprocess.run(["pgrep", "-f", conf]).returncode == 0


def pbx_status() -> int:
    return subprocess.run([sys.executable, "-m", "app.cli", "pbx", "status"],
                          capture_output=True).returncode


def test_restart_asterisk_health_goes_503_then_200_and_calls_work(platform: Platform) -> None:
    settings = platform.settings
    assert pbx_status() == 0
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        cut = pool.submit(platform.call, "--hold", "30", "--timeout", "40")
        wait_for(lambda: any(c["active"] for c in platform.get("/api/v1/calls/recent").json()),
                 20, "a caller in the menu")
        sandbox.stop(settings)
        cut_off = cut.result(timeout=60)
    try:
        assert not sandbox.is_running(settings)
        assert pbx_status() == 1
        assert mounts_left_by(settings) == [], "no mount left behind"
        assert not asterisk_of(settings)
        wait_for(lambda: platform.health() == 503, 10, "/healthz 503 while Asterisk is down")
        body = platform.get("/healthz").json()
        assert body["ari"]["connected"] is False and body["status"] == "degraded"
    finally:
        sandbox.start(settings)  # later tests need it, whatever failed above
    recovered = wait_for(lambda: platform.health() == 200, 15, "/healthz 200 again")
    summary = platform.call("--to", "12300", "--dtmf", "7", "--hold", "1")
    assert summary["ok"], summary
    assert platform.trace(summary["sip_call_id"])["digits"] == "7"
    assert recovered < 15
    # The caller cut off by the PBX's restart is not counted as hanging up in the menu.
    record = platform.record(cut_off["sip_call_id"])
    assert (record["outcome"], record["ended_by"]) == ("pbx_restart", "pbx_restart")
