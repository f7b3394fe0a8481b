"""The agent desk in a real headless Chromium on the live platform: the agent logs in with 工号
and password, goes ready, a real SIP caller presses 0 for an agent, the agent's real
softphone rings and answers, the screen pop shows what the menu understood, the agent pauses and
resumes the recording, saves a work order against the call and adds a note to it; the agent
puts the caller on hold and back and transfers the call to a second agent from the page."""

from __future__ import annotations

import concurrent.futures
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.integration.conftest import Platform, wait_for
from tests.integration.test_acd import (
    PASSWORD,
    PHONES,
    EventStream,
    agent,
    contacts,
    phone_result,
    release,
    set_state,
    token_of,
)
from tests.integration.test_call_controls import bridges, the_call


def phone(platform: Platform, number: str, *args: str) -> subprocess.Popen[str]:
    """The agent's real softphone (SIPp), registered; given a minute on a busy machine."""
    before = contacts(platform, number)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "softphone", "--agent", number, "--password",
         PASSWORD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=platform.env())
    PHONES.append(proc)  # release() ends it
    wait_for(lambda: bool(contacts(platform, number) - before) or proc.poll() is not None, 60,
             f"agent {number} registered")
    assert proc.poll() is None, proc.communicate()
    return proc


@pytest.fixture(autouse=True)
def clean(platform: Platform) -> Iterator[None]:
    yield
    release(platform)


def log_in_ready(page: Page, platform: Platform, number: str) -> None:
    """The agent logs in on the desk, its event stream opens, and it goes ready."""
    page.goto(f"{platform.api}/desk")
    page.fill("form.login input[name=username]", number)
    page.fill("form.login input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page.locator("#agent-no")).to_have_text(number)
    expect(page.locator("#agent-name")).to_have_text(f"坐席{number}")
    expect(page.locator("#link")).to_have_text("实时连接")  # the event stream is open
    page.click("#btn-ready")
    expect(page.locator("#state")).to_have_text("就绪")


def test_an_agent_takes_a_call_on_the_desk_and_saves_a_work_order(
        page: Page, platform: Platform) -> None:
    number = agent(platform, "7701", "ticket:5")
    softphone = phone(platform, number, "--answer-after", "2", "--hold", "20",
                      "--timeout", "150")
    log_in_ready(page, platform, number)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        calling = pool.submit(platform.call, "--dtmf", "0", "--hold", "60")  # 0: an agent
        # The pop arrives while the phone rings; what the menu learned is on it.
        try:
            expect(page.locator("#pop-path")).to_contain_text("main → agent",
                                                              timeout=120_000)
        except AssertionError:
            summary = calling.result(timeout=180)
            steps = platform.record(summary["sip_call_id"])["steps"]
            raise AssertionError(f"no screen pop; the call: {summary}, its steps: {steps}"
                                 ) from None
        expect(page.locator("#pop-caller")).to_have_text("138****8000")
        expect(page.locator("#pop-intent")).to_have_text("无")  # keys, not words
        expect(page.locator("#pop-queue")).to_have_text("general / ticket")
        expect(page.locator("#pop-recent")).to_contain_text("次")
        expect(page.locator("#pop-language")).to_have_text("中文")
        content = page.locator("#wo-form textarea[name=content]")
        expect(content).to_have_value(re.compile("菜单路径：.*main → agent"))
        expect(page.locator("#state")).to_have_text("通话中", timeout=20_000)
        expect(page.locator("#call-status")).to_have_text("通话中")

        page.click("#btn-rec-pause")
        expect(page.locator("#call-status")).to_have_text("通话中（录音已暂停）")
        page.click("#btn-rec-resume")
        expect(page.locator("#call-status")).to_have_text("通话中")

        page.select_option("#wo-form select[name=type]", "complaint")
        content.fill(content.input_value() + "旅客投诉列车晚点未通知。")
        page.click("#wo-save")
        expect(page.locator("#wo-result")).to_contain_text("已保存 GD")
        expect(page.locator("#wo-list li")).to_have_count(1)
        page.fill("#notes", "已告知旅客三日内回复")
        page.click("#btn-note")
        expect(page.locator("#wo-result")).to_contain_text("备注已记入 GD")
        # After the agent's phone hangs up: wrap-up with its countdown, then ready again.
        expect(page.locator("#wrapup")).to_contain_text("话后处理", timeout=40_000)
        expect(page.locator("#state")).to_have_text("就绪", timeout=20_000)
        expect(page.locator("#call-status")).to_have_text("已结束")
        expect(page.locator("#btn-hangup")).to_be_disabled()
        summary = calling.result(timeout=120)
    assert phone_result(softphone)["ok"]

    orders = platform.get("/api/v1/work-orders", call_id=summary["call_id"]).json()["items"]
    assert [(w["type"], w["caller_number"]) for w in orders] == [("complaint", "138****8000")]
    assert "旅客投诉列车晚点未通知" in orders[0]["content"]
    assert re.search("菜单路径：.*main → agent", orders[0]["content"])
    detail = platform.get(f"/api/v1/work-orders/{orders[0]['id']}").json()
    assert [e["note"] for e in detail["events"] if e["action"] == "comment"] == [
        "已告知旅客三日内回复"]
    assert {e["actor"] for e in detail["events"]} == {number}
    wait_for(lambda: platform.get(f"/api/v1/agents/{number}").json()["state"] == "ready", 10,
             "agent ready after wrap-up")
    page.click("#btn-exit")
    expect(page.locator("#state")).to_have_text("已退出")


def test_the_agent_holds_unholds_and_transfers_to_a_second_agent_from_the_desk(
        page: Page, platform: Platform) -> None:
    first = agent(platform, "7703", "ticket:5")
    second = agent(platform, "7704", "refund_change:5")
    one = phone(platform, first, "--answer-after", "1", "--timeout", "150")
    two = phone(platform, second, "--answer-after", "1", "--hold", "4", "--timeout", "150")
    log_in_ready(page, platform, first)
    stream = EventStream(platform, first, token_of(platform, first))
    hold, unhold = page.locator("#btn-hold"), page.locator("#btn-unhold")
    status = page.locator("#call-status")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        calling = pool.submit(platform.call, "--dtmf", "0", "--hold", "90")  # 0: an agent
        expect(status).to_have_text("通话中", timeout=120_000)
        expect(hold).to_be_enabled()
        expect(unhold).to_be_disabled()
        call_id = the_call(platform)

        page.click("#btn-hold")
        expect(status).to_have_text("保持中")
        expect(hold).to_be_disabled()
        expect(unhold).to_be_enabled()
        # The caller alone with music in a holding bridge, the agent alone in the talk bridge.
        assert bridges(platform) == [(1, "holding"), (1, "mixing")], bridges(platform)
        wait_for(lambda: "call.held" in stream.kinds(), 10, "the held event")

        page.click("#btn-unhold")
        expect(status).to_have_text("通话中")
        expect(hold).to_be_enabled()
        expect(unhold).to_be_disabled()
        assert bridges(platform) == [(2, "mixing")], bridges(platform)
        wait_for(lambda: "call.unheld" in stream.kinds(), 10, "the unheld event")

        set_state(platform, second, "ready")
        page.select_option("#transfer-kind", "agent")
        page.fill("#transfer-target", second)
        page.click("#btn-transfer")
        expect(status).to_have_text("已转接")
        expect(page.locator("#btn-hangup")).to_be_disabled()  # the call left this desk
        summary = calling.result(timeout=120)
    stream.close()
    assert summary["call_id"] == call_id
    # The second agent's real phone rang and answered: the caller talked to it.
    assert phone_result(one)["ok"] and phone_result(two)["ok"]
    record = platform.record(summary["sip_call_id"])
    legs = [(leg["agent"], leg["result"], leg["kind"], leg["transfer"],
             leg["transferred_to_agent"], leg["from_agent"], leg["hold_count"])
            for leg in record["agent_legs"]]
    assert legs == [(first, "answered", "queue", "blind", second, None, 1),
                    (second, "answered", "transfer", None, None, first, 0)]
    assert any(m["kind"] == "call.transferred" and m["to_agent"] == second
               for m in stream.messages)
