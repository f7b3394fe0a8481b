"""The pages in a real headless Chromium: the API docs without internet, the login."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser import PageErrors, WebApp, cut_off_internet


def test_the_api_docs_show_every_route_with_the_internet_cut_off(
        page: Page, web_app: WebApp) -> None:
    refused = cut_off_internet(page)
    page.goto(f"{web_app.url}/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/session" in [p.replace("\u200b", "") for p in paths]
    assert len(paths) > 20
    assert refused == []  # nothing was even asked of the internet


def test_a_user_logs_in_with_a_password_switches_to_english_and_logs_out(
        page: Page, web_app: WebApp, page_errors: PageErrors) -> None:
    name, password = web_app.user("qa")
    page_errors.allowed.append("401")  # the wrong password's answer shows in the console
    page.goto(web_app.url)
    expect(page.locator("form.login")).to_be_visible()
    web_app.login(page, name, "not-the-password")
    expect(page.locator("form.login .error")).to_have_text("工号或密码错误")
    web_app.login(page, name, password)
    expect(page.locator("#who")).to_have_text(name)
    expect(page.locator("header h1")).to_have_text("铁路客服热线")
    page.click("[data-lang-switch]")
    expect(page.locator("header h1")).to_have_text("Railway hotline")
    page.reload()  # the login and the language both outlive a reload
    expect(page.locator("#who")).to_have_text(name)
    expect(page.locator("header h1")).to_have_text("Railway hotline")
    page.click("[data-logout]")
    expect(page.locator("form.login")).to_be_visible()
