"""The agent desk in a real headless Chromium over the data API alone (no PBX): the login with
工号 and password, the state buttons and the language switch."""

from __future__ import annotations

import secrets

from playwright.sync_api import Page, expect

from app.acd.agents import create_agent
from app.db.session import Database
from tests.browser import PageErrors, WebApp, in_thread


def desk_agent(web_app: WebApp, name: str) -> tuple[str, str]:
    """An agent 坐席 (its API user has the same password): (工号, password)."""
    number = str(300000 + secrets.randbelow(600000))
    password = secrets.token_urlsafe(10)

    async def make() -> None:
        db = Database(web_app.db_url)
        async with db.session() as session:
            await create_agent(session, number, name=name, center="北京",
                               skills={"ticket": 5}, password=password)
            await session.commit()
        await db.dispose()

    in_thread(make)
    return number, password


def test_the_desk_refuses_a_wrong_password_then_works_in_chinese_and_english(
        page: Page, web_app: WebApp, page_errors: PageErrors) -> None:
    number, password = desk_agent(web_app, "王芳")
    page_errors.allowed.append("401")  # the wrong password's answer shows in the console
    page.goto(f"{web_app.url}/desk")
    expect(page.locator("form.login")).to_be_visible()
    web_app.login(page, number, "not-the-password")
    expect(page.locator("form.login .error")).to_have_text("工号或密码错误")
    expect(page.locator("#desk")).to_be_hidden()
    web_app.login(page, number, password)
    expect(page.locator("#agent-name")).to_have_text("王芳")
    expect(page.locator("#agent-no")).to_have_text(number)
    expect(page.locator("#state")).to_have_text("已退出")
    expect(page.locator("#pop-empty")).to_have_text("暂无来电")
    expect(page.locator("#pop-fields")).to_be_hidden()
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#btn-hangup")).to_be_disabled()  # no call: no call controls
    expect(page.locator("#wo-save")).to_be_disabled()
    # The page holds no API token: the session cookie is HttpOnly.
    assert "hotline_session" not in page.evaluate("document.cookie")

    page.click("#btn-ready")
    expect(page.locator("#state")).to_have_text("就绪")
    page.select_option("#pause-reason", "用餐")
    page.click("#btn-pause")
    expect(page.locator("#state")).to_have_text("暂停 · 用餐")
    state = web_app_state(web_app, number)
    assert state == ("paused", "用餐")

    page.click("[data-lang-switch]")
    expect(page.locator("header h1")).to_have_text("Agent desk")
    expect(page.locator("#state")).to_have_text("Paused · Meal")
    expect(page.locator("#btn-ready")).to_have_text("Ready")
    expect(page.locator("#pop-empty")).to_have_text("No call")
    page.click("#btn-exit")
    expect(page.locator("#state")).to_have_text("Logged out")
    assert web_app_state(web_app, number) == ("logged_out", None)


def web_app_state(web_app: WebApp, number: str) -> tuple[str, str | None]:
    from app.acd.states import agent_snapshot

    async def read() -> tuple[str, str | None]:
        db = Database(web_app.db_url)
        async with db.session() as session:
            [snap] = await agent_snapshot(session, number)
        await db.dispose()
        return snap.state.value, snap.reason

    return in_thread(read)
