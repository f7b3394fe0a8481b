"""The dialplan services (FastAGI in `hotline serve`) in real calls: each route's variables
read back over ARI, a blocked caller, and calls that still reach the menu when the AGI server
is unreachable or its database hangs."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest

from app.core.clock import CST
from app.pbx import sandbox
from app.pbx.secrets import load_credentials
from app.tts.paths import sounds_dir
from tests.integration.ami_client import AmiClient
from tests.integration.conftest import Platform, wait_for

VARIABLES = ("HOTLINE_PRIORITY", "HOTLINE_LANG", "HOTLINE_BLOCKED", "HOTLINE_REPEAT",
             "HOTLINE_OPEN", "HOTLINE_MODE", "HOTLINE_FLOW", "HOTLINE_AGI")
API = "/api/v1/dialplan"


def engineer(platform: Platform, method: str, path: str, **body: Any) -> httpx.Response:
    token = platform.settings.local_token_file.read_text().strip()  # role engineer
    resp = httpx.request(method, platform.api + API + path, json=body or None, timeout=5,
                         headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code < 300 or method == "DELETE", resp.text
    return resp


def ari(platform: Platform) -> httpx.Client:
    password = load_credentials(platform.settings).ari_password
    return httpx.Client(base_url=platform.settings.ari_base_url, timeout=5,
                        auth=(platform.settings.ari_user, password))


def in_stasis(platform: Platform, caller: str, timeout: float = 30) -> dict[str, str]:
    """The dialplan services' variables of the caller's channel once it reached the app."""
    with ari(platform) as client:
        found: list[dict[str, Any]] = []

        def arrived() -> bool:
            found[:] = [c for c in client.get("/channels").json()
                        if c["caller"]["number"] == caller
                        and c["dialplan"]["app_name"] == "Stasis"]
            return bool(found)

        wait_for(arrived, timeout, f"a channel from {caller} in the Stasis app")
        channel = found[0]["id"]
        return {name: client.get(f"/channels/{channel}/variable",
                                 params={"variable": name}).json()["value"]
                for name in VARIABLES}


def calling(platform: Platform, caller: str, *args: str) -> Future[dict[str, Any]]:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(platform.call, "--from", caller, *args)
    pool.shutdown(wait=False)
    return future


def prompts_of(platform: Platform, summary: dict[str, Any]) -> list[str]:
    trace = platform.trace(summary["sip_call_id"])
    return [s["prompt"] for s in trace["steps"] if s["kind"] == "prompt"]


@pytest.fixture(scope="module")
def blocked_prompt(platform: Platform) -> None:
    """The blocklist's message (`hotline prompts build` makes it at setup; made here if the
    shared prompts are older than this catalog)."""
    target = sounds_dir() / "zh" / "caller_blocked.wav"
    if not target.exists():
        from app.tts.catalog import load_catalog

        text = load_catalog().text("caller_blocked", "zh")
        subprocess.run([sys.executable, "-m", "app.cli", "prompts", "say", text, "--lang", "zh",
                        "-o", str(target)], check=True, capture_output=True, env=platform.env())


def hours_excluding_now() -> tuple[str, str]:
    hour = datetime.now(CST).hour
    return ("01:00", "02:00") if hour >= 12 else ("13:00", "14:00")


def test_each_route_sets_its_variables_in_a_real_call(platform: Platform) -> None:
    caller = "13912340001"
    first = calling(platform, caller, "--dtmf", ",,9", "--hold", "6")
    before = in_stasis(platform, caller)
    assert first.result(timeout=120)["ok"]
    assert before == {"HOTLINE_PRIORITY": "0", "HOTLINE_LANG": "zh", "HOTLINE_BLOCKED": "0",
                      "HOTLINE_REPEAT": "0", "HOTLINE_OPEN": "1", "HOTLINE_MODE": "normal",
                      "HOTLINE_FLOW": "hotline", "HOTLINE_AGI": "ok"}
    today = datetime.now(CST).date().isoformat()
    opens, closes = hours_excluding_now()
    try:
        engineer(platform, "PUT", f"/special-passengers/{caller}", note="wheelchair")
        engineer(platform, "PUT", "/routes/12306", flow="test-variant")
        engineer(platform, "PUT", "/periods/agi-test-peak", kind="peak", first_day=today,
                 last_day=today, opens=opens, closes=closes)
        second = calling(platform, caller, "--hold", "8")
        after = in_stasis(platform, caller)
        summary = second.result(timeout=120)
    finally:
        engineer(platform, "DELETE", f"/special-passengers/{caller}")
        engineer(platform, "DELETE", "/routes/12306")
        engineer(platform, "DELETE", "/periods/agi-test-peak")
    assert after == {"HOTLINE_PRIORITY": "1", "HOTLINE_LANG": "en", "HOTLINE_BLOCKED": "0",
                     "HOTLINE_REPEAT": "1", "HOTLINE_OPEN": "0", "HOTLINE_MODE": "peak",
                     "HOTLINE_FLOW": "test-variant", "HOTLINE_AGI": "ok"}
    assert prompts_of(platform, summary)[:1] == ["after_service"], "the number's menu variant"


def test_a_blocked_caller_hears_its_message_and_is_hung_up(
        platform: Platform, blocked_prompt: None) -> None:
    caller = "13912340002"
    ami = AmiClient(platform.settings, events="dialplan")
    try:
        engineer(platform, "PUT", f"/blocklist/{caller}", reason="harassing calls")
        summary = platform.call("--from", caller, "--hold", "20")
        hits = {b["number"]: b["hits"] for b in engineer(platform, "GET", "/blocklist").json()}
    finally:
        engineer(platform, "DELETE", f"/blocklist/{caller}")
        ami.close()
    assert summary["answered"] and summary["hung_up_by"] == "hotline", summary
    channel = next(e["Channel"] for e in ami.events("Newexten")
                   if e.get("Context") == "hotline-blocked")
    steps = [(e["Application"], e.get("AppData", "")) for e in ami.events("Newexten")
             if e["Channel"] == channel and e.get("Context") == "hotline-blocked"]
    assert steps == [("Answer", ""),
                     ("Playback", "/var/lib/asterisk/sounds/hotline/zh/caller_blocked"),
                     ("Hangup", "21")]
    assert any(e.get("Variable") == "PLAYBACKSTATUS" and e.get("Value") == "SUCCESS"
               for e in ami.events("VarSet") if e["Channel"] == channel), "message played"
    assert platform.get("/api/v1/calls/recent", sip_call_id=summary["sip_call_id"]).json() == []
    assert hits[caller] == 1


def rendered_with(platform: Platform, **changes: Any) -> None:
    # The platform's own database: the agents' SIP accounts are rendered with the dialplan.
    settings = platform.settings.model_copy(
        update={**changes, "database_url": platform.db_url})
    sandbox.render_config(settings)
    sandbox.cli(settings, "dialplan reload")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def test_calls_reach_the_menu_when_the_agi_server_is_unreachable(platform: Platform) -> None:
    caller = "13912340003"
    rendered_with(platform, agi_port=closed_port())
    try:
        call = calling(platform, caller, "--hold", "4")
        got = in_stasis(platform, caller)
        summary = call.result(timeout=120)
    finally:
        rendered_with(platform)
    assert got["HOTLINE_AGI"] == "unreachable"
    assert got["HOTLINE_FLOW"] == "hotline" and got["HOTLINE_BLOCKED"] == "0"
    assert prompts_of(platform, summary)[:1] == ["welcome"]


def hold_writes(platform: Platform) -> Callable[[], None]:
    """Hold the platform's SQLite database for writing, so that every write to it waits (in
    WAL mode reads go on); the returned function lets go."""
    conn = sqlite3.connect(platform.db_url.removeprefix("sqlite:///"), timeout=20,
                           isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM lookup_failures WHERE id < 0")
    held = [True]

    def release() -> None:
        if held[0]:
            conn.execute("COMMIT")
            conn.close()
            held[0] = False

    return release


def test_calls_reach_the_menu_when_the_database_hangs(platform: Platform) -> None:
    # A blocked caller's profile writes (the blocklist's hit counter): that write hangs.
    caller = "13912340004"
    engineer(platform, "PUT", f"/blocklist/{caller}", reason="harassing calls")
    ami = AmiClient(platform.settings, events="dialplan")
    write_lock = hold_writes(platform)
    try:
        call = calling(platform, caller, "--hold", "4")
        wait_for(lambda: any(e.get("Variable") == "HOTLINE_AGI" and e.get("Value") == "default"
                             and e.get("CallerIDNum") == caller for e in ami.events("VarSet")),
                 30, "the caller profile answered with its defaults")
        write_lock()  # before the app opens the call's record (a write too)
        got = in_stasis(platform, caller)
        summary = call.result(timeout=120)
    finally:
        write_lock()
        ami.close()
        engineer(platform, "DELETE", f"/blocklist/{caller}")
    assert got["HOTLINE_BLOCKED"] == "0", "unsure: the caller is served as anyone"
    assert prompts_of(platform, summary)[:1] == ["welcome"]
    assert "AGI caller_profile for channel" in platform.log.read_text()
    assert platform.get("/healthz").json()["agi"]["defaulted"] >= 1
