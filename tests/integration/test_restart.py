"""Asterisk goes away under a running `hotline serve` and comes back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.pbx import sandbox
from tests.integration.conftest import Platform, wait_for


def mounts_under(root: Path) -> list[str]:
    found = []
    for info in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            text = info.read_text()
        except OSError:
            continue
        found += [line for line in text.splitlines() if f" {root}/" in line]
    return found


def pbx_status() -> int:
    return subprocess.run([sys.executable, "-m", "app.cli", "pbx", "status"],
                          capture_output=True).returncode


def test_restart_asterisk_health_goes_503_then_200_and_calls_work(platform: Platform) -> None:
    settings = platform.settings
    assert pbx_status() == 0
    sandbox.stop(settings)
    assert not sandbox.is_running(settings)
    assert pbx_status() == 1
    assert mounts_under(settings.root) == [], "no mount left behind"
    assert subprocess.run(["pgrep", "-f", "/usr/sbin/asterisk"]).returncode == 1
    wait_for(lambda: platform.health() == 503, 10, "/healthz 503 while Asterisk is down")
    body = platform.get("/healthz").json()
    assert body["ari"]["connected"] is False and body["status"] == "degraded"

    sandbox.start(settings)
    recovered = wait_for(lambda: platform.health() == 200, 15, "/healthz 200 again")
    summary = platform.call("--to", "12300", "--dtmf", "7", "--hold", "1")
    assert summary["ok"], summary
    assert platform.trace(summary["sip_call_id"])["digits"] == "7"
    assert recovered < 15
