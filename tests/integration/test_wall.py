"""The supervisor wallboard on the real PBX: its WebSocket follows a real caller's wait, and a
supervisor's softphone listens in on (then barges into) an agent's call."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from websockets.sync.client import connect

from app.pbx import sandbox
from tests.integration.conftest import Platform, wait_for
from tests.integration.test_acd import (
    agent,
    agent_view,
    hotline,
    phone,
    phone_result,
    release,
    set_state,
)


@pytest.fixture(autouse=True)
def clean(platform: Platform) -> Iterator[None]:
    yield
    release(platform)


class WallStream:
    """The wallboard's WebSocket, read on a thread."""

    def __init__(self, platform: Platform) -> None:
        url = platform.api.replace("http://", "ws://") + "/api/v1/wall/ws"
        self.ws = connect(f"{url}?token={platform.supervisor_token}", open_timeout=10)
        self.messages: list[dict[str, Any]] = []
        self.tiles: dict[tuple[str, str], dict[str, Any]] = {}
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):
            for raw in self.ws:
                message = json.loads(raw)
                for kind in ("queues", "centers"):  # an update carries the changed tiles
                    self.tiles.update({(kind, t["key"]): t for t in message[kind]})
                self.messages.append(message)

    def tile(self, kind: str, key: str) -> dict[str, Any]:
        """The tile as the screen shows it now."""
        return self.tiles[(kind, key)]

    def first(self, kind: str, key: str) -> dict[str, Any]:
        return next(t for t in self.messages[0][kind] if t["key"] == key)

    def close(self) -> None:
        self.ws.close()


def post(platform: Platform, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(platform.api + path, json=body, timeout=15,
                      headers={"Authorization": f"Bearer {platform.supervisor_token}"})


def test_the_wallboard_socket_counts_a_real_caller_waiting_then_abandoning(
        platform: Platform) -> None:
    number = agent(platform, "7601", "ticket:5")
    phone(platform, number, "--timeout", "60")
    set_state(platform, number, "ready")
    set_state(platform, number, "paused")  # logged in, not ready: the caller has to wait
    stream = WallStream(platform)
    try:
        wait_for(lambda: bool(stream.messages), 10, "the snapshot")
        assert stream.messages[0]["kind"] == "wall.snapshot"
        before = stream.first("queues", "general")
        center_before = stream.first("centers", "北京")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            caller = pool.submit(platform.call, "--dtmf", "0", "--hold", "12")
            wait_for(lambda: stream.tile("queues", "general")["waiting"]
                     == before["waiting"] + 1, 30, "the caller counted as waiting")
            assert stream.messages[-1]["kind"] == "wall.update"
            assert stream.tile("centers", "北京")["waiting"] == center_before["waiting"] + 1
            caller.result(timeout=60)
        wait_for(lambda: stream.tile("queues", "general")["waiting"] == before["waiting"],
                 20, "the caller gone from the waiting")
        after = stream.tile("queues", "general")
        assert after["abandoned"] == before["abandoned"] + 1
        assert after["offered"] == before["offered"] + 1
        # The grid shows the paused agent with its reason.
        [row] = [a for a in stream.messages[0]["agents"] if a["number"] == number]
        assert (row["state"], row["reason"], row["center"]) == ("paused", "小休", "北京")
    finally:
        stream.close()
    snapshot = platform.get("/api/v1/wall").json()
    assert snapshot["kind"] == "wall.snapshot"
    assert {t["key"]: t for t in snapshot["queues"]}["general"]["abandoned"] \
        == after["abandoned"]


def snoops(platform: Platform) -> list[str]:
    text = sandbox.cli(platform.settings, "core show channels concise")
    return [line for line in text.splitlines() if line.startswith("Snoop/")]


def bridge_sizes(platform: Platform) -> list[int]:
    """How many channels each bridge on the PBX holds."""
    text = sandbox.cli(platform.settings, "bridge show all")
    # Columns: Bridge-ID (36), Name (36), Chans (5), Type, Technology, Duration.
    return [int(m.group(1)) for line in text.splitlines()
            if (m := re.match(r"[0-9a-f-]{36} .{36} +(\d+) ", line))]


def talking_channel(platform: Platform, number: str) -> str:
    with sqlite3.connect(platform.db_url.removeprefix("sqlite:///")) as db:
        [(channel,)] = db.execute(
            "select l.channel_id from agent_legs l join agents a on a.id = l.agent_id "
            "where a.number = ? and l.answer_at is not null and l.end_at is null",
            (number,)).fetchall()
    return str(channel)


def monitored(platform: Platform, number: str) -> Any:
    rows = platform.get("/api/v1/wall").json()["agents"]
    return next(r for r in rows if r["number"] == number)["monitored"]


def test_a_supervisor_phone_listens_in_then_barges_into_an_agents_call(
        platform: Platform) -> None:
    number = agent(platform, "7611", "ticket:5")
    supervisor_phone = agent(platform, "7619", "ticket:1")  # stays logged out: no queue calls
    assert post(platform, f"/api/v1/agents/{number}/listen",
                {"agent": supervisor_phone}).status_code == 409  # not on a call
    agent_phone = phone(platform, number, "--answer-after", "1", "--hold", "30",
                        "--timeout", "90")
    sup = phone(platform, supervisor_phone, "--answer-after", "1", "--hold", "6",
                "--calls", "2", "--timeout", "90")
    set_state(platform, number, "ready")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        caller = pool.submit(platform.call, "--dtmf", "0", "--hold", "45")
        wait_for(lambda: agent_view(platform, number)["state"] == "on_call", 30, "on the call")
        resp = post(platform, f"/api/v1/agents/{number}/listen", {"agent": supervisor_phone})
        assert resp.status_code == 202, resp.text
        assert resp.json()["mode"] == "listen" and resp.json()["state"] == "ringing"
        # The supervisor's phone answers: a snoop on the agent's channel, the agent marked.
        wait_for(lambda: bool(snoops(platform)), 15, "a snoop")
        # Snoop/<uniqueid of the spied channel>-N: the agent's leg of this call.
        assert snoops(platform)[0].startswith(f"Snoop/{talking_channel(platform, number)}-")
        wait_for(lambda: monitored(platform, number) is not None, 5, "the agent marked")
        assert monitored(platform, number)["mode"] == "listen"
        # The supervisor hangs up: the snoop goes, the mark too.
        wait_for(lambda: not snoops(platform) and monitored(platform, number) is None, 20,
                 "listening over")
        resp = post(platform, f"/api/v1/agents/{number}/barge",
                    {"endpoint": f"PJSIP/agent-{supervisor_phone}"})
        assert resp.status_code == 202, resp.text
        # Barging joins the call's own bridge: caller, agent and supervisor.
        wait_for(lambda: 3 in bridge_sizes(platform), 15, "the supervisor in the call's bridge")
        assert monitored(platform, number)["mode"] == "barge"
        result = phone_result(sup)
        assert result["ok"] and [c["answered"] for c in result["calls"]] == [True, True]
        assert phone_result(agent_phone)["ok"]
        caller.result(timeout=60)


def web_user(platform: Platform, role: str) -> tuple[str, str]:
    name, password = f"wall-{role}-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    assert hotline(platform, "users", "create", name, "--role", role).returncode == 0
    made = hotline(platform, "users", "password", name, "--password", password)
    assert made.returncode == 0, made.stderr
    return name, password


def test_the_wall_page_shows_a_real_caller_waiting_and_the_paused_agent(
        platform: Platform, page: Page) -> None:
    number = agent(platform, "7621", "ticket:5")
    phone(platform, number, "--timeout", "90")
    set_state(platform, number, "ready")
    set_state(platform, number, "paused")  # logged in, not ready: the caller has to wait
    name, password = web_user(platform, "supervisor")
    page.goto(f"{platform.api}/wall")
    page.fill("form.login input[name=username]", name)
    page.fill("form.login input[name=password]", password)
    page.click("form.login button[type=submit]")
    waiting = page.locator('[data-tile="queues:general"] .waiting')
    expect(waiting).to_have_text(re.compile(r"^[0-9]+$"))
    expect(page.locator("#link")).to_have_attribute("data-state", "open")
    before = int(waiting.inner_text())
    expect(page.locator(f'[data-agent="{number}"] td.state')).to_have_text("暂停（小休）")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        caller = pool.submit(platform.call, "--dtmf", "0", "--hold", "12")
        expect(waiting).to_have_text(str(before + 1), timeout=30_000)
        expect(page.locator('[data-tile="centers:北京"] .waiting')).not_to_have_text("0")
        caller.result(timeout=60)
    expect(waiting).to_have_text(str(before), timeout=20_000)
    abandoned = page.locator('[data-tile="queues:general"] .abandoned')
    expect(abandoned).not_to_have_text("0")
    page.click("[data-lang-switch]")  # the tiles speak English too
    expect(page.locator('[data-tile="queues:general"] .name')).to_have_text("General general")
