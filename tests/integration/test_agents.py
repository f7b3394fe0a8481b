"""Agents on the real PBX: a SIP account created while it runs, digest auth, feature codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.pbx import sandbox
from tests.integration.agent_phone import feature_code, register
from tests.integration.conftest import Platform, wait_for

HUNG_UP = "hung up by the platform"


def hotline(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                          text=True, env=platform.env(), timeout=60)


def state(platform: Platform, number: str) -> str:
    resp = platform.get(f"/api/v1/agents/{number}")
    assert resp.status_code == 200, resp.text
    return str(resp.json()["state"])


def hotline_calls(platform: Platform) -> int:
    recent = platform.get("/api/v1/calls/recent").json()
    return sum(1 for c in recent if c["called"] == platform.settings.hotline_number)


def test_agent_created_while_the_pbx_runs_registers_and_uses_feature_codes(
        platform: Platform, tmp_path: Path) -> None:
    settings = platform.settings
    pbx_pid = sandbox.pid_file(settings).read_text()
    number, password = "7301", "it-pass-7301"
    assert register(settings, number, password, tmp_path / "before") == "403", \
        "no account before the agent exists"

    made = hotline(platform, "agents", "create", number, "--name", "测试坐席", "--center", "北京",
                   "--skills", "ticket:5", "--password", password)
    assert made.returncode == 0, made.stderr
    assert "SIP accounts reloaded in the PBX" in made.stdout
    assert register(settings, number, password, tmp_path / "ok") == "200"
    assert register(settings, number, "wrong-pass-1", tmp_path / "bad") in ("401", "403")

    assert state(platform, number) == "logged_out"
    assert feature_code(settings, number, password, "*21", tmp_path / "login") == HUNG_UP
    wait_for(lambda: state(platform, number) == "ready", 10, "agent ready after *21")
    assert feature_code(settings, number, password, "*23", tmp_path / "pause") == HUNG_UP
    wait_for(lambda: state(platform, number) == "paused", 10, "agent paused after *23")
    assert platform.get(f"/api/v1/agents/{number}").json()["reason"] == "小休"
    assert feature_code(settings, number, password, "*24", tmp_path / "ready") == HUNG_UP
    wait_for(lambda: state(platform, number) == "ready", 10, "agent ready after *24")

    # Any other number from an agent phone is not in service: it never reaches the hotline.
    before = hotline_calls(platform)
    assert feature_code(settings, number, password, settings.hotline_number,
                        tmp_path / "hotline") == HUNG_UP
    assert hotline_calls(platform) == before
    assert feature_code(settings, number, password, "*22", tmp_path / "logout") == HUNG_UP
    wait_for(lambda: state(platform, number) == "logged_out", 10, "agent logged out after *22")

    off = hotline(platform, "agents", "disable", number)
    assert off.returncode == 0, off.stderr
    assert register(settings, number, password, tmp_path / "disabled") == "403"
    assert sandbox.pid_file(settings).read_text() == pbx_pid, "Asterisk was not restarted"


def test_passengers_still_reach_the_menu_beside_agents(platform: Platform) -> None:
    summary = platform.call("--hold", "1")
    assert summary["answered"]
    record = platform.record(summary["sip_call_id"])
    assert record["outcome"] == "hung_up_in_menu"
    assert "prompt" in [s["kind"] for s in record["steps"]]
