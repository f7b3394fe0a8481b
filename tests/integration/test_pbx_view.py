"""The engineers' live PBX view on the real PBX: real SIP calls listed by the channels,
bridges and queue routes, the AMI event stream filtered by type, and `hotline pbx top` in a
real terminal (tmux)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.integration.conftest import Platform, wait_for
from tests.integration.test_acd import agent, hotline, phone, phone_result, release, set_state
from tests.integration.test_acd import token_of as user_token

ECHO_LINE = "12300"  # the engineers' echo test line: stays up until the caller hangs up


@pytest.fixture(autouse=True)
def clean(platform: Platform) -> Iterator[None]:
    yield
    release(platform)


def engineer_token(platform: Platform) -> str:
    return platform.settings.local_token_file.read_text().strip()


def get(platform: Platform, path: str, token: str | None = None) -> httpx.Response:
    token = engineer_token(platform) if token is None else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(platform.api + path, headers=headers, timeout=10)


def listed(platform: Platform, part: str) -> list[dict[str, Any]]:
    resp = get(platform, f"/api/v1/pbx/{part}")
    assert resp.status_code == 200, resp.text
    return list(resp.json())


def channel_of(platform: Platform, caller: str) -> dict[str, Any] | None:
    return next((c for c in listed(platform, "channels") if c["caller"] == caller), None)


def test_the_channels_route_lists_a_live_call(platform: Platform) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(platform.call, "--to", ECHO_LINE, "--from", "13911112222",
                           "--hold", "12")
        wait_for(lambda: channel_of(platform, "139****2222") is not None, 30,
                 "the call among the channels")
        wait_for(lambda: (channel_of(platform, "139****2222") or {})["duration_seconds"] >= 2,
                 10, "the call's duration counting")
        channel = channel_of(platform, "139****2222")
        summary = call.result(timeout=60)
    assert channel is not None
    assert channel["id"] == summary["call_id"]  # the caller's channel is the call
    assert channel["name"].startswith("PJSIP/") and channel["state"] == "Up"
    assert channel["exten"] == ECHO_LINE and channel["context"]
    assert channel["app"] == "Stasis"
    assert channel["app_data"].split(",") == [platform.settings.ari_app, "echo"]
    assert channel["bridge_id"] is None and channel["created_at"]
    # Gone once the caller hung up.
    wait_for(lambda: channel_of(platform, "139****2222") is None, 10, "the channel gone")


def test_the_queue_and_bridge_routes_follow_a_caller_to_an_agent(platform: Platform) -> None:
    number = agent(platform, "7701", "ticket:5")
    proc = phone(platform, number, "--answer-after", "1", "--hold", "8", "--timeout", "180")
    set_state(platform, number, "ready")
    set_state(platform, number, "paused")  # logged in, not ready: the caller waits
    caller = "139****3333"

    def waiting() -> dict[str, Any] | None:
        for queue in listed(platform, "queues"):
            for entry in queue["callers"]:
                if entry["caller"] == caller:
                    return {"queue": queue["queue"], **entry}
        return None

    def talk_bridge(call_id: str) -> dict[str, Any] | None:
        return next((b for b in listed(platform, "bridges")
                     if call_id in b["channels"] and len(b["channels"]) == 2), None)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(platform.call, "--from", "13933333333", "--dtmf", "0",
                           "--hold", "40")
        wait_for(lambda: waiting() is not None, 40, "the caller among the queue waits")
        wait_for(lambda: (waiting() or {}).get("wait_seconds", 0) >= 1, 10, "its wait counting")
        entry = waiting()
        assert entry is not None and entry["queue"] == "general" and not entry["priority"]
        call_id = entry["call_id"]
        # While waiting (after the recording notice) the caller is alone in a holding bridge.
        def holding() -> dict[str, Any] | None:
            return next((b for b in listed(platform, "bridges") if call_id in b["channels"]),
                        None)

        wait_for(lambda: holding() is not None, 20, "the caller in its holding bridge")
        alone = holding()
        assert alone is not None and alone["channels"] == [call_id]
        assert alone["type"] == "holding" and alone["bridge_class"] == "stasis"

        set_state(platform, number, "ready")
        wait_for(lambda: talk_bridge(call_id) is not None, 30, "the caller bridged to the agent")
        bridge = talk_bridge(call_id)
        assert bridge is not None and bridge["type"] == "mixing"
        channels = {c["id"]: c for c in listed(platform, "channels")}
        [agent_leg] = [channels[c] for c in bridge["channels"] if c != call_id]
        assert f"agent-{number}" in agent_leg["name"]
        assert channels[call_id]["bridge_id"] == agent_leg["bridge_id"] == bridge["id"]
        assert waiting() is None  # answered: no longer waiting
        answered = phone_result(proc, timeout=200)
        assert answered["ok"], answered
        assert call.result(timeout=60)["hung_up_by"] == "hotline"  # the agent hung up first


def test_only_engineers_and_admins_see_the_pbx(platform: Platform) -> None:
    number = agent(platform, "7702", "ticket:1")
    made = hotline(platform, "users", "create", "it-admin", "--role", "admin", "--token")
    admin = (made.stdout.strip().splitlines()[-1] if made.returncode == 0
             else user_token(platform, "it-admin"))
    for part in ("channels", "bridges", "queues"):
        path = f"/api/v1/pbx/{part}"
        assert get(platform, path).status_code == 200
        assert get(platform, path, admin).status_code == 200
        assert get(platform, path, "").status_code == 401
        for refused in (user_token(platform, number), platform.supervisor_token):
            resp = get(platform, path, refused)
            assert resp.status_code == 403, resp.text
            assert resp.json()["error"]["details"]["admitted_roles"] == ["admin", "engineer"]


def events_url(platform: Platform, query: str) -> str:
    return platform.api.replace("http://", "ws://") + "/api/v1/pbx/events" + query


def close_code(platform: Platform, query: str) -> int | None:
    try:
        with connect(events_url(platform, query), open_timeout=10) as ws:
            ws.recv(timeout=5)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
    return None


def test_the_event_stream_delivers_only_the_types_asked_for(platform: Platform) -> None:
    messages: list[dict[str, Any]] = []
    raw: list[str] = []
    token = engineer_token(platform)
    with connect(events_url(platform, f"?types=Hangup&token={token}"), open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first == {"kind": "pbx.subscribed", "types": ["hangup"], "ami_connected": True}

        def read() -> None:
            with contextlib.suppress(Exception):
                for text in ws:
                    raw.append(str(text))
                    messages.append(json.loads(text))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        summary = platform.call("--to", ECHO_LINE, "--from", "13955556666", "--hold", "2")
        wait_for(lambda: any(m["fields"].get("Uniqueid") == summary["call_id"]
                             for m in messages), 15, "the call's Hangup on the stream")
    reader.join(timeout=5)
    assert {m["kind"] for m in messages} == {"ami.event"}
    assert {m["type"] for m in messages} == {"Hangup"}  # no Newchannel, Newexten, ...
    hangup = next(m for m in messages if m["fields"]["Uniqueid"] == summary["call_id"])
    assert hangup["fields"]["CallerIDNum"] == "139********"  # the passenger's number masked
    assert not any("13955556666" in text for text in raw)
    # Only engineers and admins; the types must be event names.
    agent_token = user_token(platform, agent(platform, "7703", "ticket:1"))
    assert close_code(platform, f"?types=Hangup&token={agent_token}") == 4403
    assert close_code(platform, "?types=Hangup") == 4401
    assert close_code(platform, f"?types=Hang+up!&token={token}") == 4400


def tmux(sock: str, *args: str, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True,
                          env=env, timeout=20, check=check)


def test_pbx_top_in_a_terminal_shows_a_live_call_and_q_quits(platform: Platform,
                                                            tmp_path: Path) -> None:
    assert shutil.which("tmux"), "tmux is needed (scripts/setup.sh installs it)"
    sock = f"hotline-top-{os.getpid()}"  # a tmux server of this test's own
    status = tmp_path / "status"
    command = (f"{sys.executable} -m app.cli pbx top; echo $? > {status}")
    # The terminal's own size, not one a parent process left in COLUMNS/LINES (curses takes
    # those first; parallel test workers have COLUMNS=80).
    env = {k: v for k, v in platform.env().items() if k not in ("COLUMNS", "LINES")}
    tmux(sock, "new-session", "-d", "-s", "top", "-x", "200", "-y", "50", command, env=env)

    def screen() -> str:
        return tmux(sock, "capture-pane", "-p", "-t", "top", check=False).stdout

    try:
        wait_for(lambda: "hotline pbx top" in screen(), 20, "pbx top on the screen")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            call = pool.submit(platform.call, "--to", ECHO_LINE, "--from", "13977778888",
                               "--hold", "12")
            # Seen ringing (Ring) until the app answers it (Up).
            wait_for(lambda: any("139****8888" in line and " Up " in line
                                 for line in screen().splitlines()), 30,
                     "the call's channel, answered, in pbx top")
            [row] = [line for line in screen().splitlines() if "139****8888" in line]
            assert "PJSIP/" in row and "Up" in row and "Stasis(" in row
            assert f"/{ECHO_LINE}" in row
            wait_for(lambda: any("139****8888" in ln and re.search(r" 0:(0[1-9]|[1-5][0-9]) ", ln)
                                 for ln in screen().splitlines()), 10, "the duration counting")
            tmux(sock, "send-keys", "-t", "top", "q")
            wait_for(lambda: status.exists() and status.read_text().strip() != "", 10,
                     "pbx top quit")
            assert status.read_text().strip() == "0"
            call.result(timeout=60)
    finally:
        tmux(sock, "kill-server", check=False)
